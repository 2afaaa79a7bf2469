"""Every environment variable the assistant reads, typed, with its default, in one place.

A deployment changes the assistant through the clinic file (`CLINIC_CONFIG`)
and the variables declared on `Settings` below; no other module reads the
environment by name (tests/test_settings.py checks both that and that
README's configuration tables name exactly these variables).

`load()` reads the environment on each call, so tests and a restarted worker
see the current values; a given environment is parsed only once.  An invalid value
(a port that is not a number, an unknown profile) raises `SettingsError`
naming the variable, so the supervisor can refuse to start with a clear
sentence instead of a traceback.  Secrets are `SecretStr`: they print as
`**********` if a settings object ever reaches a log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, Field, SecretStr, ValidationError, root_validator

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLINIC_CONFIG = PROJECT_ROOT / "clinic" / "example-clinic.yml"

# A TCP port, and a count of processes.
PORT = {"ge": 1, "le": 65535}
POSITIVE = {"gt": 0}


class SettingsError(ValueError):
    """An environment variable holds a value the assistant cannot use."""


def _var(default: Any, name: str, meaning: str, **constraints: Any) -> Any:
    """A field read from the environment variable `name` (also its README name)."""
    return Field(default, alias=name, description=meaning, **constraints)


class Settings(BaseModel):
    """The environment, parsed.  Derived values are filled in by `_derive`."""

    # --- every profile -------------------------------------------------------
    profile: Literal["default", "production"] = _var(
        "default", "PROFILE", "`production` runs several processes behind nginx"
    )
    rasa_port: int = _var(5005, "RASA_PORT", "Rasa server (REST webhook and HTTP API)", **PORT)
    actions_port: int = _var(5055, "ACTIONS_PORT", "action server (loopback only)", **PORT)
    bind_host: str = _var("127.0.0.1", "BIND_HOST", "interface the Rasa server listens on")
    data_dir: Path = _var(PROJECT_ROOT / "var", "DATA_DIR", "SQLite files, generated secrets")
    rasa_auth_token: SecretStr | None = _var(None, "RASA_AUTH_TOKEN", "HTTP API token")
    action_server_token: SecretStr | None = _var(
        None, "ACTION_SERVER_TOKEN", "secret the Rasa servers show the action servers"
    )
    clinic_config: Path = _var(DEFAULT_CLINIC_CONFIG, "CLINIC_CONFIG", "the clinic file")
    max_message_chars: int = _var(
        2000, "MAX_MESSAGE_CHARS", "longer messages are refused politely", **POSITIVE
    )
    rate_limit_per_conversation: int = _var(
        20,
        "RATE_LIMIT_PER_CONVERSATION",
        "messages a conversation may send per window (0: off)",
        ge=0,
    )
    rate_limit_per_address: int = _var(
        120,
        "RATE_LIMIT_PER_ADDRESS",
        "messages one client address may send per window (0: off)",
        ge=0,
    )
    rate_limit_window: float = _var(
        60.0, "RATE_LIMIT_WINDOW", "seconds of the rate limits' window", **POSITIVE
    )
    model_path: Path = _var(PROJECT_ROOT / "models", "MODEL_PATH", "model `make run` serves")
    health_port: int = _var(
        8082, "HEALTH_PORT", "the supervisor's health endpoint (loopback)", **PORT
    )
    startup_timeout: float = _var(
        180.0, "STARTUP_TIMEOUT", "seconds a service may take to become healthy", **POSITIVE
    )
    database_url: str | None = _var(
        None, "DATABASE_URL", "bookings, escalations, outbox, staff accounts"
    )
    tracker_store_url: str | None = _var(
        None, "TRACKER_STORE_URL", "the conversations the staff console reads"
    )
    postgresql_schema: str | None = _var(
        None, "POSTGRESQL_SCHEMA", "schema of a PostgreSQL tracker store (Rasa's own variable)"
    )
    form_reminder_after: float = _var(
        600.0, "FORM_REMINDER_AFTER", "seconds of silence before a form reminds", **POSITIVE
    )

    # --- telling the clinic ----------------------------------------------------
    clinic_webhook_url: str | None = _var(None, "CLINIC_WEBHOOK_URL", "POST each notification")
    clinic_webhook_secret: SecretStr | None = _var(
        None, "CLINIC_WEBHOOK_SECRET", "HMAC key of the webhook's X-Signature"
    )
    smtp_host: str | None = _var(None, "SMTP_HOST", "mail server for notifications")
    smtp_port: int = _var(25, "SMTP_PORT", "mail server port", **PORT)
    smtp_user: str | None = _var(None, "SMTP_USER", "mail server login")
    smtp_password: SecretStr = _var(SecretStr(""), "SMTP_PASSWORD", "mail server password")
    smtp_starttls: bool = _var(False, "SMTP_STARTTLS", "upgrade the mail connection to TLS")
    smtp_from: str = _var("assistant@localhost", "SMTP_FROM", "sender of notification mail")
    clinic_email_to: str | None = _var(None, "CLINIC_EMAIL_TO", "where notification mail goes")
    outbox_backoff_base: float = _var(
        2.0, "OUTBOX_BACKOFF_BASE", "first retry delay (s)", **POSITIVE
    )
    outbox_backoff_max: float = _var(
        600.0, "OUTBOX_BACKOFF_MAX", "longest retry delay (s)", **POSITIVE
    )
    outbox_poll_interval: float = _var(
        1.0, "OUTBOX_POLL_INTERVAL", "how often the worker looks (s)", **POSITIVE
    )

    # --- the website widget ------------------------------------------------------
    widget_port: int = _var(8080, "WIDGET_PORT", "the demo clinic page", **PORT)
    widget_origins: str | None = _var(None, "WIDGET_ORIGINS", "site origins allowed (CORS)")
    rasa_public_url: str | None = _var(None, "RASA_PUBLIC_URL", "the assistant as browsers see it")

    # --- the staff console -------------------------------------------------------
    staff_port: int = _var(8081, "STAFF_PORT", "the staff console", **PORT)
    staff_session_secret: SecretStr | None = _var(
        None, "STAFF_SESSION_SECRET", "session signing key (else generated in DATA_DIR)"
    )
    staff_cookie_secure: bool = _var(True, "STAFF_COOKIE_SECURE", "the cookie's Secure flag")
    staff_annotations_file: Path | None = _var(
        None, "STAFF_ANNOTATIONS_FILE", "the old annotations file (migration 0004 imports it)"
    )
    staff_password: SecretStr | None = _var(
        None, "STAFF_PASSWORD", "password for `make staff-user` (else prompted)"
    )

    # --- messaging channels (each on when its required variables are set) -------
    twilio_account_sid: str | None = _var(None, "TWILIO_ACCOUNT_SID", "Twilio account")
    twilio_auth_token: SecretStr | None = _var(None, "TWILIO_AUTH_TOKEN", "Twilio secret")
    twilio_public_url: str | None = _var(None, "TWILIO_PUBLIC_URL", "base URL Twilio calls")
    twilio_number: str | None = _var(None, "TWILIO_NUMBER", "sender number")
    twilio_api_base_url: str | None = _var(None, "TWILIO_API_BASE_URL", "Twilio API address")
    messenger_verify_token: SecretStr | None = _var(
        None, "MESSENGER_VERIFY_TOKEN", "Messenger webhook verify token"
    )
    messenger_app_secret: SecretStr | None = _var(
        None, "MESSENGER_APP_SECRET", "Messenger signature key"
    )
    messenger_page_access_token: SecretStr | None = _var(
        None, "MESSENGER_PAGE_ACCESS_TOKEN", "Messenger send token"
    )
    messenger_graph_api_base_url: str | None = _var(
        None, "MESSENGER_GRAPH_API_BASE_URL", "Graph API address"
    )
    telegram_access_token: SecretStr | None = _var(
        None, "TELEGRAM_ACCESS_TOKEN", "Telegram bot token"
    )
    telegram_secret_token: SecretStr | None = _var(
        None, "TELEGRAM_SECRET_TOKEN", "Telegram webhook secret"
    )
    telegram_api_base_url: str | None = _var(None, "TELEGRAM_API_BASE_URL", "Bot API address")

    # --- the production profile ----------------------------------------------------
    rasa_processes: int = _var(2, "RASA_PROCESSES", "Rasa servers behind nginx", ge=1)
    action_processes: int = _var(2, "ACTION_PROCESSES", "action servers behind nginx", ge=1)
    private_port_base: int = _var(5100, "PRIVATE_PORT_BASE", "first loopback port", **PORT)
    postgres_host: str = _var("127.0.0.1", "POSTGRES_HOST", "PostgreSQL host")
    postgres_port: int = _var(5432, "POSTGRES_PORT", "PostgreSQL port", **PORT)
    postgres_db: str = _var("clinic", "POSTGRES_DB", "the database (created when missing)")
    postgres_user: str = _var("postgres", "POSTGRES_USER", "PostgreSQL login")
    postgres_password: SecretStr = _var(SecretStr(""), "POSTGRES_PASSWORD", "its password")
    postgres_login_db: str = _var(
        "postgres", "POSTGRES_LOGIN_DB", "database to connect to when creating POSTGRES_DB"
    )
    redis_host: str = _var("127.0.0.1", "REDIS_HOST", "Redis host")
    redis_port: int = _var(6379, "REDIS_PORT", "Redis port", **PORT)
    redis_db: int = _var(1, "REDIS_DB", "Redis database number", ge=0)
    redis_password: SecretStr = _var(SecretStr(""), "REDIS_PASSWORD", "Redis password")
    redis_key_prefix: str = _var("clinic", "REDIS_KEY_PREFIX", "prefix of every Redis key")
    redis_url: str | None = _var(
        None, "REDIS_URL", "Redis for the channels' option memory (derived in production)"
    )
    rabbitmq_host: str = _var("127.0.0.1", "RABBITMQ_HOST", "RabbitMQ host")
    rabbitmq_port: int = _var(5672, "RABBITMQ_PORT", "RabbitMQ port", **PORT)
    rabbitmq_user: str = _var("guest", "RABBITMQ_USER", "RabbitMQ login")
    rabbitmq_password: SecretStr = _var(SecretStr("guest"), "RABBITMQ_PASSWORD", "its password")
    rabbitmq_queue: str = _var("clinic_events", "RABBITMQ_QUEUE", "queue of every event")
    rabbitmq_exchange: str = _var(
        "rasa-exchange", "RABBITMQ_EXCHANGE", "fanout exchange of every event (Rasa's name)"
    )
    tls_cert_file: Path | None = _var(None, "TLS_CERT_FILE", "nginx's TLS certificate")
    tls_key_file: Path | None = _var(None, "TLS_KEY_FILE", "nginx's TLS key")
    ticket_lock_lifetime: float = _var(
        20.0, "TICKET_LOCK_LIFETIME", "seconds a process may hold a conversation", **POSITIVE
    )
    nginx_bin: str | None = _var(None, "NGINX_BIN", "the nginx binary")
    action_server_url: str | None = _var(
        None, "ACTION_SERVER_URL", "where Rasa calls actions (derived in production)"
    )

    class Config:
        allow_population_by_field_name = True
        # Shared by every caller (load() caches it): nobody may change it.
        allow_mutation = False
        extra = "ignore"

    @root_validator(skip_on_failure=True)
    def _derive(cls, values: dict[str, Any]) -> dict[str, Any]:  # noqa: N805 - pydantic
        """Fill in what follows from other settings, where the caller set nothing."""
        data_dir = Path(values["data_dir"]).resolve()
        values["data_dir"] = data_dir
        if bool(values.get("tls_cert_file")) != bool(values.get("tls_key_file")):
            raise ValueError("set both TLS_CERT_FILE and TLS_KEY_FILE, or neither")
        widget = values["widget_port"]
        values["widget_origins"] = values.get("widget_origins") or (
            f"http://localhost:{widget},http://127.0.0.1:{widget}"
        )
        production = values["profile"] == "production"
        if production:
            postgres = _postgres_url(values, values["postgres_db"])
            values["database_url"] = values.get("database_url") or postgres
            values["tracker_store_url"] = values.get("tracker_store_url") or postgres
            redis_password = values["redis_password"].get_secret_value()
            auth = f":{quote(redis_password, safe='')}@" if redis_password else ""
            values["redis_url"] = values.get("redis_url") or (
                f"redis://{auth}{values['redis_host']}:{values['redis_port']}/{values['redis_db']}"
            )
            values["nginx_bin"] = values.get("nginx_bin") or (
                shutil.which("nginx") or "/usr/sbin/nginx"
            )
            values["action_server_url"] = f"http://127.0.0.1:{values['actions_port']}/webhook"
        values["database_url"] = values.get("database_url") or f"sqlite:///{data_dir / 'clinic.db'}"
        values["tracker_store_url"] = values.get("tracker_store_url") or (
            f"sqlite:///{data_dir / 'conversations.db'}"
        )
        scheme = "https" if production and values.get("tls_cert_file") else "http"
        values["rasa_public_url"] = values.get("rasa_public_url") or (
            f"{scheme}://localhost:{values['rasa_port']}"
        )
        return values

    # --- reading -------------------------------------------------------------------

    def postgres_url(self, database: str | None = None) -> str:
        """SQLAlchemy URL of the production profile's database (or another on its server)."""
        return _postgres_url(self.dict(), database or self.postgres_db)

    def value(self, variable: str) -> str | None:
        """The value of one variable by its environment name, as text (secrets revealed)."""
        field = _FIELDS_BY_VARIABLE[variable]
        return _as_text(getattr(self, field))

    def as_environment(self) -> dict[str, str]:
        """Every setting that has a value, as environment variables for a child process."""
        rendered = {variable: self.value(variable) for variable in _FIELDS_BY_VARIABLE}
        return {variable: text for variable, text in rendered.items() if text is not None}


def _postgres_url(values: Mapping[str, Any], database: str) -> str:
    user = quote(values["postgres_user"], safe="")
    secret = values["postgres_password"].get_secret_value()
    password = f":{quote(secret, safe='')}" if secret else ""
    return f"postgresql://{user}{password}@{values['postgres_host']}:{values['postgres_port']}/{database}"


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


_FIELDS_BY_VARIABLE = {field.alias: name for name, field in Settings.__fields__.items()}
VARIABLES = tuple(_FIELDS_BY_VARIABLE)
# Variables holding a secret, and the URLs that can carry a password: a service
# is given only those it needs (scripts/run.py).
SECRET_VARIABLES = tuple(
    field.alias for field in Settings.__fields__.values() if field.type_ is SecretStr
) + ("DATABASE_URL", "TRACKER_STORE_URL", "REDIS_URL")


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """The settings of `environ` (default: this process's environment).

    An empty variable counts as unset, as it does in a shell's `${X:-default}`.
    """
    source = os.environ if environ is None else environ
    given = tuple((name, source[name]) for name in VARIABLES if source.get(name, "") != "")
    # The working directory too: a relative DATA_DIR is resolved against it.
    return _parse(given, os.getcwd())


@lru_cache(maxsize=64)
def _parse(given: tuple[tuple[str, str], ...], _cwd: str) -> Settings:
    """Parsed once per distinct environment: modules call `load()` on every
    message and transaction, and a parse costs about 0.3 ms, a lookup a few us."""
    try:
        return Settings.parse_obj(dict(given))
    except ValidationError as error:
        raise SettingsError(_explain(error)) from None


def _explain(error: ValidationError) -> str:
    """One sentence per bad variable, naming it (never echoing a value: it may be a secret)."""
    parts = []
    for problem in error.errors():
        where = [str(item) for item in problem["loc"] if item != "__root__"]
        prefix = f"{where[0]}: " if where else ""
        parts.append(prefix + problem["msg"])
    return "; ".join(parts)


# --- the shortcuts most modules need ------------------------------------------------


def clinic_config_path() -> Path:
    """Path of the clinic file (`CLINIC_CONFIG`, default the example clinic)."""
    return load().clinic_config


def data_dir() -> Path:
    """Where the SQLite files and generated secrets live (`DATA_DIR`, default `./var`)."""
    return load().data_dir


def database_url() -> str:
    """Bookings, escalations and the outbox: `DATABASE_URL`, else SQLite in DATA_DIR."""
    return str(load().database_url)


def form_reminder_after() -> float:
    """Seconds of silence after which a form reminds the patient where they were."""
    return load().form_reminder_after
