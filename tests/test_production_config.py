"""The production profile's settings and nginx configuration (no services needed)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from scripts import production

pytestmark = pytest.mark.integration


def profile_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    env = {
        "DATA_DIR": str(tmp_path),
        "BIND_HOST": "0.0.0.0",
        "RASA_PORT": "5005",
        "ACTIONS_PORT": "5055",
        "STAFF_PORT": "8081",
        **overrides,
    }
    production.apply_defaults(env)
    return env


def test_addresses_and_secrets_come_from_the_environment(tmp_path: Path) -> None:
    env = profile_env(
        tmp_path, POSTGRES_HOST="db.internal", POSTGRES_PASSWORD="p@ss/word", REDIS_PASSWORD="r:s"
    )
    assert env["DATABASE_URL"] == "postgresql://postgres:p%40ss%2Fword@db.internal:5432/clinic"
    assert env["TRACKER_STORE_URL"] == env["DATABASE_URL"]
    assert env["REDIS_URL"] == "redis://:r%3As@127.0.0.1:6379/1"
    assert env["ACTION_SERVER_URL"] == "http://127.0.0.1:5055/webhook"
    assert production.rasa_ports(env) == [5100, 5101]
    assert production.action_ports(env) == [5102, 5103]
    assert production.staff_backend_port(env) == 5104


def test_a_bad_process_count_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="RASA_PROCESSES"):
        profile_env(tmp_path, RASA_PROCESSES="two")
    with pytest.raises(ValueError, match="TLS_KEY_FILE"):
        profile_env(tmp_path, TLS_CERT_FILE="/etc/ssl/clinic.crt")


def test_nginx_spreads_patients_over_every_rasa_process_and_keeps_actions_private(
    tmp_path: Path,
) -> None:
    env = profile_env(tmp_path, RASA_PROCESSES="3", ACTION_PROCESSES="2")
    config = production.nginx_config(env)
    assert not re.search(r"@[A-Z_]+@", config)  # every placeholder filled
    rasa_block = config.split("upstream rasa_servers {")[1].split("}")[0]
    servers = [line.split() for line in rasa_block.strip().splitlines()]
    assert [words[1] for words in servers if words[0] == "server"] == [
        "127.0.0.1:5100",
        "127.0.0.1:5101",
        "127.0.0.1:5102",
    ]
    # A widget conversation sticks to one process; a request without its id goes anywhere.
    assert "hash $conversation_affinity consistent;" in rasa_block
    assert '""      $request_id;' in config
    assert "listen 0.0.0.0:5005;" in config
    assert "listen 127.0.0.1:5055;" in config  # the action servers: loopback only
    assert "ssl" not in config.split("listen 0.0.0.0:5005")[1].split("\n")[0]


def test_with_a_certificate_nginx_terminates_tls(tmp_path: Path) -> None:
    env = profile_env(tmp_path, TLS_CERT_FILE="/etc/ssl/c.crt", TLS_KEY_FILE="/etc/ssl/c.key")
    config = production.nginx_config(env)
    assert "listen 0.0.0.0:5005 ssl;" in config and "listen 0.0.0.0:8081 ssl;" in config
    assert "ssl_certificate /etc/ssl/c.crt;" in config
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in config
    assert env["RASA_PUBLIC_URL"] == "https://localhost:5005"


def test_nginx_accepts_the_generated_configuration(tmp_path: Path) -> None:
    env = profile_env(tmp_path)
    try:
        path = production.write_nginx_config(env)
    except FileNotFoundError as error:
        from tests.support import service_missing

        service_missing("nginx", error)
    check = subprocess.run(
        [env["NGINX_BIN"], "-t", "-c", str(path), "-p", str(path.parent)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
