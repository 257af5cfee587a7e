"""Load from wrk (Debian's package, a native load generator: a Python one would share the
cores with the servers it loads), for the tests and benchmarks/. Each run reports one JSON
line through benchmarks/wrk_report.lua: requests, seconds, p50/p99 and errors (connect,
read, write, timeout, and answers other than 2xx/3xx)."""

import json
import math
import shutil
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

from localazure.services import PROJECT_DIR, unavailable

REPORT_SCRIPT = PROJECT_DIR / "benchmarks" / "wrk_report.lua"


def find_wrk() -> Path | None:
    found = shutil.which("wrk")
    return Path(found) if found else None


def wrk_threads(connections: int) -> int:
    return min(2, connections)


def wrk_command(
    url: str,
    *,
    seconds: float,
    connections: int,
    timeout: float = 10,
    requests: int | None = None,
) -> list[str]:
    """wrk on `url` for `seconds`; with `requests`, until that many answers (spread over its
    threads), `seconds` then being only the longest it may take."""
    wrk = find_wrk()
    if wrk is None:
        unavailable("wrk not found (Debian: apt-get install wrk)")
    threads = wrk_threads(connections)
    command = [
        str(wrk),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={seconds:.0f}s",
        f"--timeout={timeout:.0f}s",
        f"--script={REPORT_SCRIPT}",
        url,
    ]
    if requests is not None:
        command += ["--", str(math.ceil(requests / threads))]
    return command


def report(output: str) -> dict:
    """wrk's report (its last line), with requests per second."""
    result = json.loads(output.strip().splitlines()[-1])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def load_together(
    urls: Sequence[str],
    *,
    seconds: float,
    connections: int,
    timeout: float = 10,
    requests: int | None = None,
    env: Mapping[str, str] | None = None,
) -> list[dict]:
    """One wrk on each of `urls`, all at once (several instances under load together), for
    `seconds` or, given `requests`, until each has had that many answers (`seconds` then the
    longest it may take); a response slower than `timeout` counts as an error."""
    runs = [
        subprocess.Popen(
            wrk_command(
                url, seconds=seconds, connections=connections, timeout=timeout, requests=requests
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(env) if env is not None else None,
        )
        for url in urls
    ]
    threads = wrk_threads(connections) if requests is not None else None
    report_when_done = partial(_report_when_done, threads=threads, limit=seconds * 10 + 60)
    with ThreadPoolExecutor(len(runs)) as waiting:
        return list(waiting.map(report_when_done, runs))


def _report_when_done(run: subprocess.Popen, *, threads: int | None, limit: float) -> dict:
    """The report of a wrk run; with `threads`, wrk is interrupted (SIGINT: it reports, as
    on Ctrl+C) once that many of its threads said they had made their count of requests. A
    run still going after `limit` seconds is killed, and fails."""
    assert run.stdout is not None
    counting = threads  # the threads still making their count
    lines = []
    overdue = threading.Timer(limit, run.kill)
    overdue.start()
    try:
        for line in run.stdout:
            lines.append(line)
            if counting is not None and line.strip() == "stopped":
                counting -= 1
                if counting == 0:
                    run.send_signal(signal.SIGINT)
    finally:
        overdue.cancel()
    output = "".join(lines)
    assert run.wait() == 0, output
    assert not counting, f"wrk's --duration ran out before its count of requests:\n{output}"
    return report(output)
