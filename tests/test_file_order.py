"""The order test files are handed to the test processes (tests/file_order.py)."""

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.file_order import DurationRecorder, longest_first


def items(*nodeids: str) -> list[Any]:
    return [SimpleNamespace(nodeid=nodeid) for nodeid in nodeids]


def test_files_that_took_longest_come_first_with_their_tests_in_order(tmp_path: Path) -> None:
    durations = tmp_path / "durations.json"
    durations.write_text(
        json.dumps({"a.py::one": 1.0, "a.py::two": 1.0, "b.py::one": 30.0, "c.py::one": 5.0})
    )
    collected = items("a.py::one", "a.py::two", "b.py::one", "c.py::one", "c.py::two")
    longest_first(collected, durations)
    assert [item.nodeid for item in collected] == [
        "b.py::one",
        "c.py::one",
        "c.py::two",  # not timed yet: it goes with its file
        "a.py::one",
        "a.py::two",
    ]


def test_without_recorded_times_files_with_most_tests_come_first(tmp_path: Path) -> None:
    collected = items("a.py::one", "b.py::one", "b.py::two", "c.py::one")
    longest_first(collected, tmp_path / "none-yet.json")
    assert [item.nodeid for item in collected] == [
        "b.py::one",
        "b.py::two",
        "a.py::one",
        "c.py::one",
    ]


def test_a_run_records_its_tests_and_keeps_the_others(tmp_path: Path) -> None:
    durations = tmp_path / "cache" / "durations.json"
    durations.parent.mkdir()
    durations.write_text(json.dumps({"a.py::one": 2.0, "b.py::one": 9.0}))
    recorder = DurationRecorder(durations)
    for phase in (0.5, 3.0, 0.25):  # setup, call, teardown
        recorder.pytest_runtest_logreport(SimpleNamespace(nodeid="b.py::one", duration=phase))
    recorder.pytest_sessionfinish()
    assert json.loads(durations.read_text()) == {"a.py::one": 2.0, "b.py::one": 3.75}
