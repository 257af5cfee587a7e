"""localazure's own helpers, where tests depend on them being right."""

import socket
from pathlib import Path

import pytest

from localazure.services import free_port, port_block

EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def test_free_ports_are_out_of_the_kernels_way_and_each_test_process_has_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Outgoing connections and bind(0) take ports from the ephemeral range, and test processes
    choose theirs at the same time: a server's port chosen there, or by another process too,
    was sometimes taken before the server bound it ("Address already in use")."""
    lowest_ephemeral = (
        int(EPHEMERAL_RANGE.read_text().split()[0]) if EPHEMERAL_RANGE.exists() else 32768
    )
    ports = [free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(port in port_block() for port in ports)
    for processes in (3, 20):
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", str(processes))
        blocks = []
        for index in range(processes):  # only looked at: other processes hand theirs out
            monkeypatch.setenv("PYTEST_XDIST_WORKER", f"gw{index}")
            blocks.append(set(port_block()))
        assert max(max(block) for block in blocks) < lowest_ephemeral
        assert sum(map(len, blocks)) == len(set().union(*blocks))  # no port in two blocks


def test_a_port_something_listens_on_is_passed_over() -> None:
    block = list(port_block())
    turn = block.index(free_port())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", block[(turn + 1) % len(block)]))  # the next in turn
        taken.listen()
        assert free_port() == block[(turn + 2) % len(block)]
