"""Error pages that must render even when the database is down."""

import sys

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template import loader
from django.views.decorators.http import require_safe
from django.views.static import serve

from azureproject.errors import OUTAGES


def outage_response() -> HttpResponse:
    # Rendered without the request: no context processor may touch the session (the database).
    response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = "30"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage raised outside a view is still a 503."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OUTAGES):
        return outage_response()
    return HttpResponse(loader.render_to_string("500.html"), status=500)


@require_safe
def serve_media(request: HttpRequest, path: str) -> HttpResponseBase:
    """Embedded default only: uploaded photos from MEDIA_ROOT (Blob Storage serves its own)."""
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT))
    response["Cache-Control"] = settings.PHOTO_CACHE_CONTROL
    return response
