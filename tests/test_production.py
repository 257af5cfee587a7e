"""Running as App Service runs the app: Azure-mode settings, start.sh on several instances,
the health probe, HTTPS behind the front end, and error pages."""

import signal
import subprocess
import sys
import time
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from django.test import RequestFactory

from localazure.postgres import PostgresApp
from localazure.services import (
    PROJECT_DIR,
    AppServer,
    app_server,
    base_env,
    free_port,
    http_get,
    http_request,
    manage,
    migrated_sqlite,
)
from tests.helpers import AZURE_HOST, gunicorn_setting

HTTPS = {"Host": AZURE_HOST, "X-Forwarded-Proto": "https"}


AZURE_SETTINGS_ONLY = {
    # Enough for settings to load in Azure mode; nothing here is contacted by `check`.
    "WEBSITE_HOSTNAME": AZURE_HOST,
    "SECRET_KEY": "x" * 20 + "-a-long-random-looking-value-for-the-check-0123456789",
    "DBHOST": "my-server",
    "DBNAME": "restaurant",
    "DBUSER": "my-identity",
    "STORAGE_ACCOUNT_NAME": "myaccount",
    "AZURE_CLIENT_ID": "11111111-0000-4000-8000-00000000c11e",
}


def test_check_deploy_is_clean_in_azure_mode() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=AZURE_SETTINGS_ONLY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_warns_on_the_embedded_default() -> None:
    # The same check does catch insecure settings: it is not silenced.
    result = manage("check", "--deploy", "--fail-level", "WARNING", env={})
    assert result.returncode != 0
    assert "security.W004" in result.stderr and "security.W009" in result.stderr


def test_a_start_without_photo_storage_warns_and_goes_on(
    migrated_azure_mode_env: dict[str, str],
) -> None:
    """start.sh's steps before gunicorn (manage.py prepare_start): with the container missing,
    the storage check and the orphan purge each say so in the log, and the start goes on."""
    env = {**migrated_azure_mode_env, "STORAGE_CONTAINER_NAME": "no-such-container"}
    result = manage("prepare_start", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No migrations to apply" in result.stdout
    assert "Photo storage is not usable" in result.stderr
    assert "WARNING: photo uploads will fail until storage is fixed" in result.stderr
    assert "Could not list the stored photos" in result.stderr
    assert "WARNING: orphan photos stay until purge_orphan_photos runs again" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_a_start_whose_migration_fails_stops_there(tmp_path: Path) -> None:
    env = {"SQLITE_PATH": str(tmp_path / "missing-folder" / "db.sqlite3")}
    result = manage("prepare_start", env=env)
    assert result.returncode != 0
    assert "unable to open database file" in result.stderr
    assert "Photos are stored on local disk" not in result.stdout


def test_missing_secret_key_in_azure_mode_fails_fast_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in AZURE_SETTINGS_ONLY.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "The environment variable SECRET_KEY is required in Azure mode" in result.stderr
    started = subprocess.run(
        ["bash", "start.sh"],
        cwd=PROJECT_DIR,
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0 and "SECRET_KEY is required" in started.stderr


def test_secret_key_is_taken_from_the_environment_not_generated() -> None:
    code = "from django.conf import settings; print(settings.SECRET_KEY)"
    first = manage("shell", "-c", code, env=AZURE_SETTINGS_ONLY).stdout.split()[-1]
    second = manage("shell", "-c", code, env=AZURE_SETTINGS_ONLY).stdout.split()[-1]
    assert first == second == AZURE_SETTINGS_ONLY["SECRET_KEY"]


@pytest.mark.postgres
def test_two_instances_starting_together_migrate_once(
    postgres_app: PostgresApp, tmp_path: Path
) -> None:
    env = base_env(**postgres_app.env, MEDIA_ROOT=str(tmp_path / "media"))
    servers = [AppServer(env, tmp_path / f"instance{n}.log", start_sh=True) for n in (1, 2)]
    for server in servers:
        server.launch()
    try:
        for server in servers:
            server.wait()
            assert http_get(server.url + "/")[0] == HTTPStatus.OK
    finally:
        for server in servers:
            server.stop()
    logs = [server.log() for server in servers]
    both = "\n----\n".join(logs)
    assert sum(log.count("Applying restaurant_review.0001_initial") for log in logs) == 1, both
    assert sum("No migrations to apply" in log for log in logs) == 1, both
    assert all("Waiting for the migration lock" in log for log in logs), both


@pytest.mark.postgres
@pytest.mark.azurite
def test_azure_mode_behind_app_service_front_end(
    azure_mode_env: dict[str, str], tmp_path: Path
) -> None:
    with app_server(base_env(**azure_mode_env), tmp_path / "server.log", start_sh=True) as server:
        # Plain HTTP at the front end: redirected to HTTPS on the app's host name.
        status, headers, _ = http_request(server.url + "/", headers={"Host": AZURE_HOST})
        assert status == HTTPStatus.MOVED_PERMANENTLY
        assert headers["location"] == f"https://{AZURE_HOST}/"
        # HTTPS at the front end (X-Forwarded-Proto): served, with HSTS and secure cookies.
        status, headers, body = http_request(server.url + "/restaurant/new/", headers=HTTPS)
        assert status == HTTPStatus.OK and b"Add a restaurant" in body
        assert headers["strict-transport-security"].startswith("max-age=31536000")
        assert "Secure" in headers["set-cookie"] and "csrftoken" in headers["set-cookie"]
        # The platform's probes use the instance's address as Host; they are not rejected.
        status, headers, body = http_request(server.url + "/healthz", headers={"Host": "10.0.0.5"})
        assert status == HTTPStatus.OK and headers["content-type"] == "application/json"
        assert body == b'{"status": "ok"}'
        assert (
            http_request(server.url + "/robots933456.txt", headers={"Host": "10.0.0.5"})[0] == 404
        )
        # Any other page for an unknown host is a 400 in the site's layout.
        status, _, body = http_request(
            server.url + "/", headers={"Host": "evil.example", "X-Forwarded-Proto": "https"}
        )
        assert status == HTTPStatus.BAD_REQUEST and b"Bad request (400)" in body
    log = server.log()
    assert "Photo storage OK" in log  # start.sh checked the container
    assert '"GET /healthz HTTP/1.1" 200' in log  # gunicorn's access log on stdout


def test_health_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    env = base_env(DBHOST="127.0.0.1", DBPORT=str(free_port()), DBNAME="x", DBUSER="x", DBPASS="x")
    with app_server(env, tmp_path / "server.log") as server:
        status, headers, body = http_request(server.url + "/healthz")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE
        assert body == b'{"status": "unavailable", "failing": ["database"]}'
        assert "Connection refused" in server.log()
        status, headers, body = http_request(server.url + "/")
        assert status == HTTPStatus.SERVICE_UNAVAILABLE and headers["retry-after"] == "30"
        assert b"Temporarily unavailable (503)" in body


def test_health_is_200_with_the_database_up(client: Any, db: None) -> None:
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_server_error_page_in_site_layout() -> None:
    from azureproject.views import server_error

    request = RequestFactory().get("/")
    try:
        raise ValueError("a bug")
    except ValueError:
        response = server_error(request)
    assert response.status_code == HTTPStatus.INTERNAL_SERVER_ERROR
    assert (
        b"Something went wrong (500)" in response.content
        and b"Restaurant Review" in response.content
    )


def test_outage_outside_a_view_is_a_503_not_a_500() -> None:
    from azureproject.errors import DatabaseUnavailable
    from azureproject.views import server_error

    try:
        raise DatabaseUnavailable("Database unavailable: test")
    except DatabaseUnavailable:
        response = server_error(RequestFactory().get("/"))
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE


def test_client_mistakes_are_one_warning_line_and_real_errors_keep_their_traceback(
    tmp_path: Path,
) -> None:
    """Probes (bad Host, path traversal, too many fields, a broken multipart body) are logged
    as one WARNING line each, without a traceback."""
    database = migrated_sqlite(tmp_path / "db.sqlite3")
    env = base_env(SQLITE_PATH=str(database), MEDIA_ROOT=str(tmp_path / "media"))
    with app_server(env, tmp_path / "server.log") as server:
        probes = [
            ("GET", "/", {"Host": "evil.example"}, None),
            ("GET", "/media/..%2f..%2fetc/passwd", {}, None),
            ("GET", "/media/%2e%2e/%2e%2e/etc/passwd", {}, None),
            (
                "POST",
                "/restaurant/new/",
                {"Content-Type": "application/x-www-form-urlencoded"},
                "&".join(f"f{i}=x" for i in range(1200)).encode(),
            ),
            (
                "POST",
                "/restaurant/1/review/",
                {"Content-Type": "multipart/form-data; boundary=xyz"},
                b"--xyz\r\nContent-Disposition: form-data; name=\r\n\r\nbroken",
            ),
        ]
        for method, path, headers, body in probes:
            status, _, _ = http_request(
                server.url + path, method=method, headers=headers, body=body
            )
            assert 400 <= status < 500, (path, status)
    log = server.log()
    assert "Traceback" not in log
    assert "ERROR django" not in log
    assert "WARNING django.security.DisallowedHost" in log


def test_a_server_stopped_as_its_workers_boot_stops_without_waiting_for_them(
    tmp_path: Path,
) -> None:
    """App Service may stop an instance at any moment, also just after starting it: the
    master's SIGTERM reaches a worker that is still making its WSGI handler. The worker ends
    then too, rather than losing the signal and leaving the master to wait out
    graceful_timeout before killing it (SIGKILL)."""
    env = base_env(
        SQLITE_PATH=str(migrated_sqlite(tmp_path / "db.sqlite3")),
        MEDIA_ROOT=str(tmp_path / "media"),
        WEB_CONCURRENCY="4",
    )
    graceful_timeout = gunicorn_setting("graceful_timeout")
    assert isinstance(graceful_timeout, int)
    for attempt in range(3):
        server = AppServer(env, tmp_path / f"server-{attempt}.log").launch()
        assert server.process is not None
        try:
            while "Booting worker" not in server.log():  # the moment a worker begins
                assert server.process.poll() is None, server.log()
                time.sleep(0.005)
            server.process.send_signal(signal.SIGTERM)  # the master, as App Service stops it
            try:
                server.process.wait(timeout=graceful_timeout - 5)
            except subprocess.TimeoutExpired:
                pytest.fail(f"the master waited for a worker it had stopped:\n{server.log()}")
        finally:
            server.stop()
        assert "Shutting down: Master" in server.log()


# A process that loads gunicorn.conf.py and starts as gunicorn's master does (on_starting),
# with a handler of its own for SIGTERM (gunicorn's queues the signal), forks, and stops the
# new process at once.
FORK_THEN_STOP = """
import os, runpy, signal, sys, time
runpy.run_path("gunicorn.conf.py")["on_starting"](None)
signal.signal(signal.SIGTERM, lambda *_: None)
pid = os.fork()
if pid == 0:
    time.sleep(10)  # a worker still starting: the stop must end it even so
    os._exit(0)
os.kill(pid, signal.SIGTERM)
_, status = os.waitpid(pid, 0)
sys.exit(os.WTERMSIG(status) if os.WIFSIGNALED(status) else 100 + os.WEXITSTATUS(status))
"""


def test_a_stop_sent_the_moment_a_worker_is_forked_ends_it() -> None:
    """The window the test above can only hit by chance: the master's SIGTERM sent before
    the new worker has run a line of its own. The worker must end, not run the master's
    handler (which would lose the signal and leave the master waiting for it)."""
    stopped = subprocess.run(
        [sys.executable, "-c", FORK_THEN_STOP],
        cwd=PROJECT_DIR,
        env=base_env(PYTHONPATH=str(PROJECT_DIR)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Whether the signal reaches it before or after its first line, the same end.
    assert stopped.returncode == signal.SIGTERM, (stopped.returncode, stopped.stderr)
