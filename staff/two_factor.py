"""Two-factor sign-in for the staff console: TOTP codes and one-time recovery codes.

A stolen or guessed password alone must not open patients' conversations.
Admins (who manage accounts and delete data) must use a second factor; any
staff member may turn it on.  The factor is a time-based one-time code
(TOTP, RFC 6238, computed by `pyotp`) from an authenticator app, or one of ten
recovery codes given once at enrolment for a lost phone.

- Enrolment: `begin` stores a fresh secret, unconfirmed; `confirm` checks a
  first code from the app, marks it confirmed, replaces the recovery codes
  and ends every other session of the account (`session_epoch`).
- Sign-in: `verify` accepts a code of the current 30-second step or either
  neighbour (clock drift), each step once (a code seen over a shoulder or in
  a log cannot be replayed), or an unused recovery code, which is then spent.
  Wrong codes count towards the same lockout as wrong passwords.
- Reset (a lost phone and no recovery code): an admin or the command line
  (`python -m staff.users reset-2fa LOGIN`) removes the factor; the account's
  sessions end.  Everything is audited, never a code.

The TOTP secret is kept in the database as the authenticator app needs it
(it cannot be hashed); recovery codes are kept as SHA-256 hashes (they are
random, 50 bits, so no slow hash is needed).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
import sqlalchemy as sa
from itsdangerous import BadSignature, TimestampSigner

from clinic_core import storage
from clinic_core.tables import StaffRecoveryCode, StaffUser
from staff import audit, auth, sessions

ISSUER = "Clinic staff console"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i
_CODE = re.compile(r"\d{6}")


@dataclass(frozen=True)
class Enrolment:
    """What the person enrolling needs: the secret (to type) and its QR code (to scan)."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_grouped(self) -> str:
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


def _recovery_hash(code: str) -> str:
    plain = re.sub(r"[\s-]", "", code.lower())
    return hashlib.sha256(plain.encode("utf-8")).hexdigest()


def _new_recovery_code() -> str:
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
    return f"{raw[:5]}-{raw[5:]}"


def _row(db: object, user_id: int) -> StaffUser:
    row = db.get(StaffUser, user_id, with_for_update=True)  # type: ignore[attr-defined]
    if row is None or row.disabled:
        raise LookupError("no such active account")
    return row


def begin(url: str | None, user_id: int) -> Enrolment:
    """The account's pending secret (made now if there is none), not yet in force.

    A pending one is kept, so that reloading the page shows the QR code the
    person may already have scanned.
    """
    with storage.transaction(url) as db:
        row = _row(db, user_id)
        if row.totp_confirmed:
            raise ValueError("two-factor sign-in is already on; reset it first")
        if not row.totp_secret:
            row.totp_secret = pyotp.random_base32()
        return _enrolment(row.login, row.totp_secret)


def _enrolment(login: str, secret: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="svg", scale=5, xmldecl=False, svgns=True)
    return Enrolment(secret, uri, buffer.getvalue().decode("utf-8"))


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The 30-second step `code` belongs to (this one or a neighbour), if newer than `after`."""
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now_s = (storage.as_naive_utc(now) - datetime(1970, 1, 1)).total_seconds()
    for offset in (0, -totp.interval, totp.interval):
        when = now_s + offset
        step = int(when // totp.interval)
        if after is not None and step <= after:
            continue
        if hmac.compare_digest(totp.at(when), code):
            return step
    return None


def confirm(
    url: str | None,
    user_id: int,
    code: str,
    now: datetime | None = None,
    epoch: int | None = None,
) -> tuple[auth.User, list[str]]:
    """Turn the factor on with a first code; returns the account (in its new session
    epoch: its other sessions have ended) and the recovery codes (shown once).

    ValueError if the code is wrong (the enrolment stays pending).
    """
    now = storage.as_naive_utc(now)
    code = re.sub(r"\s", "", code or "")
    with storage.transaction(url) as db:
        row = _row(db, user_id)
        if row.totp_confirmed or not row.totp_secret:
            raise ValueError("no enrolment is pending")
        if epoch is not None and epoch != row.session_epoch:
            raise ValueError("the account changed since the password was given")
        step = _matching_step(row.totp_secret, code, now, None)
        if step is None:
            raise ValueError("that code is not the one the app shows now")
        row.totp_confirmed, row.totp_last_step = True, step
        auth.end_sessions(row)
        codes = _replace_recovery_codes(db, row)
        audit.add(db, row.login, audit.MANAGE_USERS, row.login, "two-factor sign-in turned on")
        return auth.user_of(row), codes


def _replace_recovery_codes(db: object, row: StaffUser) -> list[str]:
    db.query(StaffRecoveryCode).filter_by(user_id=row.id).delete()  # type: ignore[attr-defined]
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        db.add(StaffRecoveryCode(user_id=row.id, code_hash=_recovery_hash(code)))  # type: ignore[attr-defined]
    return codes


def verify(
    url: str | None,
    user_id: int,
    code: str,
    now: datetime | None = None,
    epoch: int | None = None,
) -> auth.User | None:
    """The account if `code` (an authenticator code or an unused recovery code) is
    right, else None; wrong codes count towards the password lockout.  With `epoch`
    (the account's when the password was given), an account changed since is refused
    before any code is spent."""
    now = storage.as_naive_utc(now)
    code = (code or "").strip()
    with storage.transaction(url) as db:
        try:
            row = _row(db, user_id)
        except LookupError:
            return None
        if not row.totp_confirmed or not row.totp_secret:
            return None
        if epoch is not None and epoch != row.session_epoch:
            return None
        auth.lift_lapsed_lock(row, now)
        if row.locked_until is not None:
            audit.add(db, row.login, audit.LOGIN_FAILED, None, "account locked", now)
            return None
        step = _matching_step(row.totp_secret, re.sub(r"\s", "", code), now, row.totp_last_step)
        used = None
        if step is None:
            used = (
                db.query(StaffRecoveryCode)
                .filter_by(user_id=row.id, code_hash=_recovery_hash(code), used_at=None)
                .with_for_update()
                .first()
            )
        if step is None and used is None:
            auth.record_failure(db, row, "wrong two-factor code", now)
            return None
        # Claimed with a conditional UPDATE: two requests with one code cannot both
        # pass (SQLite ignores SELECT ... FOR UPDATE).
        if step is not None:
            claim = (
                sa.update(StaffUser)
                .where(StaffUser.id == row.id)
                .where(sa.or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < step))
                .values(totp_last_step=step)
            )
        else:
            claim = (
                sa.update(StaffRecoveryCode)
                .where(StaffRecoveryCode.id == used.id, StaffRecoveryCode.used_at.is_(None))
                .values(used_at=now)
            )
        if db.execute(claim.execution_options(synchronize_session=False)).rowcount != 1:
            return None
        db.refresh(row)
        row.failed_logins = 0
        how = "authenticator code" if step is not None else "recovery code"
        audit.add(db, row.login, audit.LOGIN, None, f"second factor: {how}", now)
        return auth.user_of(row)


def remaining_recovery_codes(url: str | None, user_id: int) -> int:
    with storage.transaction(url) as db:
        return db.query(StaffRecoveryCode).filter_by(user_id=user_id, used_at=None).count()


def reset(url: str | None, login: str, *, actor: auth.Actor) -> auth.User:
    """Remove an account's second factor (admins and the command line); its sessions end."""
    auth.authorise(url, actor, f"reset two-factor of {auth.normalize_login(login)}")
    with storage.transaction(url) as db:
        by = auth.acting_admin(db, actor)
        row = auth.find_row(db, login, lock=True)
        row.totp_secret, row.totp_confirmed, row.totp_last_step = None, False, None
        auth.end_sessions(row)
        db.query(StaffRecoveryCode).filter_by(user_id=row.id).delete()
        audit.add(db, by, audit.MANAGE_USERS, row.login, "two-factor sign-in reset")
        return auth.user_of(row)


# --- between the password and the second factor -------------------------------------

PENDING_COOKIE = "staff_login_pending"
PENDING_SALT = "clinic.staff-login-pending"
PENDING_MAX_AGE_S = 300
CODE, SETUP = "code", "setup"  # what the signed-in-by-password person must do next


@dataclass(frozen=True)
class Pending:
    user_id: int
    epoch: int
    step: str


def _pending_signer(secret: str | bytes | None) -> TimestampSigner:
    key = sessions.session_secret() if secret is None else secret
    return TimestampSigner(key, salt=PENDING_SALT, digest_method=hashlib.sha256)


def pending_token(user: auth.User, step: str, secret: str | bytes | None = None) -> str:
    """Proof, for five minutes, that this person gave the account's password."""
    payload = f"{user.id}:{user.session_epoch}:{step}"
    return _pending_signer(secret).sign(payload.encode("ascii")).decode("ascii")


def read_pending(token: str | None, secret: str | bytes | None = None) -> Pending | None:
    if not isinstance(token, str) or len(token) > 512:
        return None
    try:
        payload = _pending_signer(secret).unsign(token, max_age=PENDING_MAX_AGE_S)
        user_id, epoch, step = payload.decode("ascii").split(":")
        pending = Pending(int(user_id), int(epoch), step)
    except (BadSignature, ValueError, UnicodeDecodeError):
        return None
    return pending if pending.step in (CODE, SETUP) else None


def required(user: auth.User) -> bool:
    """Whether this account may not sign in without a second factor."""
    return user.role == auth.ADMIN
