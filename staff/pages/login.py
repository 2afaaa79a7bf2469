"""Logging in and out of the staff console.

The login form is protected by a double-submit cookie (`staff_login_csrf`,
random; the form's hidden field must match); after login the session token
carries its own CSRF token (staff/web.py checks it on every POST).  An
account with two-factor sign-in, and every admin, gives a code after the
password (staff/pages/second_factor.py).
"""

from __future__ import annotations

import re
import secrets

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, redirect
from sanic.response import text as text_response

from staff import audit, auth, sessions, two_factor
from staff.pages.base import (
    console_of,
    off_the_loop,
)

pages = Blueprint("login")
LOGIN_CSRF_COOKIE = "staff_login_csrf"


def login_page(request: Request, error: str = "", status: int = 200) -> HTTPResponse:
    console = console_of(request)
    # Reuse the browser's token: parallel requests (a favicon redirected
    # here) must not replace the one in the form being filled in.
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
        token = secrets.token_urlsafe(32)
    response = console.render(request, "login.html", status=status, login_csrf=token, error=error)
    console.set_cookie(response, LOGIN_CSRF_COOKIE, token)
    return response


@pages.get("/login")
@off_the_loop
def login_form(request: Request):
    console_of(request)
    if request.ctx.user is not None:
        return redirect("/")
    return login_page(request)


def login_csrf_ok(request: Request) -> bool:
    """The form's hidden token matches the login cookie (double submit)."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    submitted = request.form.get("csrf") or ""
    return bool(cookie) and secrets.compare_digest(cookie.encode(), submitted.encode())


def signed_in(request: Request, user: auth.User, response: HTTPResponse) -> HTTPResponse:
    """Give `response` the new session; the login's own cookies are done with."""
    console = console_of(request)
    console.set_cookie(response, sessions.COOKIE_NAME, sessions.issue_session(user))
    for name in (LOGIN_CSRF_COOKIE, two_factor.PENDING_COOKIE):
        console.set_cookie(response, name, "")
        response.cookies[name]["max-age"] = 0
    return response


@pages.post("/login")
@off_the_loop
def login(request: Request):
    console = console_of(request)
    if not login_csrf_ok(request):
        return text_response("Forbidden: bad or missing CSRF token", status=403)
    user = auth.authenticate(
        console.project, request.form.get("login") or "", request.form.get("password") or ""
    )
    if user is None:
        return login_page(request, "Wrong login or password, or the account is locked.", 401)
    if user.two_factor or two_factor.required(user):
        # The password was right; the second factor (or its set-up) comes next.
        step = two_factor.CODE if user.two_factor else two_factor.SETUP
        response = redirect("/login/code" if user.two_factor else "/login/setup")
        console.set_cookie(
            response, two_factor.PENDING_COOKIE, two_factor.pending_token(user, step)
        )
        return response
    return signed_in(request, user, redirect("/"))


@pages.post("/logout")
@off_the_loop
def logout(request: Request):
    console = console_of(request)
    audit.record(console.project, request.ctx.user.login, audit.LOGOUT)
    response = redirect("/login")
    console.delete_session_cookie(response)
    return response
