"""Telemetry to Application Insights, authenticated with Microsoft Entra ID.

Only when APPLICATIONINSIGHTS_CONNECTION_STRING is set (never on the embedded default, where
nothing here is even imported): the Azure Monitor OpenTelemetry distro sends request telemetry
for every page, dependency spans for PostgreSQL queries (psycopg) and Blob Storage calls (the
Azure SDK's own tracing), and the app's logs, each correlated with its request. The exporter
gets its tokens (audience https://monitor.azure.com) from the same process-wide credential as
the database and storage, so the resource can have local (key) authentication disabled.

Nothing secret leaves: SAS signatures (`sig=`), tokens (query parameters and anything shaped
like a JWT), passwords and CSRF values in URLs are masked, and cookie, authorization and
identity headers dropped, in every span's name, attributes and events and in every log record
before it is exported (SecretScrubbingSpanProcessor, SecretScrubbingLogRecordProcessor).

The exporter works in the background (batches every few seconds, its own retries and offline
storage), so a request never waits for it: ingestion down or refusing the token costs at most
a warning in the log every few minutes (log_filters.TelemetryRateLimitFilter). It talks to the
ingestion endpoint only: statsbeat, the SDK's control plane, live metrics and the Azure VM
resource detector (which asks a link-local address) are off, and every request is traced,
unless app settings say otherwise (DEFAULTS).
"""

import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)


# Defaults, each of which an app setting of the same name overrides: every request traced (the
# distro would keep 5 traces a second); and none of the exporter's own traffic besides
# ingestion (its statsbeat and control plane, and the VM resource detector's link-local call).
DEFAULTS = {
    "OTEL_TRACES_SAMPLER": "microsoft.fixed_percentage",
    "OTEL_TRACES_SAMPLER_ARG": "1.0",
    "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
    "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
    "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true",
    "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
}

REDACTED = "REDACTED"
# Query parameters (and form-like key=value pairs) whose values are secrets.
_SECRET_PARAMETER = re.compile(
    r"(?i)(?<![\w-])(sig|signature|token|access_token|id_token|refresh_token|code|password|"
    r"secret|client_secret|csrfmiddlewaretoken|csrftoken|sessionid|api[_-]?key)=[^&\s#\"';,]*"
)
# A JSON web token wherever it appears: three base64url parts, the first a JSON header.
_JWT = re.compile(r"eyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]*")
# Attributes (captured headers) that carry credentials or cookies by name.
_SECRET_ATTRIBUTE = re.compile(r"(?i)(cookie|authorization|csrf|x-identity-header|x-api-key)")


def scrub(text: str) -> str:
    """`text` with secret query parameters' values and JWTs replaced by REDACTED."""
    if "=" not in text and "eyJ" not in text:
        return text
    text = _SECRET_PARAMETER.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return _JWT.sub(REDACTED, text)


def _scrub_value(name: str, value: Any) -> Any:
    if _SECRET_ATTRIBUTE.search(name):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return tuple(scrub(v) if isinstance(v, str) else v for v in value)
    return value


def scrub_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {name: _scrub_value(name, value) for name, value in (attributes or {}).items()}


def _span_processor() -> Any:
    from opentelemetry.attributes import BoundedAttributes
    from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor

    class SecretScrubbingSpanProcessor(SpanProcessor):
        """Masks secrets in a finished span before the exporter's batch takes it (it runs
        first). A finished span is read-only through the API, so its name, attributes and
        events are replaced on the span object itself."""

        def on_end(self, span: ReadableSpan) -> None:
            attributes = span.attributes or {}
            span._attributes = BoundedAttributes(
                attributes=scrub_attributes(attributes), immutable=True
            )
            span._name = scrub(span.name)
            if span.events:
                span._events = tuple(
                    Event(event.name, scrub_attributes(event.attributes), event.timestamp)
                    for event in span.events
                )

    return SecretScrubbingSpanProcessor()


def _log_record_processor() -> Any:
    from opentelemetry.sdk._logs import LogRecordProcessor

    class SecretScrubbingLogRecordProcessor(LogRecordProcessor):
        """Masks secrets in a log record's message and attributes (exception text included)
        before the exporter's batch takes it."""

        def on_emit(self, log_record: Any) -> None:
            record = log_record.log_record
            if isinstance(record.body, str):
                record.body = scrub(record.body)
            record.attributes = scrub_attributes(record.attributes)

        def shutdown(self) -> None:
            pass

        def force_flush(self, timeout_millis: int = 30000) -> bool:
            return True

    return SecretScrubbingLogRecordProcessor()


def configure_telemetry(env: Mapping[str, str]) -> bool:
    """Set up Application Insights if its connection string is set; say whether it is.
    Call after django.setup() (so Django's LOGGING does not remove the exporter's handler) and
    before the WSGI handler loads the middleware (so requests are traced)."""
    connection_string = env.get("APPLICATIONINSIGHTS_CONNECTION_STRING", "").strip()
    if not connection_string:
        return False
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)

    from azure.monitor.opentelemetry import configure_azure_monitor
    from django.conf import settings
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    from azureproject.credential import get_credential
    from azureproject.serving.log_filters import ClientErrorFilter, OwnTelemetryFilter

    credential = get_credential(client_id=env.get("AZURE_CLIENT_ID", "").strip() or None)
    configure_azure_monitor(
        connection_string=connection_string,
        credential=credential,
        enable_live_metrics=False,
        span_processors=[_span_processor()],
        log_record_processors=[_log_record_processor()],
    )
    # Django's database backend is psycopg 3, which the distro does not instrument itself.
    PsycopgInstrumentor().instrument(enable_commenter=False)
    # App Service's health probe is answered first, untraced: it comes every minute with the
    # instance's address as Host, which the tracing middleware would log as a bad host.
    health = "azureproject.serving.middleware.HealthCheckMiddleware"
    settings.MIDDLEWARE = [health, *(m for m in settings.MIDDLEWARE if m != health)]
    for handler in logging.getLogger().handlers:
        if isinstance(handler, LoggingHandler):
            # As on stdout: a client's mistake is one warning; and the exporter's own
            # complaints are not sent through the exporter.
            handler.addFilter(ClientErrorFilter())
            handler.addFilter(OwnTelemetryFilter())
    logger.info("Telemetry to Application Insights with %s", credential.describe())
    return True
