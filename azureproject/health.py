"""The health endpoint App Service's health check polls: cheap, JSON, 200 or 503."""

import json
import logging
from typing import TYPE_CHECKING, Any, cast

from django.core.files.storage import storages
from django.db import DatabaseError, connection
from django.http import HttpResponse

from azureproject.errors import DependencyUnavailable

if TYPE_CHECKING:
    from azureproject.storage import AzureBlobPhotoStorage

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
# App Service's warm-up request when a container starts; any answer will do.
WARMUP_PATH = "/robots933456.txt"


# Storage is checked at most this often: health probes come every minute from every instance.
STORAGE_CHECK_SECONDS = 60


def check_storage() -> tuple[bool, str]:
    """Whether photo storage is usable: always, on local disk; for Blob Storage, whether the
    container exists and the identity may use it (checked at most once a minute)."""
    storage = storages["default"]
    if not hasattr(storage, "check"):
        return True, "local disk"
    # Only our Blob Storage has a check (not imported here: the Azure SDK stays unloaded on
    # the embedded default).
    storage = cast("AzureBlobPhotoStorage", storage)
    return storage.check(max_age=STORAGE_CHECK_SECONDS)


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DependencyUnavailable, DatabaseError) as exc:
        return False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return True, "ok"


def health_response() -> HttpResponse:
    """{"status": "ok"}, or which parts fail; the details (hosts, roles, identities, URLs)
    go to the log, never to whoever asks. 503 only for the database: a storage outage is not
    a reason for App Service to replace this instance, and browsing works without it."""
    database_ok, database_detail = check_database()
    failing = []
    for name, (ok, detail) in [
        ("database", (database_ok, database_detail)),
        ("storage", check_storage()),
    ]:
        if not ok:
            logger.warning("Health check: %s failing: %s", name, detail)
            failing.append(name)
    body: dict[str, Any] = {"status": "ok" if database_ok else "unavailable"}
    if failing:
        body["failing"] = failing
    response = HttpResponse(
        json.dumps(body), content_type="application/json", status=200 if database_ok else 503
    )
    response["Cache-Control"] = "no-store"
    return response
