"""Access control of the staff console: accounts, passwords, roles and signing in.

Plain functions, no web framework: the web layer calls them.

- Accounts live in `staff_users` (the project database, created by migration
  0003).  A login is 3-64 characters of [a-z0-9._-]; a role is "staff" (view
  conversations, work the queues) or "admin" (also manages users and deletes
  data).  Only an admin manages users: every such function takes the acting
  user (`actor=`, a `User`, a `Session` or, for the command line run by
  someone with shell access to the server, `SYSTEM`), re-checked against the
  database, and raises PermissionError otherwise.  Changes are audited.
- Passwords (at least 12 characters) are hashed with scrypt (memory-hard):
  "scrypt$n$r$p$salt_b64$hash_b64", compared in constant time.
- `authenticate` locks an account for 15 minutes after 5 failed attempts in
  a row; unknown logins, disabled and locked accounts cost the same scrypt
  run as a real attempt, so timing says little about which logins exist.
- Session tokens, CSRF and the signing secret are staff/sessions.py. A
  token is stateless, so it stays valid when its account is disabled,
  deleted or demoted: on each request the web layer calls
  `current_user(url, session)`, which re-reads the account.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DBSession

from clinic_core import storage
from clinic_core.tables import StaffRecoveryCode, StaffUser
from staff import audit, passwords

# --- policy ------------------------------------------------------------------

STAFF = "staff"
ADMIN = "admin"
ROLES = (STAFF, ADMIN)
# A role includes everything the roles below it may do.
ROLE_RANK = {STAFF: 0, ADMIN: 1}
# What each console action needs (for the web layer; one place to read it).
REQUIRED_ROLE = {
    audit.VIEW_CONVERSATION: STAFF,
    "work_queues": STAFF,
    audit.EXPORT_NLU: STAFF,
    audit.EXPORT_CONVERSATIONS: ADMIN,  # bulk patient data leaves the system
    audit.DELETE_DATA: ADMIN,
    audit.MANAGE_USERS: ADMIN,
    "view_audit": ADMIN,
}

LOGIN_FORMAT = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)

# scrypt: 2**14 * 8 * 128 bytes = 16 MiB per hash.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 64
# Bounds on parameters read back from a stored hash.
MAX_SCRYPT_N = 2**20
MAX_SCRYPT_R = 32
MAX_SCRYPT_P = 16

UNKNOWN_LOGIN = "(unknown)"  # audit login of attempts on logins that do not exist


# --- accounts ------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    """A staff account as the rest of the console sees it (no password hash)."""

    id: int
    login: str
    role: str
    created_at: datetime
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    session_epoch: int = 0  # sessions of another epoch have ended
    two_factor: bool = False  # a confirmed TOTP secret (staff/two_factor.py)

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and storage.as_naive_utc(now) < self.locked_until


@dataclass(frozen=True)
class Operator:
    """Someone acting from the server's shell (the `staff.users` command line)."""

    login: str
    role: str = ADMIN


SYSTEM = Operator("(cli)")


@dataclass(frozen=True)
class Session:
    """A verified session token's content (times naive UTC, to the second)."""

    user_id: int
    login: str
    role: str
    issued_at: datetime
    last_seen: datetime
    csrf: str
    epoch: int = 0  # the account's session_epoch when the session began


Actor = User | Session | Operator


def user_of(row: StaffUser) -> User:
    return User(
        id=row.id,
        login=row.login,
        role=row.role,
        created_at=row.created_at,
        disabled=bool(row.disabled),
        failed_logins=row.failed_logins,
        locked_until=row.locked_until,
        session_epoch=row.session_epoch,
        two_factor=bool(row.totp_confirmed),
    )


def normalize_login(login: str) -> str:
    return login.strip().lower() if isinstance(login, str) else ""


def check_login(login: str) -> str:
    """The login, normalised (lower case), or ValueError if it is not a valid one."""
    normalized = normalize_login(login)
    if not LOGIN_FORMAT.fullmatch(normalized):
        raise ValueError("a login is 3-64 characters: lower-case letters, digits, '.', '_', '-'")
    return normalized


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    return role


# --- passwords -------------------------------------------------------------------


def _password_bytes(password: str) -> bytes:
    # NFKC: the same password typed on another keyboard or OS hashes the same.
    return unicodedata.normalize("NFKC", password).encode("utf-8")


def check_password_policy(password: str, login: str = "") -> None:
    """ValueError unless the password is acceptable for a new password: 12 to 1024
    characters, and not easy to guess (staff/passwords.py)."""
    _check_length(password)
    problem = passwords.weakness(password, login)
    if problem:
        raise ValueError(f"that password is too easy to guess: {problem}")


def _check_length(password: str) -> None:
    if not isinstance(password, str):
        raise ValueError("a password is text")
    length = len(unicodedata.normalize("NFKC", password))
    if length < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password has at least {MIN_PASSWORD_LENGTH} characters")
    if length > MAX_PASSWORD_LENGTH:
        raise ValueError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 2**20
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem)


def hash_password(password: str) -> str:
    """Hash as "scrypt$n$r$p$salt_b64$hash_b64", with a fresh random salt (policy checked)."""
    _check_length(password)
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(_password_bytes(password), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    return "$".join(
        (
            "scrypt",
            str(SCRYPT_N),
            str(SCRYPT_R),
            str(SCRYPT_P),
            base64.b64encode(salt).decode("ascii"),
            base64.b64encode(digest).decode("ascii"),
        )
    )


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        n, r, p = int(n), int(r), int(p)
        salt_bytes = base64.b64decode(salt, validate=True)
        digest_bytes = base64.b64decode(digest, validate=True)
    except (AttributeError, ValueError, binascii.Error):
        return None
    if (
        scheme != "scrypt"
        or not 2 <= n <= MAX_SCRYPT_N
        or n & (n - 1)
        or not 1 <= r <= MAX_SCRYPT_R
        or not 1 <= p <= MAX_SCRYPT_P
        or len(salt_bytes) < SALT_BYTES
        or len(digest_bytes) != HASH_BYTES
    ):
        return None
    return n, r, p, salt_bytes, digest_bytes


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (constant-time comparison)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, expected = parsed
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        password = ""  # still pay for one scrypt run, then fail
        expected = b""
    actual = _scrypt(_password_bytes(password), salt, n, r, p, HASH_BYTES)
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a hash was made with other parameters than today's."""
    parsed = _parse_hash(stored)
    return parsed is None or parsed[:3] != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash no password matches, verified for unknown logins (same cost as a real one)."""
    return hash_password(secrets.token_urlsafe(32))


# --- roles -----------------------------------------------------------------------


def has_role(actor: object, role: str) -> bool:
    check_role(role)
    held = getattr(actor, "role", None)
    if getattr(actor, "disabled", False) or held not in ROLE_RANK:
        return False
    return ROLE_RANK[held] >= ROLE_RANK[role]


def require_role(actor: object, role: str):
    """The actor (a Session, User or Operator) if it holds `role` (admin includes staff).

    PermissionError otherwise (also for None or a disabled user); ValueError for
    a role that does not exist.
    """
    if actor is None or not has_role(actor, role):
        raise PermissionError(f"this needs the {role} role")
    return actor


def require_permission(actor: object, action: str):
    """The actor if its role allows `action` (see REQUIRED_ROLE), else PermissionError."""
    if action not in REQUIRED_ROLE:
        raise ValueError(f"unknown action: {action!r}")
    return require_role(actor, REQUIRED_ROLE[action])


def acting_admin(db: DBSession, actor: Actor) -> str:
    """The acting admin's login, re-checked against the database; else PermissionError."""
    require_role(actor, ADMIN)
    if isinstance(actor, Operator):
        return actor.login
    user_id = actor.user_id if isinstance(actor, Session) else getattr(actor, "id", None)
    row = db.get(StaffUser, user_id) if isinstance(user_id, int) else None
    if row is None or row.login != actor.login or row.disabled or row.role != ADMIN:
        raise PermissionError("this needs the admin role")
    return row.login


def authorise(url: str | None, actor: Actor, what: str) -> None:
    """Fail early (and audit the refusal) when the actor may not manage users."""
    with storage.transaction(url) as db:
        try:
            acting_admin(db, actor)
            return
        except PermissionError:
            pass
    login = getattr(actor, "login", None) or UNKNOWN_LOGIN
    audit.record(url, login, audit.PERMISSION_DENIED, audit.MANAGE_USERS, what)
    raise PermissionError("only an admin manages staff users")


# --- user management (admins only) -------------------------------------------------


def _active_admins(db: DBSession) -> int:
    return db.query(StaffUser).filter_by(role=ADMIN, disabled=False).count()


def find_row(db: DBSession, login: str, lock: bool = False) -> StaffUser:
    query = db.query(StaffUser).filter_by(login=normalize_login(login))
    row = (query.with_for_update() if lock else query).first()
    if row is None:
        raise LookupError(f"no staff user {normalize_login(login)!r}")
    return row


def create_user(url: str | None, login: str, password: str, role: str, *, actor: Actor) -> User:
    """Add an account.  ValueError: bad login/role/password or login taken."""
    login, role = check_login(login), check_role(role)
    authorise(url, actor, f"create {login}")
    check_password_policy(password, normalize_login(login))
    password_hash = hash_password(password)
    taken = ValueError(f"the login {login!r} is taken")
    try:
        with storage.transaction(url) as db:
            by = acting_admin(db, actor)
            if db.query(StaffUser.id).filter_by(login=login).first():
                raise taken
            row = StaffUser(
                login=login,
                password_hash=password_hash,
                role=role,
                created_at=storage.utcnow(),
                disabled=False,
                failed_logins=0,
            )
            db.add(row)
            audit.add(db, by, audit.MANAGE_USERS, login, f"created, role {role}")
            db.flush()
            return user_of(row)
    except IntegrityError:  # created concurrently
        raise taken from None


def set_password(url: str | None, login: str, password: str, *, actor: Actor) -> User:
    """Replace an account's password; this also lifts a lock."""
    authorise(url, actor, f"set password of {normalize_login(login)}")
    check_password_policy(password, normalize_login(login))
    password_hash = hash_password(password)
    with storage.transaction(url) as db:
        by = acting_admin(db, actor)
        row = find_row(db, login, lock=True)
        row.password_hash = password_hash
        row.failed_logins, row.locked_until = 0, None
        end_sessions(row)
        audit.add(db, by, audit.MANAGE_USERS, row.login, "password set")
        return user_of(row)


def set_role(url: str | None, login: str, role: str, *, actor: Actor) -> User:
    role = check_role(role)
    authorise(url, actor, f"set role of {normalize_login(login)}")
    with storage.transaction(url) as db:
        by = acting_admin(db, actor)
        row = find_row(db, login, lock=True)
        if role != ADMIN:
            _keep_an_admin(db, row)
        if row.role != role:
            # Sessions end: a new admin signs in again, with the second factor admins need.
            end_sessions(row)
        row.role = role
        audit.add(db, by, audit.MANAGE_USERS, row.login, f"role {role}")
        return user_of(row)


def _keep_an_admin(db: DBSession, row: StaffUser) -> None:
    """Refuse to take away the last active admin (nobody could manage users then)."""
    if row.role == ADMIN and not row.disabled and _active_admins(db) <= 1:
        raise ValueError("this is the last active admin")


def disable_user(url: str | None, login: str, *, actor: Actor) -> User:
    """Disable an account: it can no longer log in, and `current_user` rejects its sessions."""
    authorise(url, actor, f"disable {normalize_login(login)}")
    with storage.transaction(url) as db:
        by = acting_admin(db, actor)
        row = find_row(db, login, lock=True)
        _keep_an_admin(db, row)
        row.disabled = True
        audit.add(db, by, audit.MANAGE_USERS, row.login, "disabled")
        return user_of(row)


def enable_user(url: str | None, login: str, *, actor: Actor) -> User:
    authorise(url, actor, f"enable {normalize_login(login)}")
    with storage.transaction(url) as db:
        by = acting_admin(db, actor)
        row = find_row(db, login, lock=True)
        row.disabled = False
        row.failed_logins, row.locked_until = 0, None
        audit.add(db, by, audit.MANAGE_USERS, row.login, "enabled")
        return user_of(row)


def delete_user(url: str | None, login: str, *, actor: Actor) -> None:
    """Delete an account (its audit history stays)."""
    authorise(url, actor, f"delete {normalize_login(login)}")
    with storage.transaction(url) as db:
        by = acting_admin(db, actor)
        row = find_row(db, login, lock=True)
        _keep_an_admin(db, row)
        db.query(StaffRecoveryCode).filter_by(user_id=row.id).delete()
        db.delete(row)
        audit.add(db, by, audit.MANAGE_USERS, row.login, "deleted")


def list_users(url: str | None, *, actor: Actor) -> list[User]:
    authorise(url, actor, "list users")
    with storage.transaction(url) as db:
        return [user_of(row) for row in db.query(StaffUser).order_by(StaffUser.login)]


# --- logging in ----------------------------------------------------------------------


def end_sessions(row: StaffUser) -> None:
    """End every session of the account (its tokens carry the old epoch)."""
    row.session_epoch += 1


def lift_lapsed_lock(row: StaffUser, now: datetime) -> None:
    if row.locked_until is not None and now >= row.locked_until:
        row.locked_until, row.failed_logins = None, 0


def record_failure(db: DBSession, row: StaffUser, what: str, now: datetime) -> None:
    """A wrong password or code: counted, and the account locked at the limit (audited)."""
    row.failed_logins += 1
    detail = what
    if row.failed_logins >= MAX_FAILED_LOGINS:
        row.locked_until, row.failed_logins = now + LOCKOUT, 0
        detail = f"{what}; locked for {int(LOCKOUT.total_seconds()) // 60} min"
    audit.add(db, row.login, audit.LOGIN_FAILED, None, detail, now)


def authenticate(
    url: str | None, login: str, password: str, now: datetime | None = None
) -> User | None:
    """The account if the password is right and the account usable, else None.

    Every attempt costs one scrypt run (unknown logins are checked against a
    dummy hash).  After MAX_FAILED_LOGINS failures in a row the account is
    locked for LOCKOUT; attempts while locked fail without counting.  Both
    outcomes are audited (an unknown login is audited as "(unknown)": people
    type passwords into the login field).
    """
    now = storage.as_naive_utc(now)
    login = normalize_login(login)
    if not LOGIN_FORMAT.fullmatch(login):
        login = ""
    with storage.transaction(url) as db:
        row = (
            db.query(StaffUser).filter_by(login=login).with_for_update().first() if login else None
        )
        matches = verify_password(password, row.password_hash if row else _dummy_hash())
        if row is None:
            audit.add(db, UNKNOWN_LOGIN, audit.LOGIN_FAILED, None, "unknown login", now)
            return None
        lift_lapsed_lock(row, now)
        if row.disabled:
            audit.add(db, row.login, audit.LOGIN_FAILED, None, "account disabled", now)
            return None
        if row.locked_until is not None:
            audit.add(db, row.login, audit.LOGIN_FAILED, None, "account locked", now)
            return None
        if not matches:
            record_failure(db, row, "wrong password", now)
            return None
        if not row.totp_confirmed:
            # With a second factor the count goes on until a code is accepted
            # (staff/two_factor.py): a right password must not wipe out wrong codes,
            # or anyone with the password could guess codes without end.
            row.failed_logins = 0
        if needs_rehash(row.password_hash):
            row.password_hash = hash_password(password)
        audit.add(db, row.login, audit.LOGIN, None, None, now)
        return user_of(row)


def current_user(url: str | None, session: Session | None) -> User | None:
    """The session's account as it is now, or None if deleted or disabled since.

    Call on every request: the role to act on is the returned user's role,
    not the one the token was issued with.
    """
    if session is None:
        return None
    with storage.transaction(url) as db:
        row = db.get(StaffUser, session.user_id)
        if row is None or row.login != session.login or row.disabled:
            return None
        if row.session_epoch != session.epoch:
            return None  # the password changed, or two-factor was enabled or reset
        return user_of(row)
