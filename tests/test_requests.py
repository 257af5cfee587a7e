"""Requests refused early (security headers kept), the 503 page during an outage, and log lines no
request can forge."""

import logging
from http import HTTPStatus
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test import Client
from pytest_django.asserts import assertContains

from tests.helpers import upload
from tests.views_helpers import INDEX, review_url

pytestmark = pytest.mark.django_db


def test_database_outage_shows_503_page(client: Client, make_restaurant: Any) -> None:
    make_restaurant()

    def fail(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(fail):
        response = client.get(INDEX)
    assertContains(
        response, "Temporarily unavailable (503)", status_code=HTTPStatus.SERVICE_UNAVAILABLE
    )
    assert response["Retry-After"] == "30"


SECURITY_HEADERS = ("Content-Security-Policy", "X-Frame-Options", "Permissions-Policy")


def test_early_refusals_carry_the_security_headers(
    client: Client, make_restaurant: Any, settings: Any
) -> None:
    """The 413 (refused before the body is read) and a bad Host's 400 are answered before most
    middleware runs; they still get CSP, X-Frame-Options and Permissions-Policy."""
    settings.PHOTO_MAX_BYTES = 1024  # so the request limit is just over 1 MB
    too_large = client.post(
        review_url(make_restaurant()), {"photo": upload("h.png", b"\0" * 2 * 1024 * 1024)}
    )
    bad_host = client.get("/", headers={"host": "evil.example"})
    assert (too_large.status_code, bad_host.status_code) == (413, 400)
    for response in (too_large, bad_host):
        assert all(response.has_header(name) for name in SECURITY_HEADERS), response.headers
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


def test_control_characters_from_a_request_cannot_forge_a_log_line(
    client: Client, settings: Any, stdout_log: Any
) -> None:
    """A path with %0a, logged by the 413 middleware (and by Django's request logger for a
    404), stays on its one line."""
    settings.PHOTO_MAX_BYTES = 1024  # so the request limit is just over 1 MB
    forged = "/x%0a2026-12-02 12:00:00,000 ERROR forged.logger 1: injected%0d%e2%80%ae"
    too_large = client.post(forged, {"photo": upload("h.png", b"\0" * 2 * 1024 * 1024)})
    assert too_large.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert client.get(forged).status_code == HTTPStatus.NOT_FOUND
    lines = stdout_log()
    assert not any(line.startswith("2026-12-02 12:00:00,000 ERROR forged") for line in lines)
    refused = [line for line in lines if "Refused a" in line]
    assert len(refused) == 1 and "injected" in refused[0], lines
    assert "\u202e" not in refused[0] and "\r" not in refused[0]
    not_found = [line for line in lines if "Not Found" in line]
    assert len(not_found) == 1 and "injected" in not_found[0], lines


def test_every_log_record_is_one_line_whatever_its_arguments(stdout_log: Any) -> None:
    """Not only the request loggers: any record's message has its control characters escaped
    by the stdout handler's formatter; a traceback still follows on lines of its own."""
    logger = logging.getLogger("restaurant_review.views")
    logger.warning("Name %s", "Bob\n2026-12-02 ERROR forged: x\u2028y\x1b[31m")
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("Failed for %s", "a\rb")
    lines = stdout_log()
    assert lines[0].endswith("Name Bob\\x0a2026-12-02 ERROR forged: x\\u2028y\\x1b[31m")
    assert lines[1].endswith("Failed for a\\x0db")
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"
