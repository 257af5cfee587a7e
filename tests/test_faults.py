"""The app under Azure faults, with real parts: PostgreSQL restarting, Blob Storage (Azurite)
frozen like a network black hole, the managed-identity endpoint frozen for longer than a token
lives, while clients browse and post photo reviews against the app in Azure mode (2 workers x
4 threads). Nothing but 503 may fail, no request may take more than 10 s, nothing accepted may
be lost, no photo may be left without its review after the sweep, and the app recovers by
itself. Each fault lasts until the clients have felt it, never for a set time, so the test
asks the same of a slow or busy machine."""

import json
import os
import secrets
import signal
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from localazure.azurite import Azurite
from localazure.postgres import PostgresServer, make_postgres_app
from localazure.proxy import ForgetfulProxy
from localazure.services import (
    AppServer,
    base_env,
    http_request,
    manage,
    post_form,
    shell_output,
    wait_until,
)
from restaurant_review.photos import stored_names
from tests.helpers import AZURE_HOST, image_bytes

pytestmark = [pytest.mark.postgres, pytest.mark.azurite]

HEADERS = {"Host": AZURE_HOST, "X-Forwarded-Proto": "https"}
TOKEN_LIFETIME = 8
CLIENTS = 4


@dataclass
class Outcome:
    kind: str
    status: int
    started: float  # time.monotonic() as the request began
    seconds: float
    text: str = ""


def client(base: str, stop: threading.Event, outcomes: list[Outcome], name: str) -> None:
    """Browse and post reviews with photos until told to stop; record every answer."""
    # A small photo: what is measured is the faults, not the machine drawing renditions.
    photo = image_bytes("JPEG", size=(480, 360))
    number = 0
    while not stop.is_set():
        number += 1
        for kind, path in [("home", "/"), ("restaurant", "/restaurant/1/")]:
            start = time.monotonic()
            try:
                status = http_request(base + path, headers=HEADERS, timeout=30)[0]
            except OSError:
                status = 0
            outcomes.append(Outcome(kind, status, start, time.monotonic() - start))
        text = f"Review {name}-{number}: still good."
        fields = {"user_name": name, "rating": "4", "review_text": text}
        start = time.monotonic()
        try:
            status, seconds = post_form(
                base, "/restaurant/1/", "/restaurant/1/review/", fields, photo=photo,
                headers=HEADERS, timeout=30,
            )  # fmt: skip
        except OSError:
            status, seconds = 0, 0.0
        outcomes.append(Outcome("post", status, start, seconds, text))


def stored(env: dict[str, str]) -> dict[str, str]:
    """Review text -> photo name, read through the app's own settings."""
    return json.loads(
        shell_output(
            "import json; from restaurant_review.models import Review; "
            "print(json.dumps(dict(Review.objects.values_list('review_text', 'photo'))))",
            env=env,
        )
    )


def test_faults_cost_only_503s_and_lose_nothing(
    postgres_server: PostgresServer, azurite: Azurite, tmp_path: Path
) -> None:
    app = make_postgres_app(postgres_server, lifetime=TOKEN_LIFETIME, migrated=True)
    container = f"photos-{uuid.uuid4().hex[:10]}"
    azurite.admin(app.endpoint).create_container(container)
    env = base_env(
        **app.env,
        WEBSITE_HOSTNAME=AZURE_HOST,
        SECRET_KEY=secrets.token_urlsafe(50),
        AZURE_STORAGEBLOB_RESOURCEENDPOINT=azurite.account_url,
        STORAGE_CONTAINER_NAME=container,
        REQUESTS_CA_BUNDLE=str(azurite.ca_file),
        DB_CONN_MAX_AGE="0",  # a new connection (and token) for every request
        POST_LIMITS="off",  # four clients posting without pause: this test is about faults
    )
    assert manage("seed_demo", "--restaurants", "1", "--reviews", "3", env=env).returncode == 0
    server = AppServer(
        {**env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"},
        tmp_path / "server.log",
    ).start()
    outcomes: list[Outcome] = []
    stop = threading.Event()
    clients = [
        threading.Thread(target=client, args=(server.url, stop, outcomes, f"c{index}"))
        for index in range(CLIENTS)
    ]
    faults: dict[str, tuple[int, int]] = {}  # fault -> (first, last) outcome index
    lasted: dict[str, tuple[float, float]] = {}  # fault -> from when to when (monotonic)

    def answered_since(first: int, *, kind: str | None = None, status: int | None = None) -> int:
        return sum(
            (kind is None or outcome.kind == kind) and (status is None or outcome.status == status)
            for outcome in outcomes[first:]
        )

    def posts_accepted(what: str) -> None:
        """Two reviews accepted from here on (the app healthy, or recovered by itself)."""
        first = len(outcomes)
        wait_until(
            lambda: answered_since(first, kind="post", status=302) >= 2, what=what, timeout=60
        )

    def begun_since(moment: float, *, kind: str) -> int:
        """Answers to requests of `kind` begun at `moment` or later."""
        return sum(o.kind == kind and o.started >= moment for o in list(outcomes))

    def during(name: str, begin: Any, end: Any, *, lasts_until: Any) -> None:
        """The fault from begin() until `lasts_until(when it began)` holds, while the clients
        keep going; then until every client has had an answer begun after its end."""
        first = len(outcomes)
        begin()
        began = time.monotonic()
        wait_until(lambda: lasts_until(began), what=f"{name}: felt by the clients", timeout=60)
        end()
        lasted[name] = (began, time.monotonic())
        ended = len(outcomes)
        wait_until(lambda: answered_since(ended) > CLIENTS, what=f"{name}: over", timeout=60)
        faults[name] = (first, len(outcomes))
        posts_accepted(f"reviews accepted again after: {name}")

    def identity_frozen_past_expiry(_began: float) -> bool:
        """Every token the app holds has expired, and a round of requests came after that."""
        if not app.endpoint.tokens_expired():
            return False
        expired.setdefault("at", len(outcomes))
        return answered_since(expired["at"]) > CLIENTS

    expired: dict[str, int] = {}
    try:
        for thread in clients:
            thread.start()
        posts_accepted("reviews accepted while everything is healthy")
        during(
            "PostgreSQL restart", postgres_server.restart, lambda: None, lasts_until=lambda _: True
        )
        # Frozen until two posts begun after it were answered (posts already sending when it
        # froze may have stored their photo before it, and are accepted).
        during(
            "Blob Storage frozen",
            lambda: os.kill(azurite.process.pid, signal.SIGSTOP),  # type: ignore[union-attr]
            lambda: os.kill(azurite.process.pid, signal.SIGCONT),  # type: ignore[union-attr]
            lasts_until=lambda began: begun_since(began, kind="post") >= 2,
        )
        during(
            "identity endpoint frozen past token expiry",
            app.endpoint.freeze,
            app.endpoint.thaw,
            lasts_until=identity_frozen_past_expiry,
        )
    finally:
        stop.set()
        if azurite.process is not None:
            os.kill(azurite.process.pid, signal.SIGCONT)
        app.endpoint.thaw()
        for thread in clients:
            thread.join(timeout=60)

    try:
        # Every part is back: requests succeed again, without restarting the app.
        def everything_works() -> bool:
            page = http_request(server.url + "/restaurant/1/", headers=HEADERS)[0]
            fields = {"user_name": "after", "rating": "5", "review_text": f"After {time.time()}"}
            posted, _ = post_form(
                server.url, "/restaurant/1/", "/restaurant/1/review/", fields,
                photo=image_bytes(), headers=HEADERS,
            )  # fmt: skip
            return page == 200 and posted == 302

        wait_until(everything_works, what="the app working again", timeout=30)
        for _ in range(5):
            assert everything_works(), server.log()[-3000:]
    finally:
        server.stop()

    log = server.log()
    statuses = {outcome.status for outcome in outcomes}
    assert statuses <= {200, 302, 503}, f"{statuses}\n{log[-3000:]}"
    slowest = max(range(len(outcomes)), key=lambda index: outcomes[index].seconds)
    during_fault = [name for name, (first, last) in faults.items() if first <= slowest < last]
    assert outcomes[slowest].seconds <= 10, (outcomes[slowest], during_fault)
    for name, (first, last) in faults.items():
        assert last > first, f"no request during: {name}"
    for name in ("Blob Storage frozen", "identity endpoint frozen past token expiry"):
        began, ended = lasted[name]
        felt = [outcome.status for outcome in outcomes if began <= outcome.started < ended]
        assert 503 in felt, f"{name} was never felt: {felt}"
    posted = [outcome for outcome in outcomes if outcome.kind == "post"]
    assert sum(outcome.status == 302 for outcome in posted) >= 10

    # Nothing accepted is lost: every review answered with a redirect is stored, with its
    # photo and renditions in the container.
    photos = azurite.admin(app.endpoint).get_container_client(container)
    reviews = stored(env)
    blobs = {blob.name for blob in photos.list_blobs()}
    for outcome in posted:
        if outcome.status == 302:
            assert outcome.text in reviews, outcome
            assert set(stored_names(reviews[outcome.text])) <= blobs, outcome
    # The sweep leaves no photo without its review.
    swept = manage("purge_orphan_photos", "--older-than", "0", env=env)
    assert swept.returncode == 0, swept.stderr
    referenced = {name for photo in stored(env).values() if photo for name in stored_names(photo)}
    assert {blob.name for blob in photos.list_blobs()} - referenced == set()
    app.endpoint.stop()


@pytest.mark.parametrize("pool", ["kept", "pooled"])
def test_after_a_restart_kept_connections_are_replaced_without_an_error(
    postgres_server: PostgresServer, tmp_path: Path, pool: str
) -> None:
    """Workers keep their connections between requests (DB_CONN_MAX_AGE), or in a pool. When
    they are gone without a word to the app (a failover, or a NAT between that forgot them:
    the socket looks fine until the first query is answered with a reset), and when a
    PostgreSQL restart ends them, every request after gets a new connection and its page,
    none a 500 or 503, without restarting the app."""
    from concurrent.futures import ThreadPoolExecutor

    app = make_postgres_app(postgres_server, migrated=True)
    proxy = ForgetfulProxy(postgres_server.port).start()
    env = base_env(**{**app.env, "DBPORT": str(proxy.port)}, SECRET_KEY=secrets.token_urlsafe(50))
    if pool == "pooled":
        env["DB_POOL"] = "1"
    assert manage("seed_demo", "--restaurants", "3", "--reviews", "6", env=env).returncode == 0
    server = AppServer(
        {**env, "WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4"}, tmp_path / "server.log"
    ).start()
    paths = ["/", "/restaurant/1/", "/?sort=rating", "/restaurant/2/"] * 16

    def all_pages_answer() -> None:
        with ThreadPoolExecutor(8) as visitors:
            statuses = list(visitors.map(lambda path: http_request(server.url + path)[0], paths))
        assert statuses.count(200) == len(paths), (sorted(set(statuses)), server.log()[-3000:])

    def kept() -> int:
        query = "SELECT count(*) FROM pg_stat_activity WHERE usename = %s"
        with postgres_server.admin() as admin:
            return admin.execute(query, [app.role]).fetchone()[0]

    try:
        all_pages_answer()
        on_server = kept()
        assert on_server >= 2, "the workers kept no connections to replace"
        forgotten = proxy.forget_all()  # the silent failover
        # Every connection the server had is forgotten (a pool may be opening one more in the
        # background meanwhile: counted by the proxy, not yet by the server).
        assert forgotten >= on_server
        wait_until(lambda: kept() == 0, what="the server's ends of the connections to close")
        all_pages_answer()
        assert kept() >= 2
        postgres_server.restart()
        all_pages_answer()
    finally:
        server.stop()
        app.endpoint.stop()
        proxy.stop()
    log = server.log()
    assert "Traceback" not in log
    if pool == "kept":
        # Each connection forgotten was found by its first query; those the restart ended
        # were seen closed on their sockets. A pool checks each connection as it hands it
        # out (Django's CONN_HEALTH_CHECKS), so it never gets that far.
        assert log.count("A kept database connection was gone") == forgotten, log[-3000:]
