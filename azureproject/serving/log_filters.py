"""A client's mistake is one WARNING line; a server fault stays an ERROR with its traceback.

Django logs a suspicious request (a bad Host header, a path outside the media folder, too many
fields) at ERROR with a full traceback, and a malformed one (a broken multipart body) with its
traceback too: twenty tracebacks from one round of probes, against no real 500."""

import logging

# Characters that end or rearrange a line: C0 and C1 controls, DEL, the Unicode line and
# paragraph separators, and the bidi controls that can make one line read as another.
_ESCAPES = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (
        *range(0x20),
        *range(0x7F, 0xA0),
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
    )
}


def one_line(text: str) -> str:
    """`text` with every character that could break or disguise a log line escaped."""
    return text.translate(_ESCAPES)


class OneLineFormatter(logging.Formatter):
    """Each record's message on one line, its control characters escaped (a client chose
    them: a path, a header, a name); a traceback still follows on the lines after it."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = one_line(record.message)
        return super().formatMessage(record)


class ClientErrorFilter(logging.Filter):
    """On the stdout handler: records of `django.security.*`, and of `django.request` for a
    4xx answer, become one WARNING line without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.name.startswith("django.security") or (
            record.name == "django.request" and isinstance(status, int) and status < 500
        ):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


# The telemetry exporter's and OpenTelemetry's own loggers.
TELEMETRY_LOGGERS = ("azure.monitor.opentelemetry", "opentelemetry")


class TelemetryRateLimitFilter(logging.Filter):
    """On the stdout handler: the telemetry exporter complains about each batch it could not
    send (ingestion down, the token refused); one such line every `seconds` is enough."""

    def __init__(self, seconds: float = 300) -> None:
        super().__init__()
        self.seconds = seconds
        self._last: float | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(TELEMETRY_LOGGERS):
            return True
        if self._last is not None and record.created - self._last < self.seconds:
            return False
        self._last = record.created
        record.exc_info = record.exc_text = None  # one line, in the background
        return True


class OwnTelemetryFilter(logging.Filter):
    """On the telemetry handler, the last one: the exporter's own logs are not exported by the
    exporter, and the request Django attaches to its records is sent as its method and path
    (an object telemetry cannot carry)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith(TELEMETRY_LOGGERS):
            return False
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            record.request = f"{getattr(request, 'method', '')} {getattr(request, 'path', '')}"
        return True
