"""The health endpoint App Service's health check polls: cheap, JSON, 200 or 503."""

import json
import logging
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpResponse

from azureproject.errors import DependencyUnavailable

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"


def storage_report() -> dict[str, Any]:
    default = settings.STORAGES["default"]
    options = default.get("OPTIONS", {})
    if default["BACKEND"].endswith("AzureBlobPhotoStorage"):
        return {
            "backend": "azure-blob",
            "account_url": options["account_url"],
            "container": options["container"],
            "url_mode": options["url_mode"],
        }
    return {"backend": "local-disk"}


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
