"""Free loopback ports for the servers a test or a bench run starts.

Why not port 0 (let the kernel choose)? The kernel hands out such ports from
its ephemeral range (`ip_local_port_range`), the same range it takes the
local port of every outgoing connection from. A port found free there can
be taken by any connection to PostgreSQL, Redis or RabbitMQ before the
server binds it, and a Rasa server binds only after loading its model
(about 15 s). Seen once: a production start failed with its staff console
unable to bind (Sanic 21 then exits with code 0). So ports are picked below
that range, and never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

LOWEST = 10_000
_handed_out: set[int] = set()
_lock = threading.Lock()
_rng = random.Random()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections' local ports (Linux's default if unknown)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def port_is_free(port: int) -> bool:
    """Can a server bind this loopback port now?"""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(count: int = 1) -> int:
    """The first of `count` consecutive free ports below the ephemeral range, reserved."""
    ceiling = ephemeral_range()[0] - count
    if ceiling <= LOWEST:  # an unusual kernel setting: fall back to the range above it
        ceiling = 65535 - count
    with _lock:
        for _ in range(500):
            base = _rng.randrange(LOWEST, ceiling)
            block = range(base, base + count)
            if any(port in _handed_out for port in block):
                continue
            if all(port_is_free(port) for port in block):
                _handed_out.update(block)
                return base
    raise RuntimeError(f"no {count} consecutive free loopback ports below {ceiling + count}")


def free_port() -> int:
    """One free port below the ephemeral range, never handed out before by this process."""
    return free_port_block(1)
