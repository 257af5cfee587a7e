"""The HTTP servers this app could run under, side by side: the bare view (a tiny template, no
database: the ceiling) and the home page (cached) on each, loaded in interleaved rounds with
wrk (8 connections, medians), as docs/azure.md's "Request bodies" reports.

- a minimal Django site (benchmarks/minimal.py: the same bare view behind Django's four usual
  middlewares) on gunicorn's stock threaded worker: what any Django page costs here;
- gunicorn's stock threaded worker (gthread) running this app: the speed to keep, but a
  thread waits on every slow client;
- this app's worker (azureproject/serving/buffering_worker.py), as gunicorn.conf.py sets it;
- with --before REV, the same worker as it was at git revision REV (what a change to it costs);
- with --waitress DIR, waitress (DIR: a folder where `pip install --target DIR waitress` put
  it), which buffers every request before a thread sees it, in one process of 8 threads.

    .venv/bin/python -m benchmarks.servers --before 3be2456 --waitress /tmp/waitress

Each gunicorn runs 2 workers x 4 threads on the embedded default (SQLite, 20 restaurants).
Not part of the test suite.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from localazure.load import report, wrk_command
from localazure.services import (
    GUNICORN_COMMAND,
    PROJECT_DIR,
    base_env,
    free_port,
    manage,
    wait_for_http,
)

PAGES = {"bare view": "/__bare__/", "home page": "/"}
MINIMAL = "minimal Django, gthread"


def launch(command: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--before", help="a git revision: its buffering worker too")
    parser.add_argument("--waitress", type=Path, help="a folder with waitress installed in it")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=4)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="rr-servers-"))
    env = base_env(
        SQLITE_PATH=str(folder / "db.sqlite3"),
        MEDIA_ROOT=str(folder / "media"),
        DJANGO_SETTINGS_MODULE="benchmarks.settings",
        POST_LIMITS="off",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
        BIND_HOST="127.0.0.1",
    )
    for command in (("migrate", "--noinput"), ("seed_demo", "--restaurants=20")):
        done = manage(*command, env=env)
        if done.returncode != 0:
            sys.exit(done.stdout + done.stderr)
    gunicorn = GUNICORN_COMMAND
    quiet = "--access-logfile /dev/null"
    minimal = [sys.executable, "-m", "gunicorn", "benchmarks.minimal:application"]
    minimal += ["--workers=2", "--threads=4", "--worker-class=gthread", "--bind=127.0.0.1"]
    candidates: dict[str, tuple[list[str], dict[str, str]]] = {
        MINIMAL: (minimal, {}),
        "gunicorn gthread": (gunicorn, {"GUNICORN_CMD_ARGS": f"--worker-class gthread {quiet}"}),
        "buffering worker": (gunicorn, {"GUNICORN_CMD_ARGS": quiet}),
    }
    if args.before:
        old = folder / "before"
        old.mkdir()
        # Where the worker lives at that revision (it moved into azureproject/serving/).
        moved = "azureproject/serving/buffering_worker.py"
        for path in (moved, "azureproject/buffering_worker.py"):
            shown = subprocess.run(
                ["git", "show", f"{args.before}:{path}"],
                cwd=PROJECT_DIR,
                capture_output=True,
                text=True,
            )
            if shown.returncode == 0:
                break
        shown.check_returncode()
        source = shown.stdout
        (old / "buffering_worker_before.py").write_text(source)
        worker = "buffering_worker_before.BufferingThreadWorker"
        candidates[f"buffering worker at {args.before}"] = (
            gunicorn,
            {"GUNICORN_CMD_ARGS": f"--worker-class {worker} {quiet}", "PYTHONPATH": str(old)},
        )
    ports = {name: free_port() for name in candidates}
    if args.waitress:
        ports["waitress"] = free_port()
        command = [sys.executable, "-m", "waitress", "--threads=8"]
        command += [f"--listen=127.0.0.1:{ports['waitress']}", "azureproject.wsgi:application"]
        candidates["waitress"] = (command, {"PYTHONPATH": str(args.waitress.resolve())})

    # The minimal site binds where its command says, and has the bare view only.
    candidates[MINIMAL][0][-1] += f":{ports[MINIMAL]}"
    servers = {
        name: launch(command, {**env, "PORT": str(ports[name]), **extra})
        for name, (command, extra) in candidates.items()
    }
    try:
        for name, server in servers.items():
            wait_for_http(f"http://127.0.0.1:{ports[name]}/__bare__/", process=server)
        # The minimal site has the bare view only.
        loads = [(n, p) for n in servers for p in PAGES if p == "bare view" or n != MINIMAL]
        runs: dict[tuple[str, str], list[dict]] = {load: [] for load in loads}
        for _ in range(args.rounds):
            for name, page in loads:
                url = f"http://127.0.0.1:{ports[name]}{PAGES[page]}"
                command = wrk_command(url, seconds=args.seconds, connections=8)
                output = subprocess.run(command, capture_output=True, text=True).stdout
                runs[(name, page)].append(report(output))
    finally:
        for server in servers.values():
            os.killpg(server.pid, signal.SIGTERM)
    print(f"\n{'':36}{'req/s':>8}{'p99 ms':>9}{'errors':>8}  ({args.rounds} rounds, medians)")
    for (name, page), results in runs.items():
        rps = statistics.median(r["rps"] for r in results)
        p99 = statistics.median(r["p99_ms"] for r in results)
        errors = sum(r["errors"] for r in results)
        print(f"{name + ', ' + page:36}{rps:8.0f}{p99:9.1f}{errors:8}")


if __name__ == "__main__":
    main()
