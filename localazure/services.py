"""Real processes: the app under start.sh or gunicorn, and helpers to run and wait for them.

A component that this machine lacks raises ComponentMissing with the reason; the tests skip
on it on a laptop and fail under CI=true (tests/conftest.py), a benchmark stops with it.
"""

import atexit
import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NoReturn

import requests
import trustme

PROJECT_DIR = Path(__file__).resolve().parent.parent


class ComponentMissing(RuntimeError):
    """A real component (a server binary, a tool) this machine does not have."""


def unavailable(reason: str) -> NoReturn:
    raise ComponentMissing(reason)


def loopback_certificate(base: Path) -> Path:
    """A new CA and a certificate it signed for 127.0.0.1 and localhost, written to `base` as
    ca.pem, cert.pem and key.pem; returns the CA file, for clients to trust."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    cert.private_key_pem.write_to_path(str(base / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(base / "cert.pem"))
    return base / "ca.pem"


class JSONRequestHandler(BaseHTTPRequestHandler):
    """A quiet request handler for the tests' emulated endpoints, answering in JSON."""

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hung up (a stopped test, a TLS handshake given up) is no error."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, ssl.SSLError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class ThreadedHTTPServer:
    """An HTTP server on a free loopback port, serving from its own thread; over TLS with a
    loopback_certificate() made in `tls_dir`, if given."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, tls_dir: Path | None = None):
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self.ca_file: Path | None = None
        if tls_dir is not None:
            self.ca_file = loopback_certificate(tls_dir)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(tls_dir / "cert.pem", tls_dir / "key.pem")
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = self._server.server_address[1]

    def start(self) -> None:
        # stop() waits until the loop next looks at its flag, once a poll interval (0.5 s by
        # default); tests stop these servers as often as they start them.
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def stop_process_group(process: subprocess.Popen | None, *, timeout: float) -> None:
    """SIGTERM to a process started with start_new_session and its children (its group),
    SIGKILL if it has not exited within `timeout` s; nothing if it is not running."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def migrate_template(env: Mapping[str, str]) -> None:
    """`manage.py migrate` for a database that copies are made from; a failure stops here."""
    migrated = manage("migrate", "--noinput", env=env)
    if migrated.returncode != 0:
        raise RuntimeError(f"migrate failed on the template:\n{migrated.stderr}")


# The ports free_port() hands out: below the range the kernel takes the ports of outgoing
# connections and of bind(0) from (ip_local_port_range: 32768-60999 on Linux), so that neither
# takes one between its choice and its server's bind (a server that starts through start.sh
# binds seconds later); and a block for each test process (pytest-xdist's gw0, gw1, ... of
# PYTEST_XDIST_WORKER_COUNT), so that two processes never choose the same one.
PORTS = range(20000, 32000)
_ports_handed_out = itertools.count()


def port_block() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    index = int(worker[2:]) if re.fullmatch(r"gw\d+", worker) else 0
    processes = max(int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1), index + 1)
    size = len(PORTS) // processes
    return PORTS[index * size : (index + 1) * size]


def free_port() -> int:
    """A loopback port nothing listens on, from this process's block: each one in turn, so
    none twice in a test session until the block has gone round."""
    block = port_block()
    for _ in block:
        port = block[next(_ports_handed_out) % len(block)]
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use
                continue
        return port
    raise RuntimeError(f"no free loopback port in {block.start}-{block.stop - 1}")


def http_request(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
    source: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request to a loopback server, from the loopback address `source` (127.0.0.N:
    each visitor its own) if given. Redirects are returned, never followed (an HTTPS redirect
    to the public host name must not leave this machine)."""
    source_address = (source, 0) if source else None
    parts = urllib.parse.urlsplit(url)
    assert parts.hostname in {"127.0.0.1", "localhost"}, f"tests talk to loopback only: {url}"
    if parts.scheme == "https":  # the test's own certificate, on loopback
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection: http.client.HTTPConnection = http.client.HTTPSConnection(
            parts.hostname,
            parts.port,
            timeout=timeout,
            context=context,
            source_address=source_address,
        )
    else:
        connection = http.client.HTTPConnection(
            parts.hostname, parts.port, timeout=timeout, source_address=source_address
        )
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, path or "/", body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def http_get(
    url: str, *, headers: Mapping[str, str] | None = None, timeout: float = 10
) -> tuple[int, bytes]:
    status, _, body = http_request(url, headers=headers, timeout=timeout)
    return status, body


def wait_for_http(
    url: str, *, process: subprocess.Popen | None = None, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before answering {url}")
        try:
            http_get(url, timeout=2)
            return
        except OSError:
            time.sleep(0.05)  # a refused connection costs next to nothing; go on once it is up
    raise TimeoutError(f"nothing answered {url} within {timeout} s")


def post_form(
    base: str,
    page: str,
    action: str,
    fields: Mapping[str, str],
    *,
    photo: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 60,
    source: str | None = None,
) -> tuple[int, float]:
    """Post a review form as a browser would: the page's CSRF cookie and token first, then a
    multipart body (with `photo` as a JPEG file). Returns the status of the page if it failed,
    else of the POST, and how long that request took."""
    start = time.monotonic()
    status, response_headers, body = http_request(
        base + page, headers=headers, timeout=timeout, source=source
    )
    if status != 200:
        return status, time.monotonic() - start
    cookie = response_headers.get("set-cookie", "").split(";")[0]
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    assert token is not None, "no CSRF token on the form page"
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {"csrfmiddlewaretoken": token.group(1).decode(), **fields}.items()
    ]
    if photo is not None:
        disposition = 'Content-Disposition: form-data; name="photo"; filename="photo.jpg"'
        parts.append(
            f"--{boundary}\r\n{disposition}\r\nContent-Type: image/jpeg\r\n\r\n".encode()
            + photo
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    host = (headers or {}).get("Host")
    referer = f"https://{host}{page}" if host else base + page
    post_headers = {
        **(headers or {}),
        "Cookie": cookie,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Referer": referer,
    }
    start = time.monotonic()
    status, _, _ = http_request(
        base + action,
        method="POST",
        headers=post_headers,
        body=b"".join(parts),
        timeout=timeout,
        source=source,
    )
    return status, time.monotonic() - start


def signed_in_staff(base: str, username: str, password: str) -> requests.Session:
    """A browser session signed in to the admin of the server at `base` (loopback)."""
    assert urllib.parse.urlsplit(base).hostname in {"127.0.0.1", "localhost"}
    staff = requests.Session()
    # No connection kept between requests: a server stopping (SIGTERM, as App Service stops
    # it) waits out idle kept-alive connections, and tests stop many servers.
    staff.headers["Connection"] = "close"
    login = staff.get(base + "/admin/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
    assert token is not None, login.status_code
    signed_in = staff.post(
        base + "/admin/login/?next=/admin/",
        data={"csrfmiddlewaretoken": token.group(1), "username": username, "password": password},
        headers={"Referer": base + "/admin/login/"},
        timeout=30,
    )
    assert signed_in.url == base + "/admin/", signed_in.url
    return staff


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 15) -> None:
    """Check `condition` until it holds, a moment apart, or fail after `timeout` s naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.1)


def manage(*args: str, env: Mapping[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in its own process, with `env` over the test environment."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_DIR,
        env=base_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


_migrated_sqlite: list[Path] = []


def migrated_sqlite(path: Path) -> Path:
    """An embedded-default database at `path` with every migration applied: a copy of one the
    app's migrations ran on once in this process (migrate is a second of a process each)."""
    if not _migrated_sqlite:
        template = Path(tempfile.mkdtemp(prefix="rr-sqlite-")) / "migrated.sqlite3"
        atexit.register(shutil.rmtree, template.parent, ignore_errors=True)
        migrate_template({"SQLITE_PATH": str(template)})
        _migrated_sqlite.append(template)
    shutil.copyfile(_migrated_sqlite[0], path)
    return path


def shell_output(code: str, *, env: Mapping[str, str]) -> str:
    """What `manage.py shell -c CODE` prints last (its result; log lines may come first)."""
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def base_env(**overrides: str) -> dict[str, str]:
    """The environment for a server under test: this one, less anything Azure or Django."""
    drop = (
        "WEBSITE_", "AZURE_", "DB", "STORAGE_", "DJANGO_", "IDENTITY_", "MSI_", "SECRET_KEY",
        "REDIS_",
    )  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["PYTHON"] = sys.executable
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


# The app under gunicorn as gunicorn.conf.py configures it (start.sh's last step).
GUNICORN_COMMAND = [
    sys.executable, "-m", "gunicorn", "azureproject.wsgi", "--config", "gunicorn.conf.py"
]  # fmt: skip


class AppServer:
    """The app's gunicorn, as gunicorn.conf.py configures it, on a free loopback port; with
    `start_sh`, through start.sh (prepare_start, collectstatic, then gunicorn), as App
    Service starts it: for tests of start.sh itself, and for servers whose database nothing
    else migrates."""

    def __init__(
        self,
        env: Mapping[str, str],
        log_path: Path,
        *,
        start_sh: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {"PORT": str(self.port), "WEB_CONCURRENCY": "1", "BIND_HOST": "127.0.0.1", **env}
        if tls:
            # gunicorn terminates TLS itself, standing in for App Service's front end.
            self.env["GUNICORN_CMD_ARGS"] = f"--certfile={tls[0]} --keyfile={tls[1]}"
        self.process: subprocess.Popen | None = None
        self.cwd = PROJECT_DIR
        self.command = ["bash", str(PROJECT_DIR / "start.sh")] if start_sh else [*GUNICORN_COMMAND]

    def launch(self) -> "AppServer":
        """Start the process without waiting for it to answer."""
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait(self, *, timeout: float = 90) -> "AppServer":
        try:
            wait_for_http(self.url + "/healthz", process=self.process, timeout=timeout)
        except Exception:
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.log()}") from None
        return self

    def start(self, *, timeout: float = 90) -> "AppServer":
        return self.launch().wait(timeout=timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        stop_process_group(self.process, timeout=20)


@contextmanager
def app_server(
    env: Mapping[str, str],
    log_path: Path,
    *,
    timeout: float = 90,
    start_sh: bool = False,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[AppServer]:
    server = AppServer(env, log_path, start_sh=start_sh, tls=tls)
    server.start(timeout=timeout)
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def instances_together(
    env: Mapping[str, str],
    count: int,
    log_dir: Path,
    *,
    start_sh: bool = False,
    timeout: float = 180,
) -> Iterator[list[AppServer]]:
    """`count` instances of the app with the same settings, started together as App Service
    starts a scaled-out site: all launched, then each waited for; all stopped afterwards."""
    log_dir.mkdir(parents=True, exist_ok=True)
    servers = [
        AppServer(env, log_dir / f"instance-{index}.log", start_sh=start_sh)
        for index in range(count)
    ]
    try:
        for server in servers:
            server.launch()
        for server in servers:
            server.wait(timeout=timeout)
        yield servers
    finally:
        for server in servers:
            server.stop()


def worker_pids(master_pid: int) -> list[int]:
    """The gunicorn master's workers."""
    return [
        int(pid)
        for pid in Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    ]


def worker_memory_mb(master_pid: int, *, field: str = "VmRSS") -> list[float]:
    """A /proc status figure of each gunicorn worker, in MB: VmRSS now, or VmHWM (the peak)."""
    sizes = []
    for pid in worker_pids(master_pid):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def workers_cpu_seconds(master_pid: int) -> float:
    """CPU time the gunicorn master's workers have used so far, user and system."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in worker_pids(master_pid):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks
