"""Several instances of the app on one PostgreSQL server, as App Service scales out on one
Flexible Server: within a connection budget on a small tier, and through a real PgBouncer in
transaction mode (localazure/pgbouncer.py) on a server with few connections. Every instance runs
gunicorn as in production (2 workers x 4 threads) and is loaded by wrk at once."""

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from localazure.identity import statuses_while_tokens_rotate
from localazure.load import find_wrk, load_together
from localazure.pgbouncer import PgBouncer, find_pgbouncer
from localazure.postgres import (
    ConnectionWatch,
    PostgresApp,
    PostgresServer,
    make_postgres_app,
    usable_bindir,
)
from localazure.services import (
    AppServer,
    app_server,
    base_env,
    http_request,
    instances_together,
    manage,
    post_form,
    signed_in_staff,
    unavailable,
    wait_until,
    worker_pids,
)
from tests.helpers import image_bytes

INSTANCES = 6
# What each instance runs, as on a two-core App Service plan.
INSTANCE_ENV = {"WEB_CONCURRENCY": "2", "GUNICORN_THREADS": "4", "POST_LIMITS": "off"}
# Load on every instance at once, as many connections as an instance has threads, each
# making 20 requests: the same load on a machine twice as slow (at most LOAD_SECONDS).
LOAD_CONNECTIONS = 8
LOAD_REQUESTS = 20 * LOAD_CONNECTIONS
LOAD_SECONDS = 120


@pytest.fixture(scope="module")
def wrk() -> None:
    if find_wrk() is None:
        unavailable("wrk not found (Debian: apt-get install wrk)")


def small_server(*, usable: int) -> PostgresServer:
    """A server whose app roles may hold `usable` connections, as on Azure (B1ms: 50 less
    the 15 Azure keeps: 35); 3 more are kept for the administrator (the tests' own queries,
    PgBouncer's look-ups of the role's secret)."""
    return PostgresServer(usable_bindir(), max_connections=usable + 3, reserved=3).start()


def instances(env: dict[str, str], folder: Path, *, start_sh: bool = False) -> Any:
    """INSTANCES app servers as on a two-core plan, started together."""
    return instances_together({**env, **INSTANCE_ENV}, INSTANCES, folder, start_sh=start_sh)


def load_all(servers: list[AppServer], restaurant: int) -> list[dict]:
    """wrk on every instance at once: home pages on half, a restaurant page on the others.
    First every worker of every instance gets its database token: a worker's first token on
    a busy machine can take longer than a request may wait for one, and this test is about
    the connections under load, not about cold starts. A slow answer is not an error here (a
    machine twice as slow is slower); a refused or failed one is."""
    urls = [
        server.url + ("/" if index % 2 else f"/restaurant/{restaurant}/")
        for index, server in enumerate(servers)
    ]

    def every_worker_has_its_token() -> bool:
        """Whether every worker had asked for its token before a round of requests (which
        the workers that were still waiting for theirs answer once they have it)."""
        asked = all(
            set(worker_pids(server.process.pid)) <= asked_for_tokens(server) for server in servers
        )
        with ThreadPoolExecutor(LOAD_CONNECTIONS) as visitors:
            list(visitors.map(lambda url: http_request(url, timeout=60), urls * 4))
        return asked

    wait_until(every_worker_has_its_token, what="every worker's database token", timeout=180)
    return load_together(
        urls,
        seconds=LOAD_SECONDS,
        requests=LOAD_REQUESTS,
        connections=LOAD_CONNECTIONS,
        timeout=60,
    )


def asked_for_tokens(server: AppServer) -> set[int]:
    """The processes of `server` that have made their credential, which they do as they ask
    for their first token (the log's lines carry the process id)."""
    return {int(pid) for pid in re.findall(r" (\d+): Microsoft Entra tokens from ", server.log())}


def first_restaurant(app: PostgresApp) -> int:
    """The demo data's first restaurant."""
    query = "SELECT min(id) FROM restaurant_review_restaurant"
    return int(app.server.execute(query, dbname=app.database)[0][0])


def run(*command: str, env: dict[str, str]) -> None:
    result = manage(*command, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def assert_no_errors(results: list[dict]) -> None:
    assert all(run["requests"] >= LOAD_REQUESTS for run in results), results
    assert sum(run["errors"] for run in results) == 0, results


@pytest.fixture
def budget_server() -> Iterator[PostgresServer]:
    server = small_server(usable=35)
    yield server
    server.stop()


def test_six_instances_within_a_35_connection_tier_answer_every_request(
    wrk: None, budget_server: PostgresServer, tmp_path: Path
) -> None:
    app = make_postgres_app(budget_server, migrated=True)
    try:
        env = {**app.env, "DB_MAX_CONNECTIONS": "5", "MEDIA_ROOT": str(tmp_path / "media")}
        run("seed_demo", "--restaurants=6", env=env)
        restaurant = first_restaurant(app)
        with (
            instances(env, tmp_path) as servers,
            ConnectionWatch(budget_server, app.role) as watch,
        ):
            results = load_all(servers, restaurant)
        assert_no_errors(results)
        # Six instances of 2 workers x 2 connections: 24 at most, never the tier's 35.
        assert 0 < watch.most <= 24, watch.most
        for server in servers:
            assert (
                "Database connections: at most 4 for this instance (2 workers x 2 each, "
                "DB_MAX_CONNECTIONS=5)" in server.log()
            )
    finally:
        app.endpoint.stop()


@pytest.fixture
def bouncer() -> Iterator[tuple[PostgresServer, PgBouncer]]:
    binary = find_pgbouncer()
    if binary is None:
        unavailable("pgbouncer not found (Debian: apt-get install pgbouncer)")
    server = small_server(usable=17)  # 20 in all, with the administrator's 3
    pgbouncer = PgBouncer(binary, server, pool_size=10)
    try:
        yield server, pgbouncer.start()
    finally:
        pgbouncer.stop()
        server.stop()


def through(app: PostgresApp, pgbouncer: PgBouncer) -> dict[str, str]:
    """The app's settings for PgBouncer, as on Azure (port 6432 there; any port here, so
    DB_PGBOUNCER says it), migrations straight to the server."""
    return {
        **app.env,
        "DBPORT": str(pgbouncer.port),
        "DB_PGBOUNCER": "1",
        "DB_DIRECT_PORT": str(app.server.port),
    }


def migrations_applied(servers: list[AppServer]) -> int:
    return sum(server.log().count("Applying restaurant_review.0001_initial") for server in servers)


def test_six_instances_through_pgbouncer_start_together_and_serve_everything(
    wrk: None, bouncer: tuple[PostgresServer, PgBouncer], tmp_path: Path
) -> None:
    server, pgbouncer = bouncer
    app = make_postgres_app(server)
    env = {**through(app, pgbouncer), "MEDIA_ROOT": str(tmp_path / "media")}
    try:
        # A fresh database: every instance runs start.sh (migrate under the lock) at once.
        with instances(env, tmp_path, start_sh=True) as servers:
            assert migrations_applied(servers) == 1
            for instance in servers:
                assert "Migrating on the server itself" in instance.log()
                assert f"to PgBouncer at 127.0.0.1:{pgbouncer.port}" in instance.log()
            assert advisory_locks(server) == 0
            # Nothing left to migrate, and no lock left behind: the next start goes straight on.
            again = manage("migrate_with_lock", "--noinput", env=env)
            assert again.returncode == 0 and "No migrations to apply" in again.stdout, again.stdout

            run("seed_demo", "--restaurants=6", env=env)  # through PgBouncer, while they run
            restaurant = first_restaurant(app)
            with ConnectionWatch(server, app.role) as watch:
                results = load_all(servers, restaurant)
                assert_no_errors(results)
                visitor_and_staff_through(servers[0].url, restaurant, env)
        # PgBouncer's pool (10) is what the server sees, whatever the instances hold.
        assert 0 < watch.most <= 10, watch.most
        assert advisory_locks(server) == 0
        # Its query was a server-side cursor, which a transaction pooler loses.
        run("purge_orphan_photos", env=env)
    finally:
        app.endpoint.stop()


def advisory_locks(server: PostgresServer) -> int:
    return int(server.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")[0][0])


def visitor_and_staff_through(base: str, restaurant: int, env: dict[str, str]) -> None:
    """Posting with a photo, search and the admin, through PgBouncer."""
    status, _ = post_form(
        base,
        f"/restaurant/{restaurant}/",
        f"/restaurant/{restaurant}/review/",
        {"user_name": "Ada", "rating": "5", "review_text": "Through the pooler."},
        photo=image_bytes(size=(640, 480)),
    )
    assert status == HTTPStatus.FOUND
    status, _, page = http_request(f"{base}/restaurant/{restaurant}/")
    assert status == HTTPStatus.OK and b"Through the pooler." in page
    assert b"Photo from Ada" in page  # the photo's alt text
    restaurant_name = re.search(rb"<h1[^>]*>([^<]+)</h1>", page)
    assert restaurant_name is not None
    words = restaurant_name.group(1).decode().split()[0]
    status, _, found = http_request(f"{base}/?q={quote(words)}")
    assert status == HTTPStatus.OK and f"/restaurant/{restaurant}/".encode() in found

    run(
        "createsuperuser",
        "--noinput",
        "--username=staff",
        "--email=staff@example.org",
        env={**env, "DJANGO_SUPERUSER_PASSWORD": "Pooled-admin-2026!"},
    )
    staff = signed_in_staff(base, "staff", "Pooled-admin-2026!")
    reviews = staff.get(base + "/admin/restaurant_review/review/?q=pooler", timeout=30)
    assert reviews.status_code == HTTPStatus.OK and "Through the pooler." in reviews.text


def test_tokens_rotate_through_pgbouncer(
    bouncer: tuple[PostgresServer, PgBouncer], tmp_path: Path
) -> None:
    """Each token becomes the role's password when issued, so the one before stops working:
    requests through PgBouncer keep succeeding only if it checks every new client against
    the role's current secret and logs in to the server with it."""
    server, pgbouncer = bouncer
    app = make_postgres_app(server, lifetime=2, migrated=True)
    try:
        env = {**through(app, pgbouncer), "DB_CONN_MAX_AGE": "0"}
        with app_server(base_env(**env), tmp_path / "server.log") as instance:
            statuses = statuses_while_tokens_rotate(app.endpoint, instance.url + "/", rotations=2)
        assert len(statuses) > 2 and set(statuses) == {HTTPStatus.OK}
    finally:
        app.endpoint.stop()
