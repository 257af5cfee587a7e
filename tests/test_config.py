"""Environment variables to settings: the tutorial's names and Service Connector's."""

import logging
import os
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from azureproject.config import database_settings, describe_connections, photo_storage_settings
from localazure.services import PROJECT_DIR

BASE = Path("/app")


def db(env: dict[str, str], *, azure: bool = False) -> dict:
    return database_settings(env, base_dir=BASE, azure=azure)


def test_no_variables_means_sqlite() -> None:
    assert db({}) == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/app/db.sqlite3"}


def test_azure_mode_without_database_fails_naming_the_variables() -> None:
    with pytest.raises(ImproperlyConfigured, match="DBHOST"):
        db({}, azure=True)


def test_tutorial_settings_expand_server_name_and_require_ssl() -> None:
    settings = db({"DBHOST": "my-server", "DBNAME": "restaurants", "DBUSER": "my-identity"})
    assert settings["ENGINE"] == "azureproject.postgresql"
    assert settings["HOST"] == "my-server.postgres.database.azure.com"
    assert (settings["NAME"], settings["USER"], settings["PASSWORD"]) == (
        "restaurants",
        "my-identity",
        "",
    )
    assert settings["OPTIONS"] == {"sslmode": "require"}
    assert settings["CONN_MAX_AGE"] == 600 and settings["CONN_HEALTH_CHECKS"] is True


def test_full_host_name_is_used_as_given_and_sslmode_is_overridable() -> None:
    env = {"DBHOST": "db.example.org", "DBNAME": "n", "DBUSER": "u", "DBPORT": "6432"}
    assert db(env)["HOST"] == "db.example.org" and db(env)["PORT"] == "6432"
    assert db(env)["OPTIONS"] == {}
    assert db({**env, "DBSSLMODE": "verify-full"})["OPTIONS"] == {"sslmode": "verify-full"}


def test_dbhost_without_dbname_names_the_missing_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DBNAME"):
        db({"DBHOST": "h", "DBUSER": "u"})


def test_client_id_selects_the_identity_service_connector_first() -> None:
    env = {"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "AZURE_CLIENT_ID": "app-id"}
    assert db(env)["AZURE_CLIENT_ID"] == "app-id"
    assert db({**env, "AZURE_POSTGRESQL_CLIENTID": "pg-id"})["AZURE_CLIENT_ID"] == "pg-id"
    assert db({"DBHOST": "h", "DBNAME": "n", "DBUSER": "u"})["AZURE_CLIENT_ID"] is None


def test_service_connector_connection_string() -> None:
    env = {
        "AZURE_POSTGRESQL_CONNECTIONSTRING": (
            "dbname=restaurants host=srv.postgres.database.azure.com port=5432 "
            "sslmode=require user=aad_identity"
        )
    }
    settings = db(env, azure=True)
    assert (settings["HOST"], settings["PORT"]) == ("srv.postgres.database.azure.com", "5432")
    assert (settings["NAME"], settings["USER"]) == ("restaurants", "aad_identity")
    assert settings["OPTIONS"] == {"sslmode": "require"} and settings["PASSWORD"] == ""


def test_service_connector_separate_variables() -> None:
    env = {
        "AZURE_POSTGRESQL_HOST": "srv.postgres.database.azure.com",
        "AZURE_POSTGRESQL_DATABASE": "restaurants",
        "AZURE_POSTGRESQL_USER": "aad_identity",
        "AZURE_POSTGRESQL_PORT": "5432",
    }
    settings = db(env)
    assert settings["HOST"] == "srv.postgres.database.azure.com"
    assert settings["OPTIONS"] == {"sslmode": "require"}


def test_bad_connection_string_is_a_clear_error() -> None:
    with pytest.raises(ImproperlyConfigured, match="AZURE_POSTGRESQL_CONNECTIONSTRING"):
        db({"AZURE_POSTGRESQL_CONNECTIONSTRING": "host='unterminated"})


def test_dbpass_means_password_login() -> None:
    settings = db({"DBHOST": "localhost", "DBNAME": "n", "DBUSER": "u", "DBPASS": "pw"})
    assert settings["HOST"] == "localhost" and settings["PASSWORD"] == "pw"


def test_pool_replaces_persistent_connections() -> None:
    settings = db({"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "DB_POOL": "1"})
    assert settings["CONN_MAX_AGE"] == 0
    assert settings["OPTIONS"]["pool"]["max_size"] == 4
    assert settings["OPTIONS"]["pool"]["timeout"] == 5  # not psycopg-pool's 30 s


def test_a_connection_budget_divides_among_the_workers_through_the_pool() -> None:
    env = {"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "WEB_CONCURRENCY": "2"}
    settings = db({**env, "DB_MAX_CONNECTIONS": "5"})
    assert settings["CONN_MAX_AGE"] == 0  # the pool keeps them
    assert settings["OPTIONS"]["pool"]["max_size"] == 2  # 5 // 2 workers
    assert settings["OPTIONS"]["pool"]["min_size"] == 1
    assert settings["OPTIONS"]["pool"]["timeout"] == 5  # a request waits, then 503
    one_each = db({**env, "DB_MAX_CONNECTIONS": "2", "DB_POOL_MIN_SIZE": "3"})["OPTIONS"]["pool"]
    assert (one_each["min_size"], one_each["max_size"]) == (1, 1)
    # A smaller pool asked for is kept; a larger one is cut to the share.
    pooled = {**env, "DB_POOL": "1"}
    smaller = db({**pooled, "DB_MAX_CONNECTIONS": "40", "DB_POOL_MAX_SIZE": "3"})["OPTIONS"]
    larger = db({**pooled, "DB_MAX_CONNECTIONS": "8", "DB_POOL_MAX_SIZE": "9"})["OPTIONS"]
    assert (smaller["pool"]["max_size"], larger["pool"]["max_size"]) == (3, 4)
    assert "pool" not in db(env)["OPTIONS"]  # without a budget, as before
    # A budget of a connection per thread or more: each thread keeps its own, as without one.
    roomy = db({**env, "DB_MAX_CONNECTIONS": "8"})
    assert "pool" not in roomy["OPTIONS"] and roomy["CONN_MAX_AGE"] == 600
    assert describe_connections({**env, "DB_MAX_CONNECTIONS": "8"}, roomy) == (
        "Database connections: at most 8 for this instance (2 workers x 4 threads, within "
        "DB_MAX_CONNECTIONS=8), to h.postgres.database.azure.com:5432"
    )
    told = describe_connections({**env, "DB_MAX_CONNECTIONS": "5"}, settings)
    assert told == (
        "Database connections: at most 4 for this instance (2 workers x 2 each, "
        "DB_MAX_CONNECTIONS=5), to h.postgres.database.azure.com:5432"
    )


def test_a_budget_below_one_connection_per_worker_is_refused_naming_the_numbers() -> None:
    env = {"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "WEB_CONCURRENCY": "3"}
    for budget in ("2", "0", "-4"):
        with pytest.raises(ImproperlyConfigured, match="DB_MAX_CONNECTIONS=.* 3 worker"):
            db({**env, "DB_MAX_CONNECTIONS": budget})
    with pytest.raises(ImproperlyConfigured, match="DB_MAX_CONNECTIONS"):
        db({**env, "DB_MAX_CONNECTIONS": "five"})


def test_port_6432_means_pgbouncer_unless_told_otherwise() -> None:
    env = {"DBHOST": "my-server", "DBNAME": "n", "DBUSER": "u"}
    assert "PGBOUNCER" not in db(env) and "DISABLE_SERVER_SIDE_CURSORS" not in db(env)
    for told in (
        {**env, "DBPORT": "6432"},
        {"AZURE_POSTGRESQL_CONNECTIONSTRING": "host=h dbname=n user=u port=6432"},
        {
            "AZURE_POSTGRESQL_HOST": "h",
            "AZURE_POSTGRESQL_DATABASE": "n",
            "AZURE_POSTGRESQL_USER": "u",
            "AZURE_POSTGRESQL_PORT": "6432",
        },
    ):
        settings = db(told)
        assert settings["PORT"] == "6432"
        assert settings["PGBOUNCER"] is True and settings["DISABLE_SERVER_SIDE_CURSORS"] is True
        assert settings["DIRECT_PORT"] == "5432"  # migrations: the server itself
    assert "PGBOUNCER" not in db({**env, "DBPORT": "6432", "DB_PGBOUNCER": "0"})
    elsewhere = db({**env, "DBPORT": "7000", "DB_PGBOUNCER": "1", "DB_DIRECT_PORT": "7001"})
    assert (elsewhere["PGBOUNCER"], elsewhere["DIRECT_PORT"]) == (True, "7001")
    assert describe_connections({**env, "WEB_CONCURRENCY": "3"}, db({**env, "DBPORT": "6432"})) == (
        "Database connections: up to 12 for this instance (3 workers x 4 threads, one each), to "
        "PgBouncer at my-server.postgres.database.azure.com:6432 (transaction pooling; "
        "migrations on port 5432)"
    )
    assert describe_connections({}, db({})) is None  # SQLite


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(ImproperlyConfigured, match="DB_CONN_MAX_AGE"):
        db({"DBHOST": "h", "DBNAME": "n", "DBUSER": "u", "DB_CONN_MAX_AGE": "ten"})


def storage(env: dict[str, str], *, azure: bool = False) -> dict:
    return photo_storage_settings(env, media_root=BASE / "media", azure=azure)


def test_photos_on_local_disk_by_default() -> None:
    assert storage({})["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    with pytest.raises(ImproperlyConfigured, match="STORAGE_ACCOUNT_NAME"):
        storage({}, azure=True)


def test_storage_account_name_and_service_connector_endpoint() -> None:
    options = storage({"STORAGE_ACCOUNT_NAME": "acct", "AZURE_CLIENT_ID": "id"})["OPTIONS"]
    assert options["account_url"] == "https://acct.blob.core.windows.net"
    assert (options["container"], options["client_id"], options["url_mode"]) == (
        "photos",
        "id",
        "sas",
    )
    env = {
        "AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://127.0.0.1:10000/devstoreaccount1/",
        "AZURE_STORAGEBLOB_CLIENTID": "blob-id",
        "AZURE_CLIENT_ID": "id",
        "STORAGE_CONTAINER_NAME": "pics",
        "STORAGE_URL_MODE": "public",
    }
    options = storage(env)["OPTIONS"]
    assert options["account_url"] == "https://127.0.0.1:10000/devstoreaccount1"
    assert (options["container"], options["client_id"], options["url_mode"]) == (
        "pics",
        "blob-id",
        "public",
    )
    with pytest.raises(ImproperlyConfigured, match="STORAGE_URL_MODE"):
        storage({"STORAGE_ACCOUNT_NAME": "acct", "STORAGE_URL_MODE": "cdn"})


def gunicorn_config(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in ("WEBSITE_HOSTNAME", "BIND_HOST", "PORT", "WEB_CONCURRENCY", "FORWARDED_ALLOW_IPS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(PROJECT_DIR / "gunicorn.conf.py"))


def test_gunicorn_on_the_embedded_default_listens_on_loopback_with_two_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = gunicorn_config(monkeypatch)
    assert config["bind"] == "127.0.0.1:8000"
    assert config["workers"] == 2
    assert config["control_socket_disable"] is True
    assert config["forwarded_allow_ips"] == "127.0.0.1"  # no client may claim https
    told = gunicorn_config(monkeypatch, BIND_HOST="0.0.0.0", PORT="9000", WEB_CONCURRENCY="3")
    assert told["bind"] == "0.0.0.0:9000" and told["workers"] == 3


def test_gunicorn_in_azure_mode_listens_everywhere_with_workers_per_cpu(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = gunicorn_config(monkeypatch, WEBSITE_HOSTNAME="app.azurewebsites.net", PORT="8181")
    assert config["bind"] == "0.0.0.0:8181"
    assert config["workers"] == os.cpu_count() * 2 + 1
    assert config["forwarded_allow_ips"] == "*"  # App Service's front end


def test_sas_minutes_out_of_range_fails_naming_the_variable() -> None:
    env = {"STORAGE_ACCOUNT_NAME": "acct"}
    assert photo_storage_settings(env, media_root=BASE, azure=True)["OPTIONS"]["sas_minutes"] == 60
    for bad in ("0", "1441"):
        with pytest.raises(ImproperlyConfigured, match="STORAGE_SAS_MINUTES"):
            photo_storage_settings({**env, "STORAGE_SAS_MINUTES": bad}, media_root=BASE, azure=True)


def test_a_request_killed_by_the_gunicorn_timeout_is_logged_with_method_and_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = gunicorn_config(monkeypatch)
    logged: list[str] = []

    class Log:
        def error(self, message: str, *args: object) -> None:
            logged.append(message % args)

    worker = type("Worker", (), {"log": Log()})()
    request = type("Request", (), {"method": "POST", "path": "/restaurant/7/review/"})()
    config["pre_request"](worker, request)
    config["worker_abort"](worker)
    assert logged == ["Killed by gunicorn's 120-s timeout while serving POST /restaurant/7/review/"]
    config["post_request"](worker, request, {}, None)
    logged.clear()
    config["worker_abort"](worker)
    assert logged == [
        "Killed by gunicorn's 120-s timeout while serving no request (the worker itself was stuck)"
    ]


def test_server_errors_keep_their_level_and_traceback() -> None:
    from azureproject.serving.log_filters import ClientErrorFilter

    try:
        raise RuntimeError("boom")
    except RuntimeError:
        exc_info = sys.exc_info()
    server_fault = logging.LogRecord("django.request", logging.ERROR, "", 0, "x", (), exc_info)
    server_fault.status_code = 500
    assert ClientErrorFilter().filter(server_fault)
    assert server_fault.levelname == "ERROR" and server_fault.exc_info is not None
    probe = logging.LogRecord(
        "django.security.DisallowedHost", logging.ERROR, "", 0, "x", (), exc_info
    )
    assert ClientErrorFilter().filter(probe)
    assert probe.levelname == "WARNING" and probe.exc_info is None


def test_photos_from_blob_storage_are_allowed_by_the_csp_and_nothing_else() -> None:
    from azureproject.config import photo_origins

    env = {"AZURE_STORAGEBLOB_RESOURCEENDPOINT": "https://127.0.0.1:10000/devstoreaccount1"}
    storage = photo_storage_settings(env, media_root=BASE, azure=True)
    assert photo_origins(storage) == ["https://127.0.0.1:10000"]
    named = photo_storage_settings({"STORAGE_ACCOUNT_NAME": "acct"}, media_root=BASE, azure=True)
    assert photo_origins(named) == ["https://acct.blob.core.windows.net"]
    assert photo_origins(photo_storage_settings({}, media_root=BASE, azure=False)) == []


def test_grant_sql_is_printed_quoted_without_any_database() -> None:
    """--print-sql needs no connection, nor PostgreSQL settings: an administrator can read the
    SQL before running it, and a name cannot break out of its quotes."""
    from localazure.services import manage

    result = manage(
        "grant_identity_access", "--principal", 'evil"; DROP TABLE x; --', "--print-sql", env={}
    )
    assert result.returncode == 0, result.stderr
    assert (
        "SELECT * FROM pgaadauth_create_principal('evil\"; DROP TABLE x; --', false, false);"
        in (result.stdout)
    )
    assert 'GRANT USAGE, CREATE ON SCHEMA public TO "evil""; DROP TABLE x; --";' in result.stdout
    assert "CREATE EXTENSION IF NOT EXISTS pg_trgm;" in result.stdout
