"""What every page of the staff console shares: the console's settings and templates,
rendering, cookies, the permission check, and running a handler off the event loop.

`create_app` (staff/web.py) builds one `Console` per app and keeps it on
`app.ctx.console`; a handler gets it with `console_of(request)`.  Handlers are
plain functions run on a worker thread (`off_the_loop`): database calls
(SQLAlchemy 1.4), scrypt and template rendering are synchronous, and one slow
query must never stall the console's other requests.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic.request import Request
from sanic.response import HTTPResponse, html

from clinic_core import storage
from staff import audit, auth, sessions

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
NOTE_LENGTH = 2000


class Forbidden(Exception):
    """The current user may not do this (already audited); answered with a 403 page."""


def off_the_loop(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Register a synchronous handler: Sanic awaits it while it runs on a worker thread."""

    @functools.wraps(handler)
    async def run(request: Request, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(handler, request, *args, **kwargs)

    return run


def when(moment: Any) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return "" if moment is None else str(moment)


def confidence(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def transcript_url(sender_id: str) -> str:
    return "/transcript?" + urlencode({"id": sender_id})


def clean_note(value: str | None) -> str:
    return (value or "").strip()[:NOTE_LENGTH]


def append_note(row: Any, user: auth.User, note: str) -> None:
    """Notes accumulate, each stamped with when and by whom (escalations and bookings)."""
    stamp = f"[{when(storage.utcnow())} {user.login}] {note}"
    row.staff_note = "\n".join(part for part in (row.staff_note, stamp) if part)


def templates() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["conf"] = confidence
    return env


@dataclass
class Console:
    """One console app: where its data is, how its cookies are set, its templates."""

    project: str  # the project database (bookings, escalations, staff tables)
    tracker: Any  # the tracker store's URL (conversations)
    secure_cookies: bool
    env: Environment

    def render(
        self, request: Request, template: str, status: int = 200, **context: Any
    ) -> HTTPResponse:
        user = getattr(request.ctx, "user", None)
        session = getattr(request.ctx, "session", None)
        body = self.env.get_template(template).render(
            user=user,
            is_admin=user is not None and auth.has_role(user, auth.ADMIN),
            csrf=session.csrf if session else "",
            path=request.path,
            **context,
        )
        return html(body, status=status)

    def set_cookie(self, response: HTTPResponse, name: str, value: str) -> None:
        response.cookies[name] = value
        for key, attribute in sessions.cookie_attributes(self.secure_cookies).items():
            response.cookies[name][key] = attribute

    def delete_session_cookie(self, response: HTTPResponse) -> None:
        self.set_cookie(response, sessions.COOKIE_NAME, "")
        response.cookies[sessions.COOKIE_NAME]["max-age"] = 0

    @staticmethod
    def actor_login(request: Request) -> str:
        user = getattr(request.ctx, "user", None)
        return user.login if user else auth.UNKNOWN_LOGIN

    def require(self, request: Request, action: str) -> auth.User:
        """The current user if allowed `action`; Forbidden (audited) otherwise."""
        user = request.ctx.user
        try:
            auth.require_permission(user, action)
        except PermissionError:
            audit.record(
                self.project,
                self.actor_login(request),
                audit.PERMISSION_DENIED,
                action,
                request.path,
            )
            raise Forbidden from None
        return user


def console_of(request: Request) -> Console:
    return request.app.ctx.console
