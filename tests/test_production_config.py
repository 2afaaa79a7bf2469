"""The production profile's settings and nginx configuration (no services needed)."""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest

from scripts import production
from tests.support import free_port, free_port_block
from tests.support import http as request

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


class _Answering(http.server.BaseHTTPRequestHandler):
    """Stands in for a Rasa process: answers every request with 200 and its port."""

    def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_rasa_process_that_comes_up_is_used_at_once_even_after_every_one_was_down(
    tmp_path: Path,
) -> None:
    """While no Rasa process listens yet (start-up, or both restarting), a patient's
    message fails; the first message once one listens must reach it.  nginx's
    `max_fails` would instead mark every process as failed for `fail_timeout`
    and answer "no live upstreams" (502) for those seconds, which the website
    widget retries but an SMS or messaging platform may not."""
    base = free_port_block(5)
    env = profile_env(
        tmp_path,
        BIND_HOST="127.0.0.1",
        RASA_PORT=str(free_port()),
        ACTIONS_PORT=str(free_port()),
        STAFF_PORT=str(free_port()),
        PRIVATE_PORT_BASE=str(base),
    )
    try:
        path = production.write_nginx_config(env)
    except FileNotFoundError as error:
        from tests.support import service_missing

        service_missing("nginx", error)
    nginx = subprocess.Popen(
        [env["NGINX_BIN"], "-c", str(path), "-p", str(path.parent), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{env['RASA_PORT']}/webhooks/rest/webhook"
    server = None
    try:
        deadline = time.monotonic() + 10
        while http_get_status(f"http://127.0.0.1:{env['RASA_PORT']}/nginx-health") != 200:
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)
        for sender in ("a", "b", "c"):  # every process refused: the patient gets an error
            assert request("POST", url, {"sender": sender, "message": "hi"})[0] == 502
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", production.rasa_ports(env)[1]), _Answering
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        for sender in ("a", "b", "c", "d"):  # whichever process they stick to
            status, body = request(
                "POST",
                url,
                {"sender": sender, "message": "hi"},
                headers={"X-Conversation-Id": sender},
                timeout=5,
            )
            assert (status, str(body)) == (200, str(production.rasa_ports(env)[1]))
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        nginx.terminate()
        nginx.wait(timeout=10)


def http_get_status(url: str) -> int | None:
    try:
        return request("GET", url, timeout=2)[0]
    except OSError:
        return None
