"""Resident memory of every process of a target, by role."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from scripts.bench.processes import process_tree


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def rss_mb(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def role_of(argv: list[str]) -> str:
    """A process's role in the assistant, named from its command line."""
    if not argv:
        return "?"
    if argv[0].startswith("nginx"):
        return "nginx worker" if "worker" in argv[0] else "nginx"
    names = [Path(arg).name for arg in argv]
    if ("rasa" in names or "serving.rasa_server" in argv) and "run" in argv:
        return "rasa server"
    if "rasa_sdk" in argv or "serving.action_server" in argv:
        return "action server"
    if "clinic_core.notifications" in argv:
        return "outbox worker"
    if "clinic_core.event_relay" in argv:
        return "event relay"
    if "scripts.serve_widget" in argv:
        return "widget page"
    if "staff.web" in argv:
        return "staff console"
    if "clinic-run" in names:
        return "clinic-run (supervisor)"
    return names[0]


def memory(root_pid: int) -> list[dict[str, Any]]:
    """RSS of every process in the target's tree, by role."""
    rows = []
    for pid in process_tree(root_pid):
        argv, rss = command_line(pid), rss_mb(pid)
        if rss is not None:
            rows.append(
                {
                    "pid": pid,
                    "role": role_of(argv),
                    "rss_mb": round(rss, 1),
                    "command": " ".join(argv)[:200],
                }
            )
    return rows
