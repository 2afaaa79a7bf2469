"""What the production profile adds to scripts/run.py.

The profile (`PROFILE=production`, `make run-prod`) runs `RASA_PROCESSES`
Rasa servers and `ACTION_PROCESSES` action servers behind nginx, on
PostgreSQL (conversations, bookings, escalations, outbox), Redis (the lock
store that keeps each conversation in order across processes, and the
numbered options of SMS/Messenger/Telegram) and RabbitMQ (every event).
This module holds the profile's defaults, creates the database if needed and
writes nginx's configuration; run.py starts and supervises the processes.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from clinic_core import settings
from clinic_core.settings import PROJECT_ROOT

ROOT = PROJECT_ROOT
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"

# Every address and secret is a setting (clinic_core/settings.py): its
# defaults are what a single clinic server with local services needs.


def profile_settings(env: Mapping[str, str]) -> settings.Settings:
    """The settings of `env` read as the production profile (ValueError naming a bad one)."""
    return settings.load({**env, "PROFILE": "production"})


def apply_defaults(env: dict[str, str]) -> None:
    """Fill in every setting the caller left out, and the URLs derived from them."""
    config = profile_settings(env)
    for variable, value in config.as_environment().items():
        env.setdefault(variable, value)
    env["ACTION_SERVER_URL"] = str(config.action_server_url)


def database_url(env: Mapping[str, str], database: str | None = None) -> str:
    """SQLAlchemy URL of the profile's PostgreSQL database (or another on that server)."""
    return profile_settings(env).postgres_url(database)


def ensure_database(env: dict[str, str]) -> None:
    """Create POSTGRES_DB if it does not exist yet (Rasa and the migrations need it)."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(
        database_url(env, env["POSTGRES_LOGIN_DB"]), isolation_level="AUTOCOMMIT"
    )
    try:
        with engine.connect() as connection:
            exists = connection.execute(
                sqlalchemy.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": env["POSTGRES_DB"]},
            ).first()
            if not exists:
                # A database name cannot be a bound parameter; quote it as an identifier.
                name = env["POSTGRES_DB"].replace('"', '""')
                connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
                print(f"Created PostgreSQL database {env['POSTGRES_DB']}.", flush=True)
    finally:
        engine.dispose()


def rasa_ports(env: dict[str, str]) -> list[int]:
    base = int(env["PRIVATE_PORT_BASE"])
    return [base + index for index in range(int(env["RASA_PROCESSES"]))]


def action_ports(env: dict[str, str]) -> list[int]:
    base = int(env["PRIVATE_PORT_BASE"]) + int(env["RASA_PROCESSES"])
    return [base + index for index in range(int(env["ACTION_PROCESSES"]))]


def staff_backend_port(env: dict[str, str]) -> int:
    return int(env["PRIVATE_PORT_BASE"]) + int(env["RASA_PROCESSES"]) + int(env["ACTION_PROCESSES"])


def tls_files(env: Mapping[str, str]) -> tuple[str, str] | None:
    """(certificate, key) when TLS_CERT_FILE and TLS_KEY_FILE are both set."""
    config = profile_settings(env)
    if config.tls_cert_file and config.tls_key_file:
        return str(config.tls_cert_file), str(config.tls_key_file)
    return None


def nginx_config(env: dict[str, str]) -> str:
    """nginx.conf for this environment, from deploy/nginx.conf.template."""
    nginx_dir = Path(env["DATA_DIR"]) / "nginx"
    tls = tls_files(env)
    tls_lines = ""
    if tls:
        tls_lines = "\n".join(
            f"        {line}"
            for line in (
                f"ssl_certificate {Path(tls[0]).resolve()};",
                f"ssl_certificate_key {Path(tls[1]).resolve()};",
                "ssl_protocols TLSv1.2 TLSv1.3;",
                "ssl_session_cache shared:clinic_tls:1m;",
                'add_header Strict-Transport-Security "max-age=31536000" always;',
            )
        )

    def upstreams(ports: list[int]) -> str:
        # max_fails=0: a process that refuses a connection is never marked as
        # failed for a while.  Marking it saves nothing on loopback (a refused
        # connect costs microseconds and the request goes on to the next
        # process), and once every process had refused (start-up, both
        # restarting) nginx would answer "no live upstreams" for fail_timeout
        # even after one listens again.
        return "\n".join(f"        server 127.0.0.1:{port} max_fails=0;" for port in ports)

    values = {
        "NGINX_DIR": str(nginx_dir),
        "ROOT": str(ROOT),
        "BIND_HOST": env["BIND_HOST"],
        "RASA_PORT": env["RASA_PORT"],
        "STAFF_PORT": env["STAFF_PORT"],
        "ACTIONS_PORT": env["ACTIONS_PORT"],
        "STAFF_BACKEND_PORT": str(staff_backend_port(env)),
        "RASA_UPSTREAMS": upstreams(rasa_ports(env)),
        "ACTION_UPSTREAMS": upstreams(action_ports(env)),
        "SSL": " ssl" if tls else "",
        "TLS": tls_lines,
    }
    text = TEMPLATE.read_text(encoding="utf-8")
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def write_nginx_config(env: dict[str, str]) -> Path:
    """Write nginx.conf (and the folders it names) under DATA_DIR/nginx."""
    if shutil.which(env["NGINX_BIN"]) is None:
        raise FileNotFoundError(
            f"{env['NGINX_BIN']} not found: install Debian's package (apt-get install nginx)"
        )
    nginx_dir = Path(env["DATA_DIR"]) / "nginx"
    (nginx_dir / "tmp").mkdir(parents=True, exist_ok=True)
    path = nginx_dir / "nginx.conf"
    path.write_text(nginx_config(env), encoding="utf-8")
    return path
