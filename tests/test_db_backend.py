"""The Entra-token PostgreSQL backend against a real PostgreSQL server and the real
DefaultAzureCredential, talking to the test managed-identity endpoint."""

import json
import logging
import threading
import time
import uuid
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.db.utils import ConnectionHandler, OperationalError

from azureproject.credential import get_credential
from azureproject.errors import DatabaseUnavailable
from localazure.identity import statuses_while_tokens_rotate
from localazure.postgres import PostgresApp, make_postgres_app
from localazure.proxy import ForgetfulProxy
from localazure.services import app_server, base_env, http_get, manage, shell_output, wait_until

pytestmark = pytest.mark.postgres


@pytest.fixture(autouse=True)
def _own_connections(django_db_blocker: Any) -> Any:
    """These tests open their own connections to the real server, not the test database."""
    with django_db_blocker.unblock():
        yield


def wrapper(settings_dict: dict[str, Any]) -> Any:
    """A fresh connection object for `settings_dict`, outside Django's test database."""
    alias = f"test_{uuid.uuid4().hex[:8]}"
    handler = ConnectionHandler(
        {"default": {"ENGINE": "django.db.backends.dummy"}, alias: settings_dict}
    )
    return handler[alias]


def test_migrate_and_pages_work_through_the_token(
    postgres_app: PostgresApp, tmp_path: Path
) -> None:
    env = {**postgres_app.env, "MEDIA_ROOT": str(tmp_path / "media")}
    seeded = manage("migrate", "--noinput", env=env)
    assert seeded.returncode == 0, seeded.stderr
    seeded = manage("seed_demo", "--restaurants", "3", "--reviews", "9", env=env)
    assert seeded.returncode == 0, seeded.stderr
    with app_server(base_env(**env), tmp_path / "server.log") as server:
        status, body = http_get(server.url + "/")
        assert status == HTTPStatus.OK and body.count(b'class="restaurant-card"') == 3
        status, body = http_get(server.url + "/healthz")
        assert status == HTTPStatus.OK and body == b'{"status": "ok"}'
        assert http_get(server.url + "/restaurant/1/")[0] == HTTPStatus.OK
        # The app's connections are kept (CONN_MAX_AGE) and run over TLS.
        connections = postgres_app.server.ssl_connections_of(postgres_app.role)
        assert connections and all(connections)
    assert postgres_app.token_calls() >= 1


def test_wrong_password_fails_cleanly(postgres_app: PostgresApp) -> None:
    connection = wrapper(postgres_app.settings_dict(PASSWORD="not-the-token"))
    with pytest.raises(DatabaseUnavailable, match="password authentication failed"):
        connection.ensure_connection()
    assert postgres_app.token_calls() == 0  # a configured password means no token


def test_token_is_the_password_of_each_new_connection(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    identity_in_process(postgres_app.endpoint)
    connection = wrapper(postgres_app.settings_dict())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == postgres_app.role
    connection.close()
    # With the token no longer the password, a new connection cannot log in.
    postgres_app.server.set_password(postgres_app.role, "rotated-away")
    with pytest.raises(DatabaseUnavailable, match="password authentication failed"):
        wrapper(postgres_app.settings_dict()).ensure_connection()


def test_unassigned_client_id_is_refused_and_reported(
    postgres_app: PostgresApp, identity_in_process: Any, caplog: Any
) -> None:
    identity_in_process(postgres_app.endpoint)
    connection = wrapper(postgres_app.settings_dict(AZURE_CLIENT_ID="not-assigned"))
    with pytest.raises(DatabaseUnavailable) as excinfo:
        connection.ensure_connection()
    message = str(excinfo.value)
    assert "user-assigned managed identity (client id not-assigned)" in message
    assert "No managed identity found for client id not-assigned" in message
    assert postgres_app.endpoint.calls_for(
        "https://ossrdbms-aad.database.windows.net", granted=False
    )
    assert "not-assigned" in caplog.text


def test_server_answers_503_while_identity_is_missing_then_recovers(
    migrated_postgres_app: PostgresApp, tmp_path: Path
) -> None:
    postgres_app = migrated_postgres_app
    env = postgres_app.env
    postgres_app.endpoint.client_ids.clear()  # the identity is unassigned from the app
    server_env = base_env(**env, DB_CONN_MAX_AGE="0")
    # No token, so start.sh's migrate would stop: run gunicorn alone.
    with app_server(server_env, tmp_path / "server.log") as server:
        status, body = http_get(server.url + "/")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert b"Temporarily unavailable" in body
        health_status, health = http_get(server.url + "/healthz")
        assert health_status == HTTPStatus.SERVICE_UNAVAILABLE
        assert health == b'{"status": "unavailable", "failing": ["database"]}'
        # The cause, with the identity tried, is in the log, not in the public answer.
        assert "Health check: database failing: " in server.log()
        assert "no Microsoft Entra token" in server.log()
        postgres_app.endpoint.client_ids.add(postgres_app.client_id)  # assigned again
        assert http_get(server.url + "/")[0] == HTTPStatus.OK  # no restart needed
    log = server.log()
    assert f"client id {postgres_app.client_id}" in log
    assert "No managed identity found" in log
    assert "eyJ" not in log  # no token (a JWT) is ever logged


def test_migrate_without_token_exits_with_one_clear_line(postgres_app: PostgresApp) -> None:
    result = manage("migrate", "--noinput", env={**postgres_app.env, "AZURE_CLIENT_ID": "wrong-id"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: Database unavailable: no Microsoft Entra token")
    assert "client id wrong-id" in result.stderr


def test_migrate_with_identity_endpoint_down_exits_clearly(postgres_app: PostgresApp) -> None:
    postgres_app.endpoint.stop()
    result = manage("migrate", "--noinput", env=postgres_app.env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "Connection refused" in result.stderr


def test_tokens_rotate_and_new_connections_use_the_new_one(
    postgres_server: Any, tmp_path: Path
) -> None:
    app = make_postgres_app(postgres_server, lifetime=2, migrated=True)
    try:
        env = base_env(**app.env, DB_CONN_MAX_AGE="0")
        with app_server(env, tmp_path / "server.log") as server:
            statuses = statuses_while_tokens_rotate(app.endpoint, server.url + "/", rotations=3)
        assert len(statuses) > 4 and set(statuses) == {HTTPStatus.OK}
        # Each token became the password when issued, invalidating the one before: requests
        # only succeeded because new connections presented the newest token.
        assert app.token_calls() >= 4
    finally:
        app.endpoint.stop()


def test_one_token_call_per_process_over_100_requests(
    migrated_postgres_app: PostgresApp, tmp_path: Path
) -> None:
    postgres_app = migrated_postgres_app
    assert postgres_app.token_calls() == 0
    env = base_env(**postgres_app.env, DB_CONN_MAX_AGE="0")  # a new connection per request
    with app_server(env, tmp_path / "server.log") as server:
        # The worker (which answered the start-up probe): one token.
        assert postgres_app.token_calls() == 1
        before = postgres_app.token_calls()
        for _ in range(100):
            assert http_get(server.url + "/")[0] == HTTPStatus.OK
        assert postgres_app.token_calls() == before


def test_eight_threads_connect_at_once_with_one_token_call(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    identity_in_process(postgres_app.endpoint)
    settings = postgres_app.settings_dict()
    barrier = threading.Barrier(8)
    results: list[Any] = []

    def connect() -> None:
        connection = wrapper(settings)
        barrier.wait()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT current_user")
                results.append(cursor.fetchone()[0])
        except Exception as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=connect) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [postgres_app.role] * 8
    assert postgres_app.token_calls() == 1


def test_pool_gives_new_connections_a_fresh_token(
    postgres_server: Any, identity_in_process: Any
) -> None:
    app = make_postgres_app(postgres_server, lifetime=1)
    try:
        identity_in_process(app.endpoint)
        options = {"sslmode": "require", "pool": {"min_size": 0, "max_size": 4, "timeout": 10}}
        connection = wrapper(app.settings_dict(CONN_MAX_AGE=0, OPTIONS=options))
        connection.ensure_connection()  # opens the pool
        pool = connection.pool
        assert callable(pool.kwargs)
        with pool.connection() as first:
            assert first.execute("SELECT current_user").fetchone()[0] == app.role
            calls = app.token_calls()
            # The first token expires; the next connection needs a new one.
            wait_until(app.endpoint.tokens_expired, what="the first token's expiry")
            with pool.connection() as second:
                assert second.execute("SELECT current_user").fetchone()[0] == app.role
        assert app.token_calls() > calls
        connection.close_pool()
    finally:
        app.endpoint.stop()


def test_dbshell_logs_in_with_the_token(postgres_app: PostgresApp) -> None:
    result = manage("dbshell", "--", "-tAc", "SELECT current_user", env=postgres_app.env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == postgres_app.role


def test_grant_identity_access_lets_migrate_create_tables(postgres_server: Any) -> None:
    app = make_postgres_app(postgres_server, grant=False)
    try:
        # Without the grant, PostgreSQL 15+ refuses to let the identity create tables.
        refused = manage("migrate", "--noinput", env=app.env)
        assert refused.returncode != 0
        assert "permission denied for schema public" in refused.stderr

        from localazure.postgres import ADMIN_PASSWORD

        admin_env = {**app.env, "DBUSER": "postgres", "DBPASS": ADMIN_PASSWORD}
        printed = manage(
            "grant_identity_access", "--principal", app.role, "--print-sql", env=admin_env
        )
        assert "pgaadauth_create_principal('" + app.role in printed.stdout
        assert f'GRANT USAGE, CREATE ON SCHEMA public TO "{app.role}"' in printed.stdout
        assert "CREATE EXTENSION IF NOT EXISTS pg_trgm;" in printed.stdout
        granted = manage(
            "grant_identity_access",
            "--principal",
            app.role,
            "--skip-create-principal",
            env=admin_env,
        )
        assert granted.returncode == 0, granted.stderr
        migrated = manage("migrate", "--noinput", env=app.env)
        assert migrated.returncode == 0, migrated.stderr
        # The extension the administrator made lets the app's role build the search index.
        assert "not created" not in migrated.stdout
        indexes = postgres_server.execute(
            "SELECT indexname FROM pg_indexes WHERE indexname = 'restaurant_search_trgm_idx'",
            app.database,
        )
        assert indexes == [("restaurant_search_trgm_idx",)]
    finally:
        app.endpoint.stop()


def test_without_client_id_the_system_assigned_identity_is_used(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    identity_in_process(postgres_app.endpoint)
    settings = postgres_app.settings_dict(AZURE_CLIENT_ID=None)
    with pytest.raises(DatabaseUnavailable, match="or the system-assigned managed identity"):
        wrapper(settings).ensure_connection()  # no system-assigned identity yet
    postgres_app.endpoint.system_assigned = True
    connection = wrapper(settings)
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == postgres_app.role
    connection.close()
    assert [c.client_id for c in postgres_app.endpoint.calls] == [None, None]


def test_service_connector_connection_string_logs_in_with_the_token(
    postgres_app: PostgresApp,
) -> None:
    server = postgres_app.server
    env = {
        "AZURE_POSTGRESQL_CONNECTIONSTRING": (
            f"dbname={postgres_app.database} host=127.0.0.1 port={server.port} "
            f"sslmode=require user={postgres_app.role}"
        ),
        "AZURE_POSTGRESQL_CLIENTID": postgres_app.client_id,
        **postgres_app.endpoint.env,
    }
    result = manage("migrate", "--noinput", env=env)
    assert result.returncode == 0, result.stderr
    assert postgres_app.token_calls() == 1


@pytest.mark.parametrize(
    ("azure_mode", "kind"),
    [(True, "ManagedIdentityCredential"), (False, "DefaultAzureCredential")],
)
def test_credential_by_mode_is_logged_and_logs_in(
    postgres_app: PostgresApp,
    identity_in_process: Any,
    settings: Any,
    caplog: Any,
    azure_mode: bool,
    kind: str,
) -> None:
    """App Service: a managed identity and nothing else; a developer's machine: the chain."""
    settings.AZURE_MODE = azure_mode
    identity_in_process(postgres_app.endpoint)
    caplog.set_level(logging.INFO, logger="azureproject.credential")
    connection = wrapper(postgres_app.settings_dict())
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == postgres_app.role
    connection.close()
    credential = get_credential(client_id=postgres_app.client_id)
    assert credential.kind == kind
    assert f"Microsoft Entra tokens from {kind}" in caplog.text
    assert f"client id {postgres_app.client_id}" in caplog.text


# The home page's search as PostgreSQL would run it on a table where reading every row costs
# more than the indexes (table scans off): at 1,000 restaurants the planner rightly reads the
# rows (a few ms); from 10,000 it picks the indexes itself (benchmarks/search.py).
SEARCH_PLANS = (
    "import json; from django.db import connection; "
    "from restaurant_review.models import Restaurant; "
    "Restaurant.objects.create(name='Café Éclair', street_address='1 Rue'); "
    "cursor = connection.cursor(); cursor.execute('ANALYZE restaurant_review_restaurant'); "
    "found = Restaurant.objects.with_rating_stats().with_cover_photo().search('eclair CAF'); "
    "dish = Restaurant.objects.search('noodles'); "
    "names = [r.name for r in found[:24]]; dishes = [r.name for r in dish[:24]]; "
    "cursor.execute('SET enable_seqscan = off'); "
    "print(json.dumps({'names': names, 'dishes': dishes, "
    "'page': found[:24].explain(), 'count': found.order_by().values('pk').explain(), "
    "'dish': dish[:24].explain()}))"
)


# The home page asked for a typo, through the app's own view: its status, and whether it
# showed the closest spellings.
TYPO_PAGE = (
    "from django.test import Client; "
    "page = Client(HTTP_HOST='localhost').get('/', {'q': 'caffe eclar'}); "
    "print(page.status_code, 'closest spellings' in page.content.decode())"
)


def seed_restaurants(env: dict[str, str]) -> None:
    seeded = manage("seed_demo", "--restaurants", "1000", "--reviews", "0", env=env)
    assert seeded.returncode == 0, seeded.stderr


def test_search_by_words_ignoring_accents_through_an_index_on_postgresql(
    migrated_postgres_app: PostgresApp,
) -> None:
    """On PostgreSQL at the benchmark's size (1,000 restaurants), "eclair CAF" finds "Café
    Éclair" (accents, case and word order aside) through the home page's query, best match
    first, and a dish word ("noodles") finds the places whose descriptions have it; the page's
    query and the pager's count can be served by the trigram indexes, each word's two LIKEs
    by the index of its column, rather than by reading every row."""
    postgres_app = migrated_postgres_app
    seed_restaurants(postgres_app.env)
    found = json.loads(shell_output(SEARCH_PLANS, env=postgres_app.env))
    assert found["names"][0] == "Café Éclair"
    assert all("éclair" in name.casefold() for name in found["names"])
    assert found["dishes"], "no restaurant describes noodles"
    for plan in (found["page"], found["count"], found["dish"]):
        assert "restaurant_search_trgm_idx" in plan, plan
        assert "restaurant_description_trgm_idx" in plan, plan
        assert "Seq Scan on restaurant_review_restaurant" not in plan, plan
    # A typo: the closest spellings, by pg_trgm's word_similarity.
    assert shell_output(TYPO_PAGE, env=postgres_app.env) == "200 True"


def test_without_pg_trgm_migrate_warns_and_search_still_works(postgres_server: Any) -> None:
    """An administrator who has not created pg_trgm (nor allow-listed it on Azure) still gets a
    working deploy: migrate says what to do, and search scans instead."""
    app = make_postgres_app(postgres_server, extensions=False)
    try:
        migrated = manage("migrate", "--noinput", env=app.env)
        assert migrated.returncode == 0, migrated.stderr
        assert "Search index restaurant_search_trgm_idx not created" in migrated.stdout
        assert "grant_identity_access" in migrated.stdout
        seeded = manage("seed_demo", "--restaurants", "50", "--reviews", "0", env=app.env)
        assert seeded.returncode == 0, seeded.stderr
        found = json.loads(shell_output(SEARCH_PLANS, env=app.env))
        assert "Café Éclair" in found["names"]
        assert "restaurant_search_trgm_idx" not in found["page"]
        # No similarity function either: a typo finds nothing, and says so, not an error.
        typo = shell_output(TYPO_PAGE, env=app.env)
        assert typo == "200 False", typo
    finally:
        app.endpoint.stop()


def test_a_kept_connection_is_checked_without_a_query_and_replaced_once_ended(
    postgres_server: Any, postgres_app: PostgresApp, identity_in_process: Any, monkeypatch: Any
) -> None:
    """Django checks a kept connection before each request's first query; ours asks the
    socket instead of the server (no SELECT 1), and still notices a connection the server
    ended (a restart terminates them) so the request gets a new one, not an error."""
    identity_in_process(postgres_app.endpoint)
    connection = wrapper(postgres_app.settings_dict(CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        first_pid = cursor.fetchone()[0]

    def no_round_trip(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the health check sent a query")

    monkeypatch.setattr(connection.connection, "cursor", no_round_trip)
    assert connection.is_usable()
    monkeypatch.undo()
    with postgres_server.admin() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [first_pid])
    wait_until(lambda: not connection.is_usable(), what="the ended connection to be noticed")
    connection.health_check_done = False  # a new request
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != first_pid
    connection.close()


def test_a_connection_in_an_aborted_transaction_is_not_usable_as_with_djangos_backend(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    """After an error inside a transaction the server runs nothing until a rollback, and
    Django's own check (a SELECT 1) says unusable: Django's test cases then skip their
    constraint check rather than fail on the aborted transaction (found by Django's own
    suite, benchmarks/django_suite.py). The socket-only check must say so too."""
    from django.db import ProgrammingError

    identity_in_process(postgres_app.endpoint)
    connection = wrapper(postgres_app.settings_dict())
    connection.set_autocommit(False)  # in a transaction, as in a test case or atomic()
    try:
        with pytest.raises(ProgrammingError), connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        assert not connection.is_usable()
        connection.rollback()
        assert connection.is_usable()
    finally:
        connection.close()


def test_debug_cursors_log_copy_statements_as_djangos_backend_does(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    """Django's PostgreSQL backend logs COPY in its debug cursor (DEBUG, the debug toolbar,
    assertNumQueries); this backend's cursors, which add the retry, keep that."""
    from django.test.utils import CaptureQueriesContext

    identity_in_process(postgres_app.endpoint)
    connection = wrapper(postgres_app.settings_dict())
    copy_sql = "COPY (SELECT 1) TO STDOUT"
    try:
        with CaptureQueriesContext(connection) as captured, connection.cursor() as cursor:
            with cursor.copy(copy_sql) as copy:
                assert [bytes(row) for row in copy] == [b"1\n"]
        assert [query["sql"] for query in captured] == [copy_sql]
    finally:
        connection.close()


def test_a_kept_connection_found_gone_by_a_read_is_replaced_and_the_read_run_again(
    postgres_server: Any,
    postgres_app: PostgresApp,
    identity_in_process: Any,
    monkeypatch: Any,
    caplog: Any,
) -> None:
    """A kept connection can be gone with nothing on its socket to say so (the server failed
    over, or a NAT or load balancer between forgot it): the request's first query finds it
    and, being a read outside a transaction, runs again on a new connection instead of the
    request answering 503. A write is not run again (the server may have run it before the
    connection broke), nor a read in a transaction; the next request then gets a new one."""
    from django.db import transaction

    identity_in_process(postgres_app.endpoint)
    proxy = ForgetfulProxy(postgres_server.port).start()
    connection = wrapper(
        postgres_app.settings_dict(PORT=str(proxy.port), CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=True)
    )

    def backend_pid() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return cursor.fetchone()[0]

    def next_request_after_a_silent_failover() -> None:
        connection.close_if_unusable_or_obsolete()  # as at the end and start of a request
        assert connection.connection is not None, "the connection was not kept"
        assert proxy.forget_all() == 1
        assert connection.is_usable(), "the socket told"

    monkeypatch.setattr(transaction, "get_connection", lambda using=None: connection)
    # The retry is the backend's own: a caller's execute_wrappers are theirs alone, as with
    # Django's backend (whose own tests check the list).
    assert connection.execute_wrappers == []
    try:
        first = backend_pid()
        next_request_after_a_silent_failover()
        with caplog.at_level(logging.WARNING, logger="azureproject.postgresql.base"):
            second = backend_pid()
        assert second != first
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1 and "kept database connection was gone" in warnings[0]
        assert backend_pid() == second  # the new connection stays

        next_request_after_a_silent_failover()
        with pytest.raises(OperationalError), connection.cursor() as cursor:
            cursor.execute("CREATE TEMPORARY TABLE written (x int)")
        connection.close_if_unusable_or_obsolete()  # the failed request ends
        assert backend_pid() not in {first, second}

        next_request_after_a_silent_failover()
        with pytest.raises(OperationalError), transaction.atomic():
            backend_pid()
    finally:
        connection.close()
        proxy.stop()


def test_an_exhausted_pool_says_so_like_djangos_own_backend(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    """No pooled connection free in time is the pool's PoolTimeout (under Django's
    OperationalError, as Django's backend raises it), not "cannot connect": a busy pool and
    a dead server must be told apart."""
    from psycopg_pool import PoolTimeout

    identity_in_process(postgres_app.endpoint)
    options = {"sslmode": "require", "pool": {"min_size": 0, "max_size": 1, "timeout": 1}}
    settings = postgres_app.settings_dict(CONN_MAX_AGE=0, OPTIONS=options)
    holder = wrapper(settings)
    holder.ensure_connection()
    waiter = type(holder)(holder.settings_dict, alias=holder.alias)  # same pool, as a 2nd thread
    try:
        with pytest.raises(OperationalError) as refused:
            waiter.ensure_connection()
        assert isinstance(refused.value.__cause__, PoolTimeout)
        assert not isinstance(refused.value, DatabaseUnavailable)
        assert "cannot connect" not in str(refused.value)
    finally:
        holder.close()
        holder.close_pool()


def test_with_the_pool_a_server_that_is_down_costs_a_request_seconds(
    postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    """With DB_POOL=1 and the server down, a request waits for a connection only as long as a
    kept connection's connect_timeout would, not psycopg-pool's 30 s, then gets its error."""
    from azureproject.config import database_settings
    from localazure.services import PROJECT_DIR, free_port

    identity_in_process(postgres_app.endpoint)
    env = {**postgres_app.env, "DBPORT": str(free_port()), "DB_POOL": "1"}  # nothing listens
    connection = wrapper(database_settings(env, base_dir=PROJECT_DIR, azure=False))
    start = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            connection.ensure_connection()
        assert time.monotonic() - start < 10
    finally:
        connection.close_pool()


def test_a_pool_keeps_to_its_database_when_settings_change_in_place(
    postgres_server: Any, postgres_app: PostgresApp, identity_in_process: Any
) -> None:
    """A pool serves every thread's connection object, so, as with Django's own backend,
    what it connects to is fixed when it is built. Django's parallel test runner and tests
    change a connection's settings in place (another database for a while); a pool that
    followed them kept connections to that database and later tests found tables missing."""
    from psycopg import sql

    identity_in_process(postgres_app.endpoint)
    elsewhere = f"elsewhere_{uuid.uuid4().hex[:8]}"
    postgres_server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(elsewhere)))
    options = {"sslmode": "require", "pool": {"min_size": 0, "max_size": 4, "timeout": 5}}
    connection = wrapper(postgres_app.settings_dict(CONN_MAX_AGE=0, OPTIONS=options))
    connection.ensure_connection()
    pool = connection.pool
    try:
        with pool.connection() as first:
            connection.settings_dict["NAME"] = elsewhere  # e.g. a test's own test database
            with pool.connection() as second:  # the pool grows meanwhile
                databases = {
                    first.execute("SELECT current_database()").fetchone()[0],
                    second.execute("SELECT current_database()").fetchone()[0],
                }
        assert databases == {postgres_app.database}
    finally:
        connection.settings_dict["NAME"] = postgres_app.database
        connection.close()
        connection.close_pool()
