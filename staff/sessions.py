"""Staff console sessions: signed tokens, their CSRF token and the signing secret.

A session is a token signed by itsdangerous: base64url(payload JSON) + "." +
base64url(HMAC-SHA256 keyed by the secret and a session salt), expiring after
15 minutes idle (and 12 hours after login whatever happens); `refresh`
re-issues one with `last_seen` updated. A token says nothing the holder may
not know (ids, login, role, times, its CSRF token), but it is bearer
authority: keep it in an HttpOnly, SameSite=Strict cookie
(`cookie_attributes`). Who the holder is now is staff/auth.py's
`current_user`, which re-reads the account on every request.

The secret is `STAFF_SESSION_SECRET`, or else a random one generated once
and kept (mode 600) in `$DATA_DIR/staff-session-secret`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import re
import secrets
import tempfile
from dataclasses import replace
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer

from clinic_core import settings, storage
from staff.auth import ROLES, Session, User, check_role

IDLE_TIMEOUT = timedelta(minutes=15)
MAX_SESSION_AGE = timedelta(hours=12)
# Tolerated clock difference between the workers issuing and reading tokens.
CLOCK_SKEW = timedelta(seconds=60)
COOKIE_NAME = "staff_session"

SECRET_ENV = "STAFF_SESSION_SECRET"
SECRET_FILE = "staff-session-secret"
MIN_SECRET_LENGTH = 32
# Separates session signatures from anything else ever signed with the same secret.
SESSION_SALT = "clinic.staff-session"

EPOCH = datetime(1970, 1, 1)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("an empty session secret")
    return key


def _signer(secret: str | bytes) -> Signer:
    """itsdangerous's signer: `<payload>.<base64url HMAC-SHA256>`, keyed per purpose."""
    return Signer(
        _key(secret), salt=SESSION_SALT, key_derivation="hmac", digest_method=hashlib.sha256
    )


def _seconds(moment: datetime) -> int:
    return int((moment - EPOCH).total_seconds())


def _sign(session: Session, secret: str | bytes) -> str:
    payload = json.dumps(
        {
            "user_id": session.user_id,
            "login": session.login,
            "role": session.role,
            "issued_at": _seconds(session.issued_at),
            "last_seen": _seconds(session.last_seen),
            "csrf": session.csrf,
            "epoch": session.epoch,
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode("utf-8")
    return _signer(secret).sign(_b64encode(payload).encode("ascii")).decode("ascii")


def issue_session(
    user: User, secret: str | bytes | None = None, now: datetime | None = None
) -> str:
    """A new session token for a user who just authenticated (fresh CSRF token)."""
    if user.disabled:
        raise ValueError("a disabled user gets no session")
    check_role(user.role)
    moment = EPOCH + timedelta(seconds=_seconds(storage.as_naive_utc(now)))
    session = Session(
        user_id=user.id,
        login=user.login,
        role=user.role,
        issued_at=moment,
        last_seen=moment,
        csrf=secrets.token_urlsafe(32),
        epoch=user.session_epoch,
    )
    return _sign(session, session_secret() if secret is None else secret)


def _expired(session: Session, now: datetime) -> bool:
    return (
        now - session.last_seen >= IDLE_TIMEOUT
        or now - session.issued_at >= MAX_SESSION_AGE
        or session.last_seen - now > CLOCK_SKEW
        or session.last_seen < session.issued_at
    )


def read_session(
    token: str | None, secret: str | bytes | None = None, now: datetime | None = None
) -> Session | None:
    """The session in a token, or None if forged, tampered with, malformed or expired."""
    if not isinstance(token, str) or len(token) > 4096 or token.count(".") != 1:
        return None
    try:
        signed = _signer(session_secret() if secret is None else secret).unsign(token)
        payload = _b64decode(signed.decode("ascii"))
    except (BadSignature, ValueError, binascii.Error):
        return None
    try:
        data = json.loads(payload)
        fields = ("user_id", "login", "role", "issued_at", "last_seen", "csrf", "epoch")
        if not isinstance(data, dict) or set(data) != set(fields):
            return None
        user_id, login, role, issued, seen, csrf, epoch = (data[name] for name in fields)
        if not all(type(value) is int for value in (user_id, issued, seen, epoch)):
            return None
        if not (isinstance(login, str) and isinstance(csrf, str) and csrf) or role not in ROLES:
            return None
        session = Session(
            user_id=user_id,
            login=login,
            role=role,
            issued_at=EPOCH + timedelta(seconds=issued),
            last_seen=EPOCH + timedelta(seconds=seen),
            csrf=csrf,
            epoch=epoch,
        )
    except (ValueError, OverflowError):
        return None
    return None if _expired(session, storage.as_naive_utc(now)) else session


def refresh(
    session: Session, now: datetime | None = None, secret: str | bytes | None = None
) -> str:
    """A new token for the same session, `last_seen` = now (same CSRF token).

    ValueError if the session has already expired.
    """
    now = storage.as_naive_utc(now)
    if _expired(session, now):
        raise ValueError("the session has expired")
    moment = EPOCH + timedelta(seconds=_seconds(now))
    renewed = replace(session, last_seen=max(moment, session.last_seen))
    return _sign(renewed, session_secret() if secret is None else secret)


def cookie_attributes(secure: bool) -> dict[str, object]:
    """Attributes of the session cookie (Sanic's cookie keys).

    No max-age: a browser session cookie; the token itself expires when idle.
    `secure` should be True everywhere but plain-HTTP local development.
    """
    attributes: dict[str, object] = {"path": "/", "httponly": True, "samesite": "Strict"}
    if secure:
        attributes["secure"] = True
    return attributes


def check_csrf(session: Session | None, submitted: str | None) -> bool:
    """Whether a submitted CSRF token is the session's (constant-time)."""
    if session is None or not isinstance(submitted, str) or not submitted or not session.csrf:
        return False
    return hmac.compare_digest(session.csrf.encode("utf-8"), submitted.encode("utf-8"))


# --- the signing secret ---------------------------------------------------------------


def session_secret() -> str:
    """`STAFF_SESSION_SECRET`, else `$DATA_DIR/staff-session-secret` (made once, mode 600).

    All workers of one deployment must share it: give them the same DATA_DIR
    or set the variable.  Changing it logs everybody out.
    """
    secret_setting = settings.load().staff_session_secret
    configured = secret_setting.get_secret_value() if secret_setting else ""
    if configured:
        if len(configured) < MIN_SECRET_LENGTH:
            raise RuntimeError(f"{SECRET_ENV} must be at least {MIN_SECRET_LENGTH} characters")
        return configured
    directory = settings.data_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SECRET_FILE
    if not path.exists():
        # Write a complete file under a temporary name, then link it into
        # place: concurrent first starts all end up reading the same secret.
        handle, temporary = tempfile.mkstemp(prefix=".staff-secret-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="ascii") as file:
                os.fchmod(file.fileno(), 0o600)  # mkstemp's default, made explicit
                file.write(secrets.token_urlsafe(48) + "\n")
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    secret = path.read_text(encoding="ascii").strip()
    if len(secret) < MIN_SECRET_LENGTH:
        raise RuntimeError(f"{path} does not hold a usable session secret")
    return secret
