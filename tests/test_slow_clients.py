"""Slow clients (a header or a body a byte every few seconds) hold no thread: with 24 of them
connected, other visitors are still answered within 5 s, on the embedded default and in
Azure mode (gunicorn with azureproject.serving.buffering_worker). Each visitor has its own loopback
address; every loop here is bounded in count and time."""

import io
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from azureproject.serving.buffering_worker import request_complete
from localazure.services import (
    app_server,
    base_env,
    http_request,
    manage,
    migrated_sqlite,
    post_form,
    wait_until,
    worker_memory_mb,
    workers_cpu_seconds,
)
from tests.helpers import AZURE_HOST

SLOW_SECONDS = 3.0  # between two bytes
HTTPS = {"Host": AZURE_HOST, "X-Forwarded-Proto": "https"}


def trickle(
    port: int,
    source: str,
    opening: bytes,
    stop: threading.Event,
    going: threading.Semaphore | None = None,
) -> None:
    """Send `opening`, then one byte every SLOW_SECONDS, until stopped or cut off; `going` is
    released once the first of those bytes is sent (or the server has cut the client off)."""
    released = going is None
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0)
        ) as sock:
            sock.sendall(opening)
            for _ in range(20):  # at most a minute
                if stop.wait(SLOW_SECONDS):
                    return
                sock.sendall(b"a")
                if not released and going is not None:
                    going.release()
                    released = True
    except OSError:
        return  # the server closed it: what it should do, in time
    finally:
        if not released and going is not None:
            going.release()


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
    stop, going = threading.Event(), threading.Semaphore(0)
    slow_header = f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode()
    slow_body = (
        f"POST /restaurant/new/ HTTP/1.1\r\nHost: {host}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
    ).encode()
    clients = [
        threading.Thread(
            target=trickle,
            args=(port, f"127.0.0.{30 + n}", slow_header if n % 2 else slow_body, stop, going),
            daemon=True,
        )
        for n in range(24)
    ]
    for client in clients:
        client.start()
    try:
        for _ in clients:  # every slow client has sent its first bytes and more
            assert going.acquire(timeout=60), "a slow client never got going"
        return answered_in_time(url, headers)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)


def test_slow_clients_hold_no_thread_on_the_embedded_default(tmp_path: Path) -> None:
    database = migrated_sqlite(tmp_path / "db.sqlite3")
    env = base_env(SQLITE_PATH=str(database), MEDIA_ROOT=str(tmp_path / "m"))
    with app_server(env, tmp_path / "server.log") as server:
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
    with app_server(env, tmp_path / "server.log") as server:
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


# The second attack round (2 workers on the embedded default, every attacker from its own
# loopback address, every loop bounded).

BIG = 34_000_000  # under the 41 MB body limit (2 x PHOTO_MAX_MB + 1 MB), over the old buffer


@pytest.fixture
def embedded_server(tmp_path: Path) -> Any:
    env = base_env(
        SQLITE_PATH=str(migrated_sqlite(tmp_path / "db.sqlite3")),
        MEDIA_ROOT=str(tmp_path / "m"),
        WEB_CONCURRENCY="2",
        POST_LIMITS="off",
    )
    with app_server(env, tmp_path / "server.log") as server:
        yield server


def port_of(server: Any) -> int:
    return int(server.url.rsplit(":", 1)[1])


def probes_answered(url: str, *, probes: int = 8, within: float = 2.0) -> list[bool]:
    """Whether each of `probes` GETs, one after another, got a 200 within `within` s."""
    answered = []
    for _ in range(probes):
        start = time.monotonic()
        try:
            status, _, _ = http_request(url, timeout=within + 1, source="127.0.0.99")
            answered.append(status == 200 and time.monotonic() - start < within)
        except OSError:
            answered.append(False)
    return answered


def test_slow_large_bodies_and_pipelined_half_requests_hold_no_thread(
    embedded_server: Any,
) -> None:
    """12 clients trickle a 34 MB body and 12 send a request with half of a second one behind
    it, then trickle the rest: every probe is answered within 2 s."""
    stop = threading.Event()
    big_body = (
        "POST /restaurant/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {BIG}\r\n\r\n"
    ).encode()
    pipelined = (
        b"GET /robots.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
    )
    port = port_of(embedded_server)
    clients = [
        threading.Thread(
            target=trickle,
            args=(port, f"127.0.0.{30 + n}", big_body if n % 2 else pipelined, stop),
            daemon=True,
        )
        for n in range(24)
    ]
    for client in clients:
        client.start()
    try:
        # Every client connected and sent its opening before the probes start.
        wait_until(
            lambda: embedded_server.log().count('"GET /robots.txt') >= 12,
            what="the pipelined clients' first requests answered",
        )
        answered = probes_answered(embedded_server.url + "/")
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)
    assert all(answered), answered


def hold_body(
    port: int, source: str, size: int, sent: threading.Event, stop: threading.Event
) -> None:
    """Send headers and all of a `size`-byte body but its last byte, then hold."""
    try:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=30, source_address=(source, 0)
        ) as sock:
            sock.sendall(
                b"POST /restaurant/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                + f"Content-Length: {size}\r\n\r\n".encode()
            )
            block = b"a" * (1024 * 1024)
            for _ in range(size // len(block)):
                sock.sendall(block)
            sent.set()
            stop.wait(30)
    except OSError:
        sent.set()  # refused and closed: what a full worker does


def test_held_bodies_are_bounded_in_memory_and_others_still_served(
    embedded_server: Any,
) -> None:
    """30 clients each send 33 MB of a body and hold it: the workers' memory grows by at most
    300 MB in all (the rest are answered 503 and closed), and pages are still served."""
    assert embedded_server.process is not None
    before = sum(worker_memory_mb(embedded_server.process.pid))
    stop = threading.Event()
    sent = [threading.Event() for _ in range(30)]
    port = port_of(embedded_server)
    clients = [
        threading.Thread(
            target=hold_body,
            args=(port, f"127.0.1.{n + 1}", 33 * 1024 * 1024 + 1, sent[n], stop),
            daemon=True,
        )
        for n in range(30)
    ]
    for client in clients:
        client.start()
    try:
        for event in sent:
            assert event.wait(120), "a client could neither send its body nor was refused"
        grown = sum(worker_memory_mb(embedded_server.process.pid)) - before
        answered = probes_answered(embedded_server.url + "/", probes=3)
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)
    assert grown <= 300, f"workers grew by {grown:.0f} MB"
    assert all(answered), answered
    wait_until(
        lambda: "Refused a request (buffer full" in embedded_server.log(),
        what="the refusal's warning",
    )


def test_a_large_post_refused_for_its_csrf_token_costs_little_cpu(embedded_server: Any) -> None:
    """A 33 MB multipart POST with a made-up CSRF token: 403, for at most 1.5 s of CPU."""
    assert embedded_server.process is not None
    boundary = "x" * 20
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrfmiddlewaretoken"\r\n\r\n'
            f'{"a" * 64}\r\n--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
            f'filename="p.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        + b"\xff" * (33 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    before = workers_cpu_seconds(embedded_server.process.pid)
    status, _, _ = http_request(
        embedded_server.url + "/restaurant/new/",
        method="POST",
        body=body,
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Cookie": "csrftoken=" + "b" * 32,
        },
        timeout=60,
        source="127.0.0.77",
    )
    spent = workers_cpu_seconds(embedded_server.process.pid) - before
    assert status == 403
    assert spent <= 1.5, f"{spent:.1f} s of CPU"


def test_a_body_over_the_limit_is_refused_before_it_arrives(embedded_server: Any) -> None:
    with socket.create_connection(
        ("127.0.0.1", port_of(embedded_server)), timeout=10, source_address=("127.0.0.78", 0)
    ) as sock:
        sock.sendall(
            b"POST /restaurant/new/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50000000\r\n\r\n"
        )
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413")
    wait_until(
        lambda: "Refused a request (body too large" in embedded_server.log(),
        what="the refusal's warning",
    )


def test_a_forwarded_script_name_changes_no_ones_page(tmp_path: Path) -> None:
    """As in Azure mode, every address is a trusted front end (FORWARDED_ALLOW_IPS=*): a
    client's SCRIPT_NAME or PATH_INFO header is still not taken, for itself or for the plain
    visitors who get the cached page after it."""
    env = base_env(
        SQLITE_PATH=str(migrated_sqlite(tmp_path / "db.sqlite3")),
        MEDIA_ROOT=str(tmp_path / "m"),
        FORWARDED_ALLOW_IPS="*",
    )
    with app_server(env, tmp_path / "server.log") as server:
        for _ in range(6):
            status, _, page = http_request(
                server.url + "/", headers={"SCRIPT_NAME": "/evil", "PATH_INFO": "/admin/"}
            )
            assert status == 200 and b'href="/evil' not in page
        for n in range(10):
            _, _, page = http_request(server.url + "/", source=f"127.0.2.{n + 1}")
            assert b'href="/evil' not in page and b'href="/restaurant/new/"' in page


def test_a_genuine_large_photo_costs_a_few_seconds_of_cpu_in_all(embedded_server: Any) -> None:
    """An 18.8 MB photo (a phone's largest kind: 19 megapixels of detail), posted as a browser
    would: stored, for at most 3 s of the workers' CPU (reading, decoding, renditions)."""
    assert embedded_server.process is not None
    assert (
        manage(
            "shell",
            "-c",
            "from restaurant_review.models import Restaurant; "
            "Restaurant.objects.create(name='Big Photo', street_address='1 Main St')",
            env=embedded_server.env,
        ).returncode
        == 0
    )
    width, height = 5100, 3800
    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=92)
    photo = buffer.getvalue()
    assert 18_000_000 < len(photo) < 20 * 1024 * 1024
    before = workers_cpu_seconds(embedded_server.process.pid)
    status, _ = post_form(
        embedded_server.url,
        "/restaurant/1/",
        "/restaurant/1/review/",
        {"user_name": "Ana", "rating": "5", "review_text": "Every detail."},
        photo=photo,
        source="127.0.0.79",
    )
    spent = workers_cpu_seconds(embedded_server.process.pid) - before
    assert status == 302
    assert spent <= 3, f"{spent:.1f} s of CPU"
