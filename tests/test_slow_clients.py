"""Slow clients (a header or a body a byte every few seconds) hold no thread: with 24 of them
connected, other visitors are still answered within 5 s, on the embedded default and in
Azure mode (gunicorn with azureproject.buffering_worker). Each visitor has its own loopback
address; every loop here is bounded in count and time."""

import socket
import threading
import time
from pathlib import Path

import pytest

from azureproject.buffering_worker import request_complete
from tests.helpers import AZURE_HOST
from tests.services import app_server, base_env, http_request, manage

SLOW_SECONDS = 3.0  # between two bytes
HTTPS = {"Host": AZURE_HOST, "X-Forwarded-Proto": "https"}


def trickle(port: int, source: str, opening: bytes, stop: threading.Event) -> None:
    """Send `opening`, then one byte every SLOW_SECONDS, until stopped or cut off."""
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0)
        ) as sock:
            sock.sendall(opening)
            for _ in range(20):  # at most a minute
                if stop.wait(SLOW_SECONDS):
                    return
                sock.sendall(b"a")
    except OSError:
        return  # the server closed it: what it should do, in time


def answered_in_time(url: str, headers: dict[str, str], *, probes: int = 10) -> int:
    on_time = 0
    for _ in range(probes):
        start = time.monotonic()
        try:
            status, _, _ = http_request(url, headers=headers, timeout=5, source="127.0.0.99")
            on_time += status < 500 and time.monotonic() - start < 5
        except OSError:
            pass  # timed out
        time.sleep(0.5)
    return on_time


def under_slow_clients(port: int, url: str, headers: dict[str, str], host: str) -> int:
    """How many of 10 requests from another visitor are answered within 5 s while 12 clients
    trickle a header and 12 trickle a body."""
    stop = threading.Event()
    slow_header = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()
    slow_body = (
        f"POST /restaurant/new/ HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    clients = [
        threading.Thread(
            target=trickle,
            args=(port, f"127.0.0.{30 + n}", slow_header if n % 2 else slow_body, stop),
            daemon=True,
        )
        for n in range(24)
    ]
    for client in clients:
        client.start()
    try:
        time.sleep(2 * SLOW_SECONDS)  # every slow client has sent its first bytes and more
        return answered_in_time(url, headers)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)


def test_slow_clients_hold_no_thread_on_the_embedded_default(tmp_path: Path) -> None:
    env = base_env(SQLITE_PATH=str(tmp_path / "db.sqlite3"), MEDIA_ROOT=str(tmp_path / "m"))
    assert manage("migrate", "--noinput", env=env).returncode == 0
    with app_server(env, tmp_path / "server.log", gunicorn_only=True) as server:
        port = int(server.url.rsplit(":", 1)[1])
        assert under_slow_clients(port, server.url + "/", {}, "127.0.0.1") >= 9
    assert "Traceback" not in server.log()


def test_slow_clients_hold_no_thread_in_azure_mode(tmp_path: Path) -> None:
    """Azure mode's settings (nothing contacted: the probe asks for a static file)."""
    env = base_env(
        WEBSITE_HOSTNAME=AZURE_HOST,
        SECRET_KEY="x" * 20 + "-a-long-random-looking-value-for-the-test-0123456789",
        DBHOST="127.0.0.1",
        DBPORT="9",
        DBNAME="restaurant",
        DBUSER="my-identity",
        STORAGE_ACCOUNT_NAME="myaccount",
        AZURE_CLIENT_ID="11111111-0000-4000-8000-00000000c11e",
        WEB_CONCURRENCY="3",
    )
    with app_server(env, tmp_path / "server.log", gunicorn_only=True) as server:
        port = int(server.url.rsplit(":", 1)[1])
        url = server.url + "/static/css/site.css"
        assert http_request(url, headers=HTTPS)[0] == 200
        assert under_slow_clients(port, url, HTTPS, AZURE_HOST) >= 9
    assert "Traceback" not in server.log()


@pytest.mark.parametrize(
    ("data", "complete"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n", False),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc", False),
        (b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\nabcde", True),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", False),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", True),
        (b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n", None),
        (b"POST / HTTP/1.1\r\nContent-Length: nope\r\n\r\n", True),
        (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000, True),
    ],
)
def test_a_request_is_held_until_it_is_whole(data: bytes, complete: bool | None) -> None:
    assert request_complete(data) is complete
