"""Administration (admins only): the audit log, staff accounts, and retention
(deleting old conversations, erasing one patient on request).
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, redirect

from staff import annotations, audit, auth, retention, two_factor
from staff.pages.base import (
    console_of,
    off_the_loop,
)

pages = Blueprint("admin")


@pages.get("/admin/audit")
@off_the_loop
def audit_log(request: Request):
    console = console_of(request)
    console.require(request, "view_audit")
    login = (request.args.get("login") or "").strip() or None
    return console.render(
        request,
        "audit.html",
        entries=audit.entries(console.project, 500, login=login),
        login=login or "",
    )


def users_page(request: Request, message: str = "", status: int = 200) -> HTTPResponse:
    console = console_of(request)
    user = console.require(request, audit.MANAGE_USERS)
    return console.render(
        request,
        "users.html",
        status=status,
        users=auth.list_users(console.project, actor=user),
        roles=auth.ROLES,
        message=message,
    )


@pages.get("/admin/users")
@off_the_loop
def users(request: Request):
    return users_page(request)


@pages.post("/admin/users")
@off_the_loop
def create_user(request: Request):
    console = console_of(request)
    user = console.require(request, audit.MANAGE_USERS)
    try:
        auth.create_user(
            console.project,
            request.form.get("login") or "",
            request.form.get("password") or "",
            request.form.get("role") or "",
            actor=user,
        )
    except ValueError as error:
        return users_page(request, f"Not created: {error}", 400)
    return redirect("/admin/users")


@pages.post("/admin/users/<what:(disable|enable)>")
@off_the_loop
def toggle_user(request: Request, what: str):
    console = console_of(request)
    user = console.require(request, audit.MANAGE_USERS)
    target = request.form.get("login") or ""
    try:
        if what == "disable":
            auth.disable_user(console.project, target, actor=user)
        else:
            auth.enable_user(console.project, target, actor=user)
    except (ValueError, LookupError) as error:
        return users_page(request, f"Not changed: {error}", 400)
    return redirect("/admin/users")


@pages.post("/admin/users/reset-two-factor")
@off_the_loop
def reset_two_factor(request: Request):
    """For a lost phone without recovery codes: the account sets up a new factor at
    its next sign-in (admins must; staff may), and its sessions end now."""
    console = console_of(request)
    user = console.require(request, audit.MANAGE_USERS)
    try:
        two_factor.reset(console.project, request.form.get("login") or "", actor=user)
    except (ValueError, LookupError) as error:
        return users_page(request, f"Not changed: {error}", 400)
    return redirect("/admin/users")


@pages.get("/admin/retention")
@off_the_loop
def retention_form(request: Request):
    console = console_of(request)
    console.require(request, audit.DELETE_DATA)
    return console.render(request, "retention.html", report=None, message="")


@pages.post("/admin/retention/<what:(older-than|erase)>")
@off_the_loop
def retention_action(request: Request, what: str):
    console = console_of(request)
    user = console.require(request, audit.DELETE_DATA)
    try:
        if what == "older-than":
            days = float(request.form.get("days") or "")
            if days < 1:
                raise ValueError("keep at least one day")
            report = retention.delete_older_than(console.tracker, console.project, days)
            target = f"older than {days:g} days"
        else:
            conversation_id = (request.form.get("conversation_id") or "").strip() or None
            phone = (request.form.get("phone") or "").strip() or None
            report = retention.erase_patient(
                console.tracker, console.project, conversation_id=conversation_id, phone=phone
            )
            target = "erase one patient"
    except (ValueError, FileNotFoundError) as error:
        return console.render(
            request, "retention.html", status=400, report=None, message=str(error)
        )
    annotations.prune_missing(console.tracker, console.project)
    detail = "; ".join(report.lines())
    audit.record(console.project, user.login, audit.DELETE_DATA, target, detail)
    return console.render(request, "retention.html", report=report, message="Done.")
