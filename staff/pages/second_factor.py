"""The second step of signing in, and turning two-factor sign-in on (staff/two_factor.py).

After the right password, /login leaves a signed five-minute cookie saying
so and sends the person here:

- /login/code: the code from the authenticator app (or a recovery code);
- /login/setup: an admin without a second factor yet sets one up first
  (scan the QR code or type the key, give the first code, keep the
  recovery codes), since admins may not sign in without one.

Signed-in staff turn it on at /account/two-factor.  These pages are public
(no session yet), so their forms carry the login page's CSRF cookie.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import text as text_response

from staff import two_factor
from staff.pages.base import console_of, off_the_loop
from staff.pages.login import LOGIN_CSRF_COOKIE, login_csrf_ok, login_page, signed_in

pages = Blueprint("second_factor")
PUBLIC_PATHS = ("/login/code", "/login/setup")
WRONG_CODE = "That code is not right (or was used already). Try the next one the app shows."


def _pending(request: Request, step: str) -> two_factor.Pending | None:
    pending = two_factor.read_pending(request.cookies.get(two_factor.PENDING_COOKIE))
    return pending if pending is not None and pending.step == step else None


def _expired(request: Request) -> HTTPResponse:
    return login_page(request, "Please log in again (the sign-in took too long).", 401)


def _setup_page(
    request: Request, user_id: int, action: str, csrf: str, error: str = "", status: int = 200
) -> HTTPResponse:
    console = console_of(request)
    try:
        enrolment = two_factor.begin(console.project, user_id)
    except (ValueError, LookupError):
        # Set up already (a second click, a reload) or the account is gone.
        return redirect("/" if getattr(request.ctx, "user", None) else "/login")
    return console.render(
        request,
        "two_factor_setup.html",
        status=status,
        enrolment=enrolment,
        action=action,
        form_csrf=csrf,
        error=error,
    )


@pages.get("/login/code")
@off_the_loop
def code_form(request: Request):
    if _pending(request, two_factor.CODE) is None:
        return redirect("/login")
    return console_of(request).render(
        request, "two_factor_code.html", form_csrf=_form_csrf(request)
    )


def _posted(request: Request, step: str) -> two_factor.Pending | HTTPResponse:
    """The pending sign-in a code form was posted for, or the answer to give instead."""
    if not login_csrf_ok(request):
        return text_response("Forbidden: bad or missing CSRF token", status=403)
    pending = _pending(request, step)
    return _expired(request) if pending is None else pending


def _form_csrf(request: Request) -> str:
    return request.cookies.get(LOGIN_CSRF_COOKIE) or ""


@pages.post("/login/code")
@off_the_loop
def code(request: Request):
    console = console_of(request)
    pending = _posted(request, two_factor.CODE)
    if isinstance(pending, HTTPResponse):
        return pending
    user = two_factor.verify(
        console.project, pending.user_id, request.form.get("code") or "", epoch=pending.epoch
    )
    if user is None:
        return console.render(
            request,
            "two_factor_code.html",
            status=401,
            form_csrf=_form_csrf(request),
            error=WRONG_CODE,
        )
    return signed_in(request, user, redirect("/"))


@pages.get("/login/setup")
@off_the_loop
def setup_form(request: Request):
    pending = _pending(request, two_factor.SETUP)
    if pending is None:
        return redirect("/login")
    return _setup_page(request, pending.user_id, "/login/setup", _form_csrf(request))


@pages.post("/login/setup")
@off_the_loop
def setup(request: Request):
    console = console_of(request)
    pending = _posted(request, two_factor.SETUP)
    if isinstance(pending, HTTPResponse):
        return pending
    try:
        user, codes = two_factor.confirm(
            console.project, pending.user_id, request.form.get("code") or "", epoch=pending.epoch
        )
    except (ValueError, LookupError):
        csrf = _form_csrf(request)
        return _setup_page(request, pending.user_id, "/login/setup", csrf, WRONG_CODE, 401)
    request.ctx.user = user
    page = console.render(request, "recovery_codes.html", codes=codes)
    return signed_in(request, user, page)


@pages.get("/account/two-factor")
@off_the_loop
def account(request: Request):
    console = console_of(request)
    user = request.ctx.user
    if user.two_factor:
        left = two_factor.remaining_recovery_codes(console.project, user.id)
        return console.render(request, "two_factor_status.html", recovery_left=left)
    return _setup_page(request, user.id, "/account/two-factor", request.ctx.session.csrf)


@pages.post("/account/two-factor")
@off_the_loop
def turn_on(request: Request):
    console = console_of(request)
    user = request.ctx.user
    try:
        user, codes = two_factor.confirm(console.project, user.id, request.form.get("code") or "")
    except (ValueError, LookupError):
        return _setup_page(
            request, user.id, "/account/two-factor", request.ctx.session.csrf, WRONG_CODE, 400
        )
    # Every other session of the account has ended; this one goes on with a new token.
    request.ctx.user, request.ctx.session = user, None
    page = console.render(request, "recovery_codes.html", codes=codes)
    return signed_in(request, user, page)
