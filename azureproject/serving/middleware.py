"""Middleware for running on App Service: the health probe and dependency outages."""

import logging
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.template import loader
from django.utils.log import log_response

from azureproject.config import request_body_limit
from azureproject.errors import OUTAGES, DependencyUnavailable
from azureproject.health import HEALTH_PATH, WARMUP_PATH, health_response
from azureproject.views import outage_response
from restaurant_review.photos import megabytes_text

logger = logging.getLogger(__name__)


class HealthCheckMiddleware:
    """Answer the platform's health probe and warm-up ping first: their Host header is the
    instance's internal address, which ALLOWED_HOSTS rightly does not list."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method in {"GET", "HEAD"}:
            if request.path_info == HEALTH_PATH:
                return health_response()
            if request.path_info == WARMUP_PATH:
                return HttpResponseNotFound(b"", content_type="text/plain")
        return self.get_response(request)


def request_size_limit() -> int:
    """Bodies above this are refused before they are read (azureproject.config)."""
    return request_body_limit(settings.PHOTO_MAX_BYTES)


class RequestSizeLimitMiddleware:
    """413 for a request body far larger than any form here accepts, before it is read."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = request_size_limit()
        if length > limit:
            body = loader.render_to_string(
                "413.html", {"limit_mb": megabytes_text(settings.PHOTO_MAX_BYTES)}
            )
            response = HttpResponse(body, status=413)
            # One WARNING line (Django's request logger then leaves this response alone).
            log_response(
                "Refused a %s-byte request to %s (limit %s)",
                length,
                request.path,
                limit,
                response=response,
                request=request,
                logger=logger,
                level="warning",
            )
            return response
        return self.get_response(request)


class MethodNotAllowedPageMiddleware:
    """A 405 from require_safe / require_POST (an empty body) gets a page in the site's layout,
    keeping its Allow header. Django's request logger has already logged it as a warning."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if response.status_code == 405 and not response.streaming and not response.content:
            response.content = loader.render_to_string("405.html", request=request)
            response["Content-Type"] = "text/html; charset=utf-8"
        return response


class PermissionsPolicyMiddleware:
    """Turn off browser features the site never uses, for it and anything that embeds it."""

    POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", self.POLICY)
        return response


class DependencyOutageMiddleware:
    """A view that cannot reach the database or storage answers 503, not a 500 traceback."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OUTAGES):
            return None
        if not isinstance(exception, DependencyUnavailable):
            # Our own errors were logged with their cause where they were raised.
            logger.error("Database error on %s %s: %s", request.method, request.path, exception)
        return outage_response()
