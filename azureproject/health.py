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


def storage_report() -> dict[str, Any]:
    """How photos are stored and, for Blob Storage, whether the container is usable.

    Reported, not part of the status: a storage outage is not a reason for App Service to
    replace this instance, and browsing still works without it.
    """
    storage = storages["default"]
    if not hasattr(storage, "check"):
        return {"backend": "local-disk"}
    # Only our Blob Storage has a check (not imported here: the Azure SDK stays unloaded on
    # the embedded default).
    storage = cast("AzureBlobPhotoStorage", storage)
    ok, detail = storage.check(max_age=STORAGE_CHECK_SECONDS)
    return {
        "backend": "azure-blob",
        "account_url": storage.account_url,
        "container": storage.container,
        "url_mode": storage.url_mode,
        "ok": ok,
        "detail": detail,
    }


def check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except (DependencyUnavailable, DatabaseError) as exc:
        return False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return True, "ok"


def health_response() -> HttpResponse:
    database_ok, database_detail = check_database()
    body = {
        "status": "ok" if database_ok else "unavailable",
        "database": {"ok": database_ok, "vendor": connection.vendor, "detail": database_detail},
        "storage": storage_report(),
    }
    if not database_ok:
        logger.warning("Health check failed: %s", database_detail)
    response = HttpResponse(
        json.dumps(body), content_type="application/json", status=200 if database_ok else 503
    )
    response["Cache-Control"] = "no-store"
    return response
