"""Load from wrk (Debian's package, a native load generator: a Python one would share the
cores with the servers it loads), for the tests and benchmarks/. Each run reports one JSON
line through benchmarks/wrk_report.lua: requests, seconds, p50/p99 and errors (connect,
read, write, timeout, and answers other than 2xx/3xx)."""

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from localazure.services import PROJECT_DIR, unavailable

REPORT_SCRIPT = PROJECT_DIR / "benchmarks" / "wrk_report.lua"


def find_wrk() -> Path | None:
    found = shutil.which("wrk")
    return Path(found) if found else None


def wrk_command(url: str, *, seconds: float, connections: int, timeout: float = 10) -> list[str]:
    wrk = find_wrk()
    if wrk is None:
        unavailable("wrk not found (Debian: apt-get install wrk)")
    return [
        str(wrk),
        f"--threads={min(2, connections)}",
        f"--connections={connections}",
        f"--duration={seconds:.0f}s",
        f"--timeout={timeout:.0f}s",
        f"--script={REPORT_SCRIPT}",
        url,
    ]


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
    env: Mapping[str, str] | None = None,
) -> list[dict]:
    """One wrk on each of `urls`, all at once (several instances under load together); a
    response slower than `timeout` counts as an error."""
    runs = [
        subprocess.Popen(
            wrk_command(url, seconds=seconds, connections=connections, timeout=timeout),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env) if env is not None else None,
        )
        for url in urls
    ]
    results = []
    for run in runs:
        output, errors = run.communicate(timeout=seconds * 10 + 60)
        assert run.returncode == 0, errors
        results.append(report(output))
    return results
