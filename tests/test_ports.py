"""Ports for the servers tests and bench runs start: free, outside the ephemeral range, unique."""

from __future__ import annotations

import socket

import pytest

from scripts import ports

pytestmark = pytest.mark.unit


def test_ports_are_below_the_range_outgoing_connections_take_theirs_from() -> None:
    low, _ = ports.ephemeral_range()
    base = ports.free_port_block(5)
    assert base >= ports.LOWEST
    assert base + 5 <= low
    assert all(ports.port_is_free(port) for port in range(base, base + 5))


def test_no_port_is_handed_out_twice() -> None:
    handed = [ports.free_port() for _ in range(300)]
    block = ports.free_port_block(10)
    assert len(set(handed)) == len(handed)
    assert not set(range(block, block + 10)) & set(handed)


def test_a_port_in_use_is_not_free() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", ports.free_port()))
        server.listen()
        assert not ports.port_is_free(server.getsockname()[1])
