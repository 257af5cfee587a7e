"""gunicorn settings for App Service (Azure mode) and the local run command (embedded default)."""

import ctypes
import ctypes.util
import os
import signal
import threading
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from azureproject.config import (
    azure_mode,
    database_settings,
    describe_connections,
    gunicorn_threads,
    gunicorn_workers,
)

AZURE_MODE = azure_mode(os.environ)
# PORT: the port App Service (or you) want the app on.
port = os.environ.get("PORT", "8000")
# BIND_HOST: the address to listen on. App Service's front end reaches the container from
# outside, so 0.0.0.0 there; on the embedded default only this machine (127.0.0.1).
bind_host = os.environ.get("BIND_HOST") or ("0.0.0.0" if AZURE_MODE else "127.0.0.1")
bind = f"{bind_host}:{port}"
# WEB_CONCURRENCY: worker processes (Azure mode: 2 per CPU + 1; embedded default: 2).
workers = gunicorn_workers(os.environ)
# GUNICORN_THREADS: threads per worker; requests mostly wait on the database and storage.
threads = gunicorn_threads(os.environ)
# gunicorn's threaded worker, reading each request whole before a thread takes it: clients
# that send slowly hold no thread (azureproject/serving/buffering_worker.py).
worker_class = "azureproject.serving.buffering_worker.BufferingThreadWorker"
# A request still running after this long is killed and logged (worker_abort): well inside App
# Service's 230-s front-end limit; the app's own waits (database, storage, tokens) are seconds.
timeout = 120
graceful_timeout = 30
keepalive = 5
# Django is loaded once, in the master, and each worker is forked from it with the code loaded:
# a worker starts without importing it again (docs/testing.md), and the workers share those
# pages of memory. What must be a worker's own (telemetry's threads, the WSGI handler that the
# tracing middleware is part of) each makes after the fork (post_worker_init).
preload_app = True
# Access and error logs to stdout/stderr, where App Service's log stream reads them.
accesslog = "-"
errorlog = "-"
# FORWARDED_ALLOW_IPS: whose X-Forwarded-* headers to trust. In Azure mode App Service's front
# end (the only way in) terminates TLS and sets them; elsewhere no proxy is trusted, so no
# client can claim X-Forwarded-Proto: https.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS") or ("*" if AZURE_MODE else "127.0.0.1")
# No header becomes SCRIPT_NAME or PATH_INFO (gunicorn's default takes them from a trusted
# front end, and in Azure mode every address is trusted): App Service's front end sends
# neither, so only a client could, and every link on a cached page would carry its prefix.
forwarder_headers = ""
# No control socket: its default path (~/.gunicorn/gunicorn.ctl) is shared by every instance
# on the machine, and a second one would take it over and delete it when it stops.
control_socket_disable = True


def _return_freed_memory() -> None:
    """glibc raises its mmap threshold as large blocks are freed, after which a photo's decoded
    pixels come from per-thread heaps that are rarely given back: 8 parallel uploads left a
    worker at 396 MB. A fixed threshold (128 KiB, its default) keeps big blocks in mmap, freed
    at once (151 MB). Set in the master, so every worker forked from it has it too."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return
    try:
        mallopt = ctypes.CDLL(libc_name).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    m_mmap_threshold = -3
    mallopt(m_mmap_threshold, 128 * 1024)


_return_freed_memory()


# The request each thread of this worker is serving, so one killed by the timeout is named.
_in_flight: dict[int, str] = {}


def pre_request(worker: object, req: Any) -> None:
    _in_flight[threading.get_ident()] = f"{req.method} {req.path}"


# The signals that stop a worker (SIGTERM: graceful; SIGINT and SIGQUIT: at once).
_STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGQUIT}


def _hold_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)


def _release_stop_signals() -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def _stop_signals_end_the_new_process() -> None:
    """A new worker starts with the master's signal handlers, which would queue a stop in the
    worker's copy of the master and lose it: the master would then wait out graceful_timeout
    for a worker it had stopped. Held across the fork, a stop meant for the worker waits until
    it has the default action (end the process), and from its own handlers on (gunicorn's
    init_process) it ends the worker once post_worker_init returns."""
    for number in _STOP_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    _release_stop_signals()


def on_starting(server: object) -> None:
    """In the master, once, before it forks a worker: the stop signals held across each fork.
    Here rather than as the file loads, so that a process that only reads these settings gets
    no fork handlers."""
    os.register_at_fork(
        before=_hold_stop_signals,
        after_in_parent=_release_stop_signals,
        after_in_child=_stop_signals_end_the_new_process,
    )


def post_worker_init(worker: object) -> None:
    """In the new worker, once a stop reaches its own handlers (which end it as soon as this
    returns): its telemetry, then its WSGI handler (azureproject/wsgi.py)."""
    from azureproject.wsgi import start_worker

    start_worker()


def post_request(worker: object, req: Any, environ: object, resp: object) -> None:
    _in_flight.pop(threading.get_ident(), None)


def worker_abort(worker: Any) -> None:
    """The arbiter killed this worker for not answering within `timeout` seconds: say which
    requests it was serving (gunicorn only logs the worker's pid)."""
    for request in list(_in_flight.values()) or ["no request (the worker itself was stuck)"]:
        worker.log.error("Killed by gunicorn's %s-s timeout while serving %s", timeout, request)


def _database_connections() -> str | None:
    """What this instance will hold of the database server (DB_MAX_CONNECTIONS, PgBouncer).
    Settings that are wrong are reported by the workers, which load them."""
    try:
        database = database_settings(
            os.environ, base_dir=Path(__file__).resolve().parent, azure=AZURE_MODE
        )
        return describe_connections(os.environ, database)
    except ImproperlyConfigured:
        return None


def when_ready(server: object) -> None:
    """Say where to open the site, and what the instance holds of the database: gunicorn
    itself only prints the address it bound."""
    if connections := _database_connections():
        server.log.info("%s", connections)  # type: ignore[attr-defined]
    if AZURE_MODE:
        url = f"https://{os.environ['WEBSITE_HOSTNAME'].strip()}/"
    else:
        host = "localhost" if bind_host in {"127.0.0.1", "0.0.0.0", "::", "[::]"} else bind_host
        url = f"http://{host}:{port}/"
    server.log.info("Restaurant Review is ready: open %s", url)  # type: ignore[attr-defined]
