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
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "deploy" / "nginx.conf.template"

# Every address and secret can be overridden from the environment; these are
# what a single clinic server with local services needs.
DEFAULTS = {
    "POSTGRES_HOST": "127.0.0.1",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "clinic",
    "POSTGRES_USER": "postgres",
    "POSTGRES_PASSWORD": "",
    # The database to connect to when POSTGRES_DB must be created.
    "POSTGRES_LOGIN_DB": "postgres",
    "REDIS_HOST": "127.0.0.1",
    "REDIS_PORT": "6379",
    "REDIS_DB": "1",
    "REDIS_PASSWORD": "",
    "REDIS_KEY_PREFIX": "clinic",
    "RABBITMQ_HOST": "127.0.0.1",
    "RABBITMQ_PORT": "5672",
    # RabbitMQ's own default account, which it accepts on loopback only.
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "RABBITMQ_QUEUE": "clinic_events",
    "RASA_PROCESSES": "2",
    "ACTION_PROCESSES": "2",
    # The processes behind nginx listen on loopback ports from here on.
    "PRIVATE_PORT_BASE": "5100",
    # How long one process may hold a conversation's lock.  A turn takes well
    # under a second; if a process dies holding a lock, that conversation
    # waits this long before another process takes it over.
    "TICKET_LOCK_LIFETIME": "20",
}


def apply_defaults(env: dict[str, str]) -> None:
    """Fill in the profile's defaults and the URLs derived from them."""
    for key, value in DEFAULTS.items():
        env.setdefault(key, value)
    # Debian installs nginx in /usr/sbin, which is not on every user's PATH.
    env.setdefault("NGINX_BIN", shutil.which("nginx") or "/usr/sbin/nginx")
    for key in ("RASA_PROCESSES", "ACTION_PROCESSES", "PRIVATE_PORT_BASE"):
        if not env[key].isdigit() or int(env[key]) < 1:
            raise ValueError(f"{key} must be a positive whole number, not {env[key]!r}")
    postgres = database_url(env)
    env.setdefault("DATABASE_URL", postgres)
    env.setdefault("TRACKER_STORE_URL", postgres)
    password = f":{quote(env['REDIS_PASSWORD'], safe='')}@" if env["REDIS_PASSWORD"] else ""
    env.setdefault(
        "REDIS_URL", f"redis://{password}{env['REDIS_HOST']}:{env['REDIS_PORT']}/{env['REDIS_DB']}"
    )
    env["ACTION_SERVER_URL"] = f"http://127.0.0.1:{env['ACTIONS_PORT']}/webhook"
    tls = tls_files(env)
    scheme = "https" if tls else "http"
    env.setdefault("RASA_PUBLIC_URL", f"{scheme}://localhost:{env['RASA_PORT']}")


def database_url(env: dict[str, str], database: str | None = None) -> str:
    """SQLAlchemy URL of the profile's PostgreSQL database (or another on that server)."""
    user = quote(env["POSTGRES_USER"], safe="")
    password = f":{quote(env['POSTGRES_PASSWORD'], safe='')}" if env["POSTGRES_PASSWORD"] else ""
    host, port = env["POSTGRES_HOST"], env["POSTGRES_PORT"]
    return f"postgresql://{user}{password}@{host}:{port}/{database or env['POSTGRES_DB']}"


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


def tls_files(env: dict[str, str]) -> tuple[str, str] | None:
    """(certificate, key) when TLS_CERT_FILE and TLS_KEY_FILE are both set."""
    cert, key = env.get("TLS_CERT_FILE"), env.get("TLS_KEY_FILE")
    if bool(cert) != bool(key):
        raise ValueError("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
    return (cert, key) if cert and key else None


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
        return "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in ports
        )

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
