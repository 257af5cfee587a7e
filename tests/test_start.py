"""The README's run command, start.sh, and `manage.py runserver` on a fresh clone: a copy of
the tracked files only, with no database, no collected static files and no photos."""

import shutil
import subprocess
import sys
from http import HTTPStatus
from pathlib import Path

from tests.services import PROJECT_DIR, AppServer, base_env, free_port, http_get, wait_for_http


def fresh_clone(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True, check=True
    ).stdout.split(b"\0")
    for name in filter(None, files):
        source = PROJECT_DIR / name.decode()
        if source.exists():
            (target / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name.decode())
    assert not (target / "staticfiles").exists() and not (target / "db.sqlite3").exists()
    return target


def test_start_sh_on_a_fresh_clone_migrates_and_serves(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    server = AppServer(base_env(), tmp_path / "server.log")
    server.command = ["bash", str(clone / "start.sh")]
    server.cwd = clone
    server.start()
    try:
        status, body = http_get(server.url + "/")
        assert status == HTTPStatus.OK and b"No restaurants yet" in body
        css = body.decode().split('rel="stylesheet" href="')[1].split('"')[0]
        assert css.startswith("/static/css/site.") and css != "/static/css/site.css"  # hashed
        css_status, css_body = http_get(server.url + css)
        assert css_status == HTTPStatus.OK and b"Restaurant Review" in css_body
        assert http_get(server.url + "/restaurant/1/")[0] == HTTPStatus.NOT_FOUND
    finally:
        server.stop()
    assert (clone / "db.sqlite3").exists() and (clone / "staticfiles" / "staticfiles.json").exists()
    assert "Applying restaurant_review.0001_initial" in server.log()


def test_runserver_on_a_fresh_clone_serves_pages_and_css(tmp_path: Path) -> None:
    clone = fresh_clone(tmp_path / "clone")
    env = base_env()
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=clone,
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (tmp_path / "runserver.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        status, body = http_get(f"http://127.0.0.1:{port}/")
        assert status == HTTPStatus.OK and b'href="/static/css/site.css"' in body
        css_status, css_body = http_get(f"http://127.0.0.1:{port}/static/css/site.css")
        assert css_status == HTTPStatus.OK and b"Restaurant Review" in css_body
    finally:
        process.terminate()
        process.wait(timeout=20)
