"""The staff console's web pages: Sanic + Jinja2, server-rendered, no front-end build.

Run: `clinic-staff` (127.0.0.1:$STAFF_PORT, default 8081).  Put it
behind TLS; the session cookie is `Secure` unless STAFF_COOKIE_SECURE=0
(plain-HTTP local development only).

Security model (the rules live in staff.auth; this module applies them):
- Login form: CSRF by double-submit cookie (`staff_login_csrf`, random, the
  form's hidden field must match).  After login the session token (signed,
  HttpOnly, SameSite=Strict, 15 min idle) carries its own CSRF token, which
  every POST form must send back (403 otherwise).
- Every request re-reads the account (`auth.current_user`): a disabled or
  deleted account is logged out at once and the role acted on is the
  current one.  Permissions come from `auth.REQUIRED_ROLE`.
- Jinja2 autoescaping is on for every template; patient text is never
  marked safe.
- Viewing a transcript and every export are audited (staff.audit); so are
  queue changes (reference and new status only, never note text).

Annotations (the correct intent/FAQ topic of a patient message) are kept in
the project database (staff/annotations.py): conversation id, message
position and timestamp, label, who and when -- never the text.  The NLU
export re-reads the text from the tracker store, so an annotation of an
erased conversation simply drops out of the export; annotations of
conversations no longer in the tracker store are deleted after the
console's retention actions and before each export (deletions made with
`clinic-retention` are pruned at the next export).

This module is the app factory: the session middleware, the security
headers and the pages, one blueprint per job (staff/pages/: login, queues,
transcripts, exports, admin).  Database calls (SQLAlchemy 1.4), scrypt and
template rendering are synchronous, so every handler and the session
middleware run on a worker thread (`off_the_loop`): a slow query or a
login's password hash never stalls the console's other requests.
"""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import text as text_response

from clinic_core import settings
from staff import audit, auth, retention, sessions
from staff.pages import admin, exports, login, queues, second_factor, transcripts
from staff.pages.base import Console, Forbidden, console_of, off_the_loop, templates

HERE = Path(__file__).resolve().parent
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
PUBLIC_PATHS = ("/login", *second_factor.PUBLIC_PATHS)

_names = itertools.count(1)


@off_the_loop
def load_user(request: Request) -> HTTPResponse | None:
    """Who is asking (re-read from the database on every request), and may they?"""
    console = console_of(request)
    request.ctx.session = sessions.read_session(request.cookies.get(sessions.COOKIE_NAME))
    request.ctx.user = auth.current_user(console.project, request.ctx.session)
    if request.ctx.user is None:
        request.ctx.session = None
    if request.path in PUBLIC_PATHS or request.path.startswith("/static/"):
        return None
    if request.ctx.user is None:
        if request.method == "GET":
            response = redirect("/login")
        else:
            response = text_response("Forbidden: log in first", status=403)
        if request.cookies.get(sessions.COOKIE_NAME):
            console.delete_session_cookie(response)
        return response
    if request.method == "POST" and not sessions.check_csrf(
        request.ctx.session, request.form.get("csrf")
    ):
        actor = console.actor_login(request)
        audit.record(console.project, actor, audit.PERMISSION_DENIED, "csrf", request.path)
        return text_response("Forbidden: bad or missing CSRF token", status=403)
    return None


async def renew_and_harden(request: Request, response: HTTPResponse) -> None:
    """Slide the session's idle timeout; security headers on every answer."""
    session = getattr(request.ctx, "session", None)
    if session is not None and sessions.COOKIE_NAME not in response.cookies:
        with contextlib.suppress(ValueError):  # expired meanwhile: no renewal
            console_of(request).set_cookie(
                response, sessions.COOKIE_NAME, sessions.refresh(session)
            )
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)


async def forbidden(request: Request, exception: Exception) -> HTTPResponse:
    return console_of(request).render(
        request, "error.html", status=403, message="You may not do this."
    )


def create_app(
    *,
    project_url: str | None = None,
    tracker_url: str | None = None,
    secure_cookies: bool | None = None,
    name: str | None = None,
) -> Sanic:
    """The console.  URLs default to the deployment's (DATABASE_URL, TRACKER_STORE_URL)."""
    app = Sanic(name or f"staff_console_{next(_names)}", configure_logging=False)
    app.ctx.console = Console(
        project=project_url or settings.database_url(),
        tracker=tracker_url or retention.default_tracker_url(),
        secure_cookies=(
            settings.load().staff_cookie_secure if secure_cookies is None else secure_cookies
        ),
        env=templates(),
    )
    app.static("/static", str(HERE / "static"), name="static")
    app.register_middleware(load_user, "request")
    app.register_middleware(renew_and_harden, "response")
    app.exception(Forbidden)(forbidden)
    for pages in (login, second_factor, queues, transcripts, exports, admin):
        app.blueprint(pages.pages)
    return app


def main() -> None:
    port = settings.load().staff_port
    app = create_app(name="staff_console")
    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
