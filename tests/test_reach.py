"""The isolation probe tells accepted, refused and silent apart, on real sockets of this host."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness import reach
from harness.reach import Reach
from tests import _servers


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server.getsockname()[1]


def test_a_listening_port_is_accepted(listening: int) -> None:
    assert reach.probe("127.0.0.1", listening) is Reach.ACCEPTED


def test_a_closed_port_is_refused() -> None:
    assert reach.probe("127.0.0.1", _servers.free_port()) is Reach.REFUSED


def test_a_port_that_never_answers_is_silent_not_refused() -> None:
    # A listener whose accept queue is full drops further handshakes: the attempt times out, as behind a filter.
    with socket.create_server(("127.0.0.1", 0), backlog=0) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):
            assert reach.probe("127.0.0.1", port, timeout_s=0.5) is Reach.SILENT


def test_local_addresses_come_from_the_kernels_local_routes(tmp_path: Path) -> None:
    fib_trie = tmp_path / "fib_trie"
    fib_trie.write_text(
        "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n"
        "     +-- 10.88.0.0/16 2 0 2\n        |-- 10.88.0.1\n           /32 host LOCAL\n"
        "     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\n"
        "     |-- 192.0.2.2\n        /32 host LOCAL\n"
        "Local:\n     |-- 10.88.0.1\n           /32 host LOCAL\n"
    )
    assert reach.local_addresses(fib_trie) == ("127.0.0.1", "10.88.0.1", "192.0.2.2")


def test_local_addresses_of_this_host_answer_on_a_port_bound_to_every_address() -> None:
    with socket.create_server(("0.0.0.0", 0)) as server:
        port = server.getsockname()[1]
        assert {reach.probe(address, port) for address in reach.local_addresses()} == {Reach.ACCEPTED}


def test_without_a_routing_table_only_loopback_is_known(tmp_path: Path) -> None:
    assert reach.local_addresses(tmp_path / "missing") == ("127.0.0.1",)
