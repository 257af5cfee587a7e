"""WSGI entry point for gunicorn (`azureproject.wsgi`).

Django is set up as this is imported: by gunicorn's master (`preload_app`, gunicorn.conf.py),
whose workers are forked from it and so share the loaded code instead of each importing it
again. Each worker then sets up its own telemetry, if APPLICATIONINSIGHTS_CONNECTION_STRING is
set (azureproject.telemetry: the exporters' threads must be the worker's), and only then builds
the WSGI handler, whose middleware the Django instrumentation must see: `start_worker`, called
by gunicorn's post_worker_init; any other server gets the same on its first request.
"""

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

import django
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "azureproject.settings")
django.setup(set_prefix=False)

from azureproject.telemetry import configure_telemetry  # noqa: E402  (needs Django set up)

_handler: WSGIHandler | None = None
_starting = threading.Lock()


def start_worker() -> WSGIHandler:
    """This process's WSGI handler, made (after its telemetry) on the first call."""
    global _handler
    with _starting:
        if _handler is None:
            configure_telemetry(os.environ)
            _handler = WSGIHandler()
        return _handler


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    return (_handler or start_worker())(environ, start_response)
