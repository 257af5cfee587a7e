"""WSGI entry point for gunicorn (`azureproject.wsgi`).

Django is set up first (its LOGGING configured), then telemetry, if
APPLICATIONINSIGHTS_CONNECTION_STRING is set (azureproject.telemetry), and only then the WSGI
handler, whose middleware the Django instrumentation must see.
"""

import os

import django
from django.core.handlers.wsgi import WSGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "azureproject.settings")
django.setup(set_prefix=False)

from azureproject.telemetry import configure_telemetry  # noqa: E402  (needs Django set up)

configure_telemetry(os.environ)
application = WSGIHandler()
