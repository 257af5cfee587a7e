"""Error pages that must render even when the database is down."""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader

from azureproject.errors import DependencyUnavailable


def outage_response() -> HttpResponse:
    # Rendered without the request: no context processor may touch the session (the database).
    response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = "30"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: an outage raised outside a view is still a 503."""
    exception = sys.exc_info()[1]
    if isinstance(exception, DependencyUnavailable | OperationalError | InterfaceError):
        return outage_response()
    return HttpResponse(loader.render_to_string("500.html"), status=500)
