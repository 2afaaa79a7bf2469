"""Access control of the staff console: accounts, passwords, login throttling,
sessions, CSRF, roles, the audit trail, the session secret, the CLI and the
migration.

Database tests run against SQLite and the real PostgreSQL server (the
`database_url` fixture: a uniquely named database, dropped afterwards; a
missing server fails in CI and skips elsewhere).  scrypt is deliberately
slow, so few accounts are created.
"""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from clinic_core import storage
from staff import audit, auth, sessions, users

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"
OTHER_PASSWORD = "another long passphrase"
SECRET = "s" * 40
T0 = datetime(2026, 11, 26, 9, 0, 0)
STAFF_TABLES = {"staff_users", "staff_audit"}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    yield url
    engine = storage._engines.pop(url, None)
    if engine is not None:
        engine.dispose()


def staff_session(user: auth.User, now: datetime = T0) -> auth.Session:
    session = sessions.read_session(sessions.issue_session(user, SECRET, now), SECRET, now)
    assert session is not None
    return session


# --- passwords ---------------------------------------------------------------------


def test_passwords_are_hashed_with_scrypt_and_verified() -> None:
    stored = auth.hash_password(PASSWORD)
    scheme, n, r, p, salt, digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert len(base64.b64decode(salt)) == 16
    assert len(base64.b64decode(digest)) == 64
    assert PASSWORD not in stored

    assert auth.verify_password(PASSWORD, stored)
    assert not auth.verify_password(PASSWORD + "!", stored)
    assert not auth.verify_password("", stored)
    assert not auth.needs_rehash(stored)
    # A fresh salt each time: the same password never hashes the same.
    again = auth.hash_password(PASSWORD)
    assert again != stored and auth.verify_password(PASSWORD, again)
    # Damaged or foreign hashes never verify.
    for broken in ("", "plain", stored.replace("scrypt", "bcrypt"), stored[:-8], "scrypt$3$8$1$$"):
        assert not auth.verify_password(PASSWORD, broken)


def test_password_and_login_policy() -> None:
    with pytest.raises(ValueError, match="at least 12"):
        auth.check_password_policy("x" * 11)
    auth.check_password_policy("mauve kettle drizzle")
    with pytest.raises(ValueError, match="at most"):
        auth.check_password_policy("mauve kettle " * 100)
    with pytest.raises(ValueError):
        auth.hash_password("short")

    assert auth.check_login("  Front.Desk_2 ") == "front.desk_2"
    for bad in ("ab", "x" * 65, "front desk", "anne@clinic", "émile", ""):
        with pytest.raises(ValueError):
            auth.check_login(bad)
    with pytest.raises(ValueError):
        auth.check_role("root")


# --- accounts and roles (SQLite and PostgreSQL) ---------------------------------------


def test_only_admins_manage_users(database_url: str) -> None:
    admin = auth.create_user(database_url, "Boss", PASSWORD, "admin", actor=auth.SYSTEM)
    assert (admin.login, admin.role, admin.disabled) == ("boss", "admin", False)
    nurse = auth.create_user(database_url, "nurse", PASSWORD, "staff", actor=admin)
    with pytest.raises(ValueError, match="taken"):
        auth.create_user(database_url, "NURSE", OTHER_PASSWORD, "staff", actor=admin)
    with pytest.raises(ValueError, match="at least 12"):
        auth.create_user(database_url, "temp", "short", "staff", actor=admin)

    # Same password, different hashes; no hash handed out.
    with storage.transaction(database_url) as db:
        hashes = {row.password_hash for row in db.query(auth.StaffUser)}
    assert len(hashes) == 2
    assert not hasattr(nurse, "password_hash")

    # Staff may work the queues but not manage users, whatever they pass.
    nurse_session = staff_session(nurse)
    for actor in (nurse, nurse_session, None):
        with pytest.raises(PermissionError):
            auth.create_user(database_url, "intruder", PASSWORD, "admin", actor=actor)
        with pytest.raises(PermissionError):
            auth.list_users(database_url, actor=actor)
        with pytest.raises(PermissionError):
            auth.disable_user(database_url, "boss", actor=actor)
        with pytest.raises(PermissionError):
            auth.delete_user(database_url, "boss", actor=actor)
        with pytest.raises(PermissionError):
            auth.set_password(database_url, "boss", OTHER_PASSWORD, actor=actor)
    # Claiming the admin role is not enough: the account is re-read.
    forged = auth.Session(nurse.id, "nurse", "admin", T0, T0, "x")
    with pytest.raises(PermissionError):
        auth.list_users(database_url, actor=forged)
    auth.require_role(nurse_session, "staff")
    auth.require_permission(nurse_session, "view_conversation")
    for action in ("manage_users", "delete_data", "export_conversations"):
        with pytest.raises(PermissionError):
            auth.require_permission(nurse_session, action)
    auth.require_role(admin, "staff")  # admin includes staff
    auth.require_permission(staff_session(admin), "delete_data")

    # Admins do (through a session too).
    admin_session = staff_session(admin)
    assert [u.login for u in auth.list_users(database_url, actor=admin_session)] == [
        "boss",
        "nurse",
    ]
    assert auth.disable_user(database_url, "nurse", actor=admin_session).disabled
    assert auth.current_user(database_url, nurse_session) is None  # its sessions die too
    with pytest.raises(PermissionError):  # a disabled admin is no admin
        auth.require_role(auth.User(1, "x", "admin", T0, True, 0, None), "admin")
    enabled = auth.enable_user(database_url, "nurse", actor=admin)
    assert not enabled.disabled
    assert auth.current_user(database_url, nurse_session) == enabled
    auth.delete_user(database_url, "nurse", actor=admin)
    assert auth.current_user(database_url, nurse_session) is None
    with pytest.raises(LookupError):
        auth.disable_user(database_url, "nurse", actor=admin)
    # The clinic cannot lock itself out.
    with pytest.raises(ValueError, match="last active admin"):
        auth.disable_user(database_url, "boss", actor=admin)
    with pytest.raises(ValueError, match="last active admin"):
        auth.delete_user(database_url, "boss", actor=admin)

    trail = audit.entries(database_url, login="boss")
    assert {e.action for e in trail} == {"manage_users"}
    assert {"created, role staff", "disabled", "deleted"} <= {e.detail for e in trail}
    denied = [e for e in audit.entries(database_url) if e.action == "permission_denied"]
    assert denied and {e.login for e in denied} >= {"nurse"}


# --- logging in ------------------------------------------------------------------------


def test_login_is_throttled_then_unlocked(database_url: str) -> None:
    auth.create_user(database_url, "desk", PASSWORD, "staff", actor=auth.SYSTEM)

    user = auth.authenticate(database_url, "Desk", PASSWORD, now=T0)
    assert user is not None and (user.login, user.role) == ("desk", "staff")

    # Failures below the limit are forgiven by a success.
    for _ in range(4):
        assert auth.authenticate(database_url, "desk", "wrong password!", now=T0) is None
    assert auth.authenticate(database_url, "desk", PASSWORD, now=T0).failed_logins == 0

    # The fifth failure in a row locks the account for 15 minutes...
    for _ in range(5):
        assert auth.authenticate(database_url, "desk", "wrong password!", now=T0) is None
    assert auth.authenticate(database_url, "desk", PASSWORD, now=T0) is None
    later = T0 + timedelta(minutes=14, seconds=59)
    assert auth.authenticate(database_url, "desk", PASSWORD, now=later) is None
    [locked] = auth.list_users(database_url, actor=auth.SYSTEM)
    assert locked.locked(later) and locked.locked_until == T0 + timedelta(minutes=15)
    # ...after which the right password works again, with a clean slate.
    user = auth.authenticate(database_url, "desk", PASSWORD, now=T0 + timedelta(minutes=15))
    assert user is not None and user.failed_logins == 0 and user.locked_until is None

    # Unknown logins fail the same way (and are not recorded by name).
    assert auth.authenticate(database_url, "nobody", PASSWORD, now=T0) is None
    assert auth.authenticate(database_url, "not a login!", PASSWORD, now=T0) is None

    # Disabled accounts cannot log in, even with the right password.
    auth.disable_user(database_url, "desk", actor=auth.SYSTEM)
    assert auth.authenticate(database_url, "desk", PASSWORD, now=T0 + timedelta(hours=1)) is None

    trail = audit.entries(database_url, limit=1000)
    details = [e.detail for e in trail if e.action == "login_failed" and e.login == "desk"]
    assert details.count("wrong password") == 8
    assert any("locked for 15 min" in d for d in details)
    assert details.count("account locked") == 2
    assert details.count("account disabled") == 1
    assert [e.login for e in trail if e.action == "login"] == ["desk"] * 3
    unknown = [e for e in trail if e.detail == "unknown login"]
    assert len(unknown) == 2 and {e.login for e in unknown} == {"(unknown)"}


def test_unknown_logins_cost_a_password_hash(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage.migrate(sqlite_url)
    auth._dummy_hash()
    calls = []
    real = auth._scrypt
    monkeypatch.setattr(auth, "_scrypt", lambda *args: calls.append(1) or real(*args))
    assert auth.authenticate(sqlite_url, "ghost", PASSWORD) is None
    assert calls == [1]


# --- sessions ----------------------------------------------------------------------------


@pytest.fixture
def nurse() -> auth.User:
    return auth.User(7, "nurse", "staff", T0, False, 0, None)


def test_session_round_trip(nurse: auth.User) -> None:
    token = sessions.issue_session(nurse, SECRET, T0)
    payload, mac = token.split(".")
    assert "=" not in token and len(base64.urlsafe_b64decode(mac + "==")) == 32
    session = sessions.read_session(token, SECRET, T0 + timedelta(minutes=1))
    assert session == auth.Session(7, "nurse", "staff", T0, T0, session.csrf)
    assert len(session.csrf) >= 32
    # Aware times mean the same instant.
    aware = T0.replace(tzinfo=timezone.utc) + timedelta(minutes=1)
    assert sessions.read_session(token, SECRET, aware) == session
    # Each login gets its own CSRF token.
    assert sessions.read_session(sessions.issue_session(nurse, SECRET, T0), SECRET, T0).csrf != (
        session.csrf
    )
    with pytest.raises(ValueError):
        sessions.issue_session(auth.User(8, "gone", "staff", T0, True, 0, None), SECRET, T0)


def test_tampered_forged_and_idle_sessions_are_rejected(nurse: auth.User) -> None:
    token = sessions.issue_session(nurse, SECRET, T0)
    payload, mac = token.split(".")
    data = json.loads(base64.urlsafe_b64decode(payload + "=="))
    data["role"] = "admin"
    promoted = base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    for bad in (
        f"{promoted}.{mac}",
        f"{payload}.{mac[:-2]}AA",
        f"{payload}x.{mac}",
        payload,
        f"{token}.x",
        "",
        "...",
        "not a token",
        None,
    ):
        assert sessions.read_session(bad, SECRET, T0) is None, bad
    assert sessions.read_session(token, "another secret, just as long as it", T0) is None

    assert sessions.read_session(token, SECRET, T0 + timedelta(minutes=14)) is not None
    assert sessions.read_session(token, SECRET, T0 + timedelta(minutes=16)) is None
    assert (
        sessions.read_session(token, SECRET, T0 - timedelta(minutes=5)) is None
    )  # from the future


def test_refresh_extends_an_active_session(nurse: auth.User) -> None:
    session = sessions.read_session(sessions.issue_session(nurse, SECRET, T0), SECRET, T0)
    at_14 = T0 + timedelta(minutes=14)
    renewed = sessions.read_session(sessions.refresh(session, at_14, SECRET), SECRET, at_14)
    assert renewed.last_seen == at_14 and renewed.issued_at == T0
    assert renewed.csrf == session.csrf
    at_28 = T0 + timedelta(minutes=28)
    assert (
        sessions.read_session(sessions.refresh(session, at_14, SECRET), SECRET, at_28) is not None
    )
    assert sessions.read_session(sessions.issue_session(nurse, SECRET, T0), SECRET, at_28) is None
    with pytest.raises(ValueError):
        sessions.refresh(session, at_28, SECRET)
    # Activity cannot keep a session alive for ever.
    late = T0 + sessions.MAX_SESSION_AGE - timedelta(minutes=5)
    kept = auth.Session(7, "nurse", "staff", T0, late, session.csrf)
    token = sessions.refresh(kept, late, SECRET)
    assert sessions.read_session(token, SECRET, late + timedelta(minutes=4)) is not None
    assert sessions.read_session(token, SECRET, late + timedelta(minutes=6)) is None


def test_csrf_and_cookie_attributes(nurse: auth.User) -> None:
    session = sessions.read_session(sessions.issue_session(nurse, SECRET, T0), SECRET, T0)
    assert sessions.check_csrf(session, session.csrf)
    for wrong in (session.csrf[:-1], session.csrf + "x", "", None, "é" * 10, 42):
        assert not sessions.check_csrf(session, wrong)
    assert not sessions.check_csrf(None, session.csrf)

    assert sessions.cookie_attributes(secure=True) == {
        "path": "/",
        "httponly": True,
        "samesite": "Strict",
        "secure": True,
    }
    assert "secure" not in sessions.cookie_attributes(secure=False)
    assert sessions.cookie_attributes(secure=False)["httponly"] is True


# --- the session secret ---------------------------------------------------------------


def test_session_secret_is_generated_once_with_mode_600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nurse: auth.User
) -> None:
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("STAFF_SESSION_SECRET", raising=False)
    secret = sessions.session_secret()
    path = tmp_path / "data" / "staff-session-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(secret) >= 32 and path.read_text().strip() == secret
    assert sessions.session_secret() == secret  # reused, not regenerated
    assert [p.name for p in path.parent.iterdir()] == ["staff-session-secret"]
    token = sessions.issue_session(nurse, now=T0)  # the default secret is this one
    assert sessions.read_session(token, secret, T0) is not None

    path.chmod(0o644)
    assert sessions.session_secret() == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    monkeypatch.setenv("STAFF_SESSION_SECRET", "e" * 32)
    assert sessions.session_secret() == "e" * 32
    assert sessions.read_session(token, None, T0) is None
    monkeypatch.setenv("STAFF_SESSION_SECRET", "too short")
    with pytest.raises(RuntimeError):
        sessions.session_secret()


# --- the audit trail -------------------------------------------------------------------


def test_audit_record_and_entries(database_url: str) -> None:
    audit.record(database_url, "nurse", "view_conversation", "conv-1", at=T0)
    audit.record(database_url, "nurse", "export_nlu", 12, at=T0 + timedelta(minutes=1))
    audit.record(database_url, "boss", "delete_data", 3, "older than 90 days", T0 + timedelta(2))
    audit.record(database_url, "boss", "export_conversations", None, "x\n" * 400, T0 + timedelta(3))

    latest = audit.entries(database_url)
    assert [e.action for e in latest] == [
        "export_conversations",
        "delete_data",
        "export_nlu",
        "view_conversation",
    ]
    assert len(latest[0].detail) == 500 and "\n" not in latest[0].detail
    assert latest[1].target == "3" and latest[1].at == T0 + timedelta(days=2)
    assert [e.target for e in audit.entries(database_url, login="nurse")] == ["12", "conv-1"]
    since = audit.entries(database_url, since=T0 + timedelta(seconds=30))
    assert [e.action for e in since][-1] == "export_nlu" and len(since) == 3
    assert len(audit.entries(database_url, limit=2)) == 2
    with pytest.raises(ValueError):
        audit.entries(database_url, limit=0)
    with pytest.raises(ValueError):
        audit.record(database_url, "nurse", "Drop Table")


# --- the command line ---------------------------------------------------------------------


def run_cli(*args: str, data_dir: Path, password: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "STAFF_PASSWORD")}
    env["DATA_DIR"] = str(data_dir)
    if password is not None:
        env["STAFF_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "staff.users", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_adds_lists_and_disables_users(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    added = run_cli("add", "Boss", "--role", "admin", data_dir=tmp_path, password=PASSWORD)
    assert added.returncode == 0, added.stderr
    assert "boss" in added.stdout and "admin" in added.stdout
    assert PASSWORD not in added.stdout + added.stderr
    user = auth.authenticate(sqlite_url, "boss", PASSWORD)
    assert user is not None and user.role == "admin"

    listed = run_cli("list", data_dir=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "boss" in listed.stdout and "scrypt" not in listed.stdout

    # No STAFF_PASSWORD: asked twice, without echo.
    monkeypatch.delenv("STAFF_PASSWORD", raising=False)
    answers = iter([OTHER_PASSWORD, OTHER_PASSWORD])
    monkeypatch.setattr(users.getpass, "getpass", lambda prompt="": next(answers))
    assert users.main(["add", "desk", "--role", "staff"], sqlite_url) == 0
    assert users.main(["disable", "desk"], sqlite_url) == 0
    assert users.main(["disable", "boss"], sqlite_url) == 1  # the last admin
    assert users.main(["add", "x"], sqlite_url) == 1  # bad login
    out = capsys.readouterr()
    assert OTHER_PASSWORD not in out.out + out.err
    assert "last active admin" in out.err
    assert auth.authenticate(sqlite_url, "desk", OTHER_PASSWORD) is None  # disabled
    assert [(u.login, u.disabled) for u in auth.list_users(sqlite_url, actor=auth.SYSTEM)] == [
        ("boss", False),
        ("desk", True),
    ]
    assert {e.login for e in audit.entries(sqlite_url, login="(cli)")} == {"(cli)"}


# --- the migration ------------------------------------------------------------------------


def _diff_table(diff) -> str | None:
    if isinstance(diff, list):  # a group of modify_* changes of one column
        return diff[0][2]
    kind, *rest = diff
    if kind in ("add_column", "remove_column"):
        return rest[1]
    item = rest[-1] if kind.endswith("_table") else rest[0]
    table = getattr(item, "table", None) or getattr(item, "parent", None) or item
    return getattr(table, "name", None)


def test_migration_0003_creates_and_drops_the_staff_tables(database_url: str) -> None:
    from alembic import command
    from alembic.autogenerate import compare_metadata
    from alembic.config import Config
    from alembic.migration import MigrationContext

    engine = storage.engine(database_url)
    assert set(sa.inspect(engine).get_table_names()) >= STAFF_TABLES
    # The migration makes exactly the schema the models describe.
    with engine.connect() as connection:
        diffs = compare_metadata(MigrationContext.configure(connection), storage.Base.metadata)
    assert [d for d in diffs if _diff_table(d) in STAFF_TABLES] == []
    with pytest.raises(sa.exc.IntegrityError), storage.transaction(database_url) as db:
        db.add(auth.StaffUser(login="x-y", password_hash="h", role="root"))

    config = Config()
    config.set_main_option("script_location", str(storage.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.downgrade(config, "0002")
    tables = set(sa.inspect(engine).get_table_names())
    assert not STAFF_TABLES & tables and {"bookings", "escalations"} <= tables
    storage.migrate(database_url)
    assert set(sa.inspect(engine).get_table_names()) >= STAFF_TABLES
