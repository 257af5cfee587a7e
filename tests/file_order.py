"""The order test files are handed to the test processes: the longest of the last run first.

pytest-xdist (`--dist loadfile`) gives each process a whole file at a time, in collection
order, which it otherwise sorts by how many tests a file has: long files with few tests (the
start tests, the scale-out tests) came late and ran on one process after the others had
finished. Longest first, the files left at the end are short ones, and the processes finish
together.

Each run records what its tests took in `.ci/cache/test-durations.json`, which CI keeps; a
file's time is that of its tests collected now (a run of part of the suite orders its part),
and files not timed yet come after the timed ones.
run-tests.sh passes `--no-loadscope-reorder`, or xdist would put the files with most tests
first instead.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from localazure.services import PROJECT_DIR

DURATIONS = PROJECT_DIR / ".ci" / "cache" / "test-durations.json"


def file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def longest_first(items: list[pytest.Item], durations_path: Path = DURATIONS) -> None:
    """Sort `items` file by file: the files whose collected tests took longest first, then
    those not timed yet, most tests first (as xdist would order them). A file's tests keep
    their order: the sort is stable and they all have their file's key."""
    try:
        durations = json.loads(durations_path.read_text())
    except (OSError, ValueError):
        durations = {}
    seconds: Counter[str] = Counter()
    tests: Counter[str] = Counter()
    for item in items:
        seconds[file_of(item.nodeid)] += float(durations.get(item.nodeid, 0))
        tests[file_of(item.nodeid)] += 1
    items.sort(key=lambda item: (-seconds[file_of(item.nodeid)], -tests[file_of(item.nodeid)]))


class DurationRecorder:
    """What each test took in this run (setup, call and teardown), written out when the run
    ends, beside what earlier runs recorded for the tests this one did not run. Registered in
    the process that reports the tests: the main one under xdist."""

    def __init__(self, durations_path: Path = DURATIONS) -> None:
        self.path = durations_path
        self.seconds: Counter[str] = Counter()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[report.nodeid] += report.duration

    def pytest_sessionfinish(self) -> None:
        if not self.seconds:
            return
        try:
            known = json.loads(self.path.read_text())
        except (OSError, ValueError):
            known = {}
        known.update({nodeid: round(seconds, 2) for nodeid, seconds in self.seconds.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(known, indent=0, sort_keys=True) + "\n")
