"""A client's mistake is one WARNING line; a server fault stays an ERROR with its traceback.

Django logs a suspicious request (a bad Host header, a path outside the media folder, too many
fields) at ERROR with a full traceback, and a malformed one (a broken multipart body) with its
traceback too: twenty tracebacks from one round of probes, against no real 500."""

import logging


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
