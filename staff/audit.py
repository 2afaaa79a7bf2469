"""Audit trail of the staff console: who looked at, exported or deleted what, and when.

Every sensitive thing a staff member does is written to `staff_audit` (in the
project database, next to the accounts): viewing a conversation, exports,
deletions, logins (and failed ones) and user management.  A row names the
login, the action and its target (a conversation id, a login, a count), with
at most a short detail.  It never holds patient message text or any other
patient data, nor passwords: the audit log outlives the conversations it
points to.  Rows keep the login as text (no foreign key), so an account's
history survives the account's deletion.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from clinic_core import storage
from clinic_core.tables import (
    AUDIT_DETAIL_LENGTH,
    AUDIT_LOGIN_LENGTH,
    AUDIT_TARGET_LENGTH,
    StaffAuditRow,
)

# The actions the console records; others may be added (same format).
VIEW_CONVERSATION = "view_conversation"
EXPORT_CONVERSATIONS = "export_conversations"
EXPORT_NLU = "export_nlu"
DELETE_DATA = "delete_data"
LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGOUT = "logout"
MANAGE_USERS = "manage_users"
PERMISSION_DENIED = "permission_denied"
ACTIONS = (
    VIEW_CONVERSATION,
    EXPORT_CONVERSATIONS,
    EXPORT_NLU,
    DELETE_DATA,
    LOGIN,
    LOGIN_FAILED,
    LOGOUT,
    MANAGE_USERS,
    PERMISSION_DENIED,
)

ACTION_FORMAT = re.compile(r"[a-z][a-z0-9_]{0,31}")
LOGIN_LENGTH = AUDIT_LOGIN_LENGTH
TARGET_LENGTH = AUDIT_TARGET_LENGTH
DETAIL_LENGTH = AUDIT_DETAIL_LENGTH
MAX_LIMIT = 10_000


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime  # naive UTC
    login: str
    action: str
    target: str | None
    detail: str | None


def _clip(value: object, length: int) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())  # one line: no log injection via newlines
    return text[:length]


def add(
    session: Session,
    login: str,
    action: str,
    target: object = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """Add an audit row in the caller's transaction (so it commits with the change)."""
    if not isinstance(action, str) or not ACTION_FORMAT.fullmatch(action):
        raise ValueError(f"not an audit action: {action!r}")
    if not login:
        raise ValueError("an audit entry needs a login")
    session.add(
        StaffAuditRow(
            at=storage.as_naive_utc(at),
            login=_clip(login, LOGIN_LENGTH),
            action=action,
            target=_clip(target, TARGET_LENGTH),
            detail=_clip(detail, DETAIL_LENGTH),
        )
    )


def record(
    url: str | None,
    login: str,
    action: str,
    target: object = None,
    detail: str | None = None,
    at: datetime | None = None,
) -> None:
    """Record one action.  `target`: a conversation id, a login, a count...

    `detail` is a short note (it is cut at 500 characters): never patient
    message text.
    """
    with storage.transaction(url) as session:
        add(session, login, action, target, detail, at)


def entries(
    url: str | None,
    limit: int = 200,
    since: datetime | None = None,
    login: str | None = None,
) -> list[AuditEntry]:
    """The latest entries first, optionally only from `since` on and for one login."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    with storage.transaction(url) as session:
        query = session.query(StaffAuditRow)
        if since is not None:
            query = query.filter(StaffAuditRow.at >= storage.as_naive_utc(since))
        if login is not None:
            query = query.filter(StaffAuditRow.login == login)
        rows = query.order_by(StaffAuditRow.at.desc(), StaffAuditRow.id.desc()).limit(limit)
        return [
            AuditEntry(
                id=row.id,
                at=row.at,
                login=row.login,
                action=row.action,
                target=row.target,
                detail=row.detail,
            )
            for row in rows
        ]
