"""scripts/run.py: the services live or die together, and say why."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support import ROOT, SUPERVISOR, children_of, free_port

pytestmark = pytest.mark.e2e


def run_script(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "var"),
        "RASA_PORT": str(free_port()),
        "ACTIONS_PORT": str(free_port()),
        **env,
    }
    return subprocess.run(
        [str(SUPERVISOR)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_a_clinic_file_without_safety_facts_refuses_to_start(tmp_path: Path) -> None:
    clinic = tmp_path / "clinic.yml"
    clinic.write_text("name: X\nphone: '1'\n")
    result = run_script(tmp_path, CLINIC_CONFIG=str(clinic))
    assert result.returncode != 0
    assert "emergency_number" in result.stderr


def test_if_the_action_server_cannot_start_everything_stops_and_says_why(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_script(tmp_path, ACTIONS_PORT=str(port), RASA_AUTH_TOKEN="t")
    assert result.returncode != 0
    assert "action server stopped while starting" in result.stderr
    assert "stopping the others" in result.stderr


def test_a_generated_api_token_is_stored_owner_only_and_reused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RASA_AUTH_TOKEN"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; sys.argv=['clinic-run']; from scripts import run;"
            "env = run.environment(); import os; os.makedirs(env['DATA_DIR'], "
            "exist_ok=True); print(run.auth_token(env))",
        ],
        cwd=ROOT,
        env={**env, "DATA_DIR": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    token_file = tmp_path / "var" / "rasa-auth-token"
    assert token_file.read_text().strip() in result.stdout
    assert oct(token_file.stat().st_mode & 0o777) == "0o600"
    assert len(token_file.read_text().strip()) >= 40
    assert "HTTP API token: stored in" in result.stdout


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_ctrl_c_stops_every_service_even_if_the_parent_ignored_sigint(
    tmp_path: Path, trained_model: Path
) -> None:
    """A shell starts background jobs with SIGINT ignored; Ctrl-C must still stop everything.

    Before the fix, run.py never heard the signal, and whoever gave up
    waiting killed it outright, leaving every service running on its port.
    """
    import signal

    process, ports = _start_quick(
        tmp_path,
        trained_model,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=45) is not None
    finally:
        if process.poll() is None:
            process.kill()
    still_open = [name for name, port in ports.items() if _listening(port)]
    assert still_open == []


def _start_quick(
    tmp_path: Path, trained_model: Path, preexec_fn: Callable[[], object] | None = None
) -> tuple[subprocess.Popen, dict[str, int]]:
    """The supervisor with every service, returning once the action server and the
    staff console listen (the Rasa server may still be loading its model)."""
    import time

    ports = {name: free_port() for name in ("RASA", "ACTIONS", "WIDGET", "STAFF")}
    environment = {
        **os.environ,
        "DATA_DIR": str(tmp_path / "var"),
        "RASA_AUTH_TOKEN": "t",
        "MODEL_PATH": str(trained_model),
        **{f"{name}_PORT": str(port) for name, port in ports.items()},
    }
    process = subprocess.Popen(
        [str(SUPERVISOR)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not (_listening(ports["ACTIONS"]) and _listening(ports["STAFF"])):
        assert process.poll() is None and time.monotonic() < deadline, "did not start"
        time.sleep(0.5)
    return process, ports


def _environment_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def test_every_service_does_its_maths_on_one_thread(
    tmp_path: Path, trained_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """numpy's OpenBLAS and OpenMP threads spin after each call: one thread each, so a
    Rasa process under load does not burn a second core that way (scripts/run.py)."""
    import signal

    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    process, _ports = _start_quick(tmp_path, trained_model)
    try:
        services = children_of(process.pid)
        assert len(services) >= 4
        for pid in services:
            environment = _environment_of(pid)
            assert environment.get("OPENBLAS_NUM_THREADS") == "1", pid
            assert environment.get("OMP_NUM_THREADS") == "1", pid
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()


def _all_gone(pids: list[int], ports: dict[str, int], seconds: float) -> tuple[list, list]:
    import time

    deadline = time.monotonic() + seconds
    while True:
        alive = [pid for pid in pids if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
        listening = [name for name, port in ports.items() if _listening(port)]
        if (not alive and not listening) or time.monotonic() > deadline:
            return alive, listening
        time.sleep(0.5)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_signals_while_stopping_do_not_cut_the_clean_up_short(
    tmp_path: Path, trained_model: Path
) -> None:
    """A second (third...) Ctrl-C or SIGTERM while stopping still stops every service."""
    import signal
    import time

    process, ports = _start_quick(tmp_path, trained_model)
    services = children_of(process.pid)
    try:
        assert len(services) >= 4
        process.send_signal(signal.SIGTERM)
        for repeat in range(20):
            time.sleep(0.1)
            if process.poll() is not None:
                break
            process.send_signal(signal.SIGINT if repeat % 2 else signal.SIGTERM)
        assert process.wait(timeout=60) is not None
    finally:
        if process.poll() is None:
            process.kill()
    assert _all_gone(services, ports, 30) == ([], [])


def test_every_service_dies_with_the_supervisor_even_killed_outright(
    tmp_path: Path, trained_model: Path
) -> None:
    """SIGKILL gives the supervisor no chance to clean up: the kernel stops its services."""
    process, ports = _start_quick(tmp_path, trained_model)
    services = children_of(process.pid)
    try:
        assert len(services) >= 4
        process.kill()
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    assert _all_gone(services, ports, 45) == ([], [])
