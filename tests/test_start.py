"""The README's run command, start.sh, and `manage.py runserver` on a fresh clone: a copy of
the tracked files only, with no database, no collected static files and no photos."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from http import HTTPStatus
from pathlib import Path

from localazure.services import (
    PROJECT_DIR,
    AppServer,
    base_env,
    free_port,
    http_get,
    signed_in_staff,
    unavailable,
    wait_for_http,
)

SYSTEM_PYTHON = Path("/usr/bin/python3")
# Downloaded by run-tests.sh, so a fresh clone installs its requirements without the network.
WHEELS = PROJECT_DIR / ".ci" / "cache" / "wheels"


def readme_commands() -> list[str]:
    """The shell blocks of the README, in order: the run command, demo data and an admin,
    then the test command."""
    blocks = re.findall(r"```sh\n(.*?)\n\s*```", (PROJECT_DIR / "README.md").read_text(), re.S)
    return [textwrap.dedent(block) for block in blocks]


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


def test_readme_run_command_works_with_the_distributions_python(tmp_path: Path) -> None:
    """Debian's /usr/bin/python3 refuses `pip install` (PEP 668): the run command makes and
    uses the project's .venv, starts a few workers on loopback and says which URL to open."""
    if not SYSTEM_PYTHON.exists():
        unavailable("no distribution Python at /usr/bin/python3")
    if not list(WHEELS.glob("*.whl")):
        unavailable(f"no wheels in {WHEELS} (./run-tests.sh downloads them)")
    clone = fresh_clone(tmp_path / "clone")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "python3").symlink_to(SYSTEM_PYTHON)
    env = base_env(
        PATH=f"{shim}:{os.environ['PATH']}",
        HOME=str(tmp_path / "home"),
        # Requirements from the local wheels: tests never leave loopback.
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELS),
    )
    server = AppServer(env, tmp_path / "server.log", start_sh=True)
    for name in ("PYTHON", "VIRTUAL_ENV", "WEB_CONCURRENCY", "BIND_HOST", "PYTHONPATH"):
        server.env.pop(name, None)  # as a new user's shell would have it
    port = server.port
    server.command = ["bash", "-c", readme_commands()[0]]
    server.cwd = clone
    server.start(timeout=240)
    try:
        status, body = http_get(f"http://localhost:{port}/")
        assert status == HTTPStatus.OK and b"No restaurants yet" in body
        populate_as_the_readme_says(clone, env, f"http://localhost:{port}")
    finally:
        server.stop()
    log = server.log()
    config = (clone / ".venv" / "pyvenv.cfg").read_text()
    assert re.search(r"^executable = /usr/bin/python3", config, re.M), config
    assert f"Listening at: http://127.0.0.1:{port}" in log
    assert f"Restaurant Review is ready: open http://localhost:{port}/" in log
    assert log.count("Booting worker") == 2
    assert "Traceback" not in log


def populate_as_the_readme_says(clone: Path, env: dict[str, str], url: str) -> None:
    """The README's second step, while the site runs: demo data, then an admin (the password
    typed at its prompt here comes from the environment, as --noinput reads it)."""
    seed, admin = readme_commands()[1].splitlines()
    seeded = subprocess.run(
        ["bash", "-c", seed], cwd=clone, env=env, capture_output=True, text=True, timeout=300
    )
    assert seeded.returncode == 0, seeded.stderr
    made = subprocess.run(
        ["bash", "-c", f"{admin} --noinput"],
        cwd=clone,
        env={**env, "DJANGO_SUPERUSER_PASSWORD": "a-newcomer's-password"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    status, body = http_get(url + "/")
    home = body.decode()
    cards = home.count('class="restaurant-card"')
    assert status == HTTPStatus.OK and cards == 24
    # Most cards on the first page show a photo rather than the placeholder.
    assert home.count("cover-placeholder") < cards / 3, home.count("cover-placeholder")
    # The admin signs in at /admin/, as the README says, and may manage users: a superuser.
    staff = signed_in_staff(url, "admin", "a-newcomer's-password")
    users = staff.get(url + "/admin/auth/user/", timeout=30)
    assert users.status_code == HTTPStatus.OK and "admin@example.com" in users.text


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


def python_chosen(tmp_path: Path, **env: str) -> str:
    """The interpreter scripts/python-env.sh picks for requirements.txt, run in a copy of the
    project's requirements (so nothing is made in the project itself)."""
    for name in ("requirements.txt", "requirements-dev.txt", "scripts/python-env.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_DIR / name, tmp_path / name)
    clean = {k: v for k, v in base_env().items() if k not in {"PYTHON", "VIRTUAL_ENV"}}
    result = subprocess.run(
        ["bash", "-c", '. scripts/python-env.sh && use_python requirements.txt && echo "$PYTHON"'],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def test_on_app_service_start_sh_installs_nothing(tmp_path: Path) -> None:
    assert python_chosen(tmp_path, WEBSITE_HOSTNAME="app.azurewebsites.net") == "python3"
    assert not (tmp_path / ".venv").exists()


def test_an_activated_virtual_environment_is_used_and_installed_once(tmp_path: Path) -> None:
    """A venv whose requirements are installed already (the stamp matches): used as it is."""
    venv = tmp_path / "my-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    first = subprocess.run(
        ["bash", "-c", "cat requirements*.txt | cksum"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (venv / ".restaurant-review-requirements.txt.installed").write_text(first)
    project = tmp_path / "project"
    project.mkdir()
    assert python_chosen(project, VIRTUAL_ENV=str(venv)) == f"{venv}/bin/python"
    assert not (project / ".venv").exists()
    # The PYTHON the tests (or a person) set wins, and nothing is installed into it.
    assert python_chosen(project, PYTHON="/opt/python/bin/python3") == "/opt/python/bin/python3"


def test_start_sh_on_a_fresh_clone_migrates_serves_and_collects_a_changed_stylesheet(
    tmp_path: Path,
) -> None:
    """A fresh clone's first start migrates and serves hashed static files; after a change to
    the stylesheet, the next start collects it again, under a new name."""
    clone = fresh_clone(tmp_path / "clone")
    home = tmp_path / "home"

    def start() -> AppServer:
        server = AppServer(base_env(HOME=str(home)), tmp_path / "server.log", start_sh=True)
        server.command = ["bash", str(clone / "start.sh")]
        server.cwd = clone
        return server.start()

    def served_css(server: AppServer) -> tuple[str, bytes]:
        status, body = http_get(server.url + "/")
        assert status == HTTPStatus.OK and b"No restaurants yet" in body
        href = body.decode().split('rel="stylesheet" href="')[1].split('"')[0]
        css_status, css = http_get(server.url + href)
        assert css_status == HTTPStatus.OK and b"Restaurant Review" in css
        return href, css

    server = start()
    try:
        first_href, _ = served_css(server)
        assert first_href.startswith("/static/css/site.") and first_href != "/static/css/site.css"
        assert http_get(server.url + "/restaurant/1/")[0] == HTTPStatus.NOT_FOUND
    finally:
        server.stop()
    assert (clone / "db.sqlite3").exists() and (clone / "staticfiles" / "staticfiles.json").exists()
    assert "Applying restaurant_review.0001_initial" in server.log()
    # No control socket in the home directory for a second instance to take over.
    assert not (home / ".gunicorn").exists()

    stylesheet = clone / "static" / "css" / "site.css"
    stylesheet.write_text(stylesheet.read_text() + "\n/* changed-after-first-start */\n")
    server = start()
    try:
        second_href, css = served_css(server)
    finally:
        server.stop()
    assert second_href != first_href
    assert b"changed-after-first-start" in css
