"""The staff console's web pages: Sanic + Jinja2, server-rendered, no front-end build.

Run: `python -m staff.web` (127.0.0.1:$STAFF_PORT, default 8081).  Put it
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

Database calls (SQLAlchemy 1.4), scrypt and template rendering are
synchronous, so every handler and the session middleware run on a worker
thread (`off_the_loop`): a slow query or a login's password hash never
stalls the console's other requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import re
import secrets
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, html, redirect
from sanic.response import text as text_response

from clinic_core import settings, storage
from staff import annotations, audit, auth, retention
from staff import conversations as conv

HERE = Path(__file__).resolve().parent
LOGIN_CSRF_COOKIE = "staff_login_csrf"
REFRESH_SECONDS = 30
BOOKING_STATUSES = ("new", "contacted", "booked", "cancelled")
SEVERITY_ORDER = {"emergency": 0, "urgent": 1, "routine": 2}
NOTE_LENGTH = 2000
LABEL = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?$")
# Audit actions added by the web layer (staff.audit allows more in the same format).
UPDATE_ESCALATION = "update_escalation"
UPDATE_BOOKING = "update_booking"
ANNOTATE = "annotate"
PAGE_SIZE = 100

_names = itertools.count(1)


# --- configuration -----------------------------------------------------------------


def prune_annotations(tracker_url: conv.TrackerDB, project_url: str) -> int:
    """Delete annotations of conversations no longer in the tracker store; how many went.

    Sender ids can be phone numbers (SMS/WhatsApp): after a deletion they
    must not linger.  Called after the console's retention actions and
    before an NLU export (the retention command line does not call it).
    """

    def still_stored(sender_ids: Iterable[str]) -> set[str]:
        try:
            engine = conv.tracker_engine(tracker_url)
        except FileNotFoundError:
            return set()
        if not conv.has_events_table(engine):
            return set()
        found: set[str] = set()
        with engine.connect() as connection:
            for batch in conv.chunks(sorted(sender_ids)):
                query = (
                    sa.select(conv.EVENTS.c.sender_id)
                    .where(conv.EVENTS.c.sender_id.in_(batch))
                    .distinct()
                )
                found.update(connection.scalars(query))
        return found

    return annotations.prune(still_stored, project_url)


# --- helpers -----------------------------------------------------------------------


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def missing_details(row: storage.Escalation) -> list[str]:
    """What the clinic still lacks to call back: patients may skip a contact question."""
    wanted = [("name", row.patient_name), ("phone number", row.phone)]
    if row.severity in ("urgent", "emergency") or "symptom" in (row.reason or ""):
        wanted.append(("treatment date", row.treatment_date))
    return [label for label, value in wanted if not value]


def _age(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "?"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


def _fmt(moment: Any) -> str:
    if isinstance(moment, datetime):
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return "" if moment is None else str(moment)


def _confidence(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _clean_note(value: str | None) -> str:
    return (value or "").strip()[:NOTE_LENGTH]


class Forbidden(Exception):
    pass


# --- the app -----------------------------------------------------------------------


def off_the_loop(handler: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    """Register a synchronous handler: Sanic awaits it while it runs on a worker thread."""

    @functools.wraps(handler)
    async def run(request: Request, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(handler, request, *args, **kwargs)

    return run


def create_app(
    *,
    project_url: str | None = None,
    tracker_url: str | None = None,
    secure_cookies: bool | None = None,
    name: str | None = None,
) -> Sanic:
    """The console.  URLs default to the deployment's (DATABASE_URL, TRACKER_STORE_URL)."""
    app = Sanic(name or f"staff_console_{next(_names)}", configure_logging=False)
    project = project_url or settings.database_url()
    tracker = tracker_url or retention.default_tracker_url()
    secure = settings.load().staff_cookie_secure if secure_cookies is None else secure_cookies

    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _fmt
    env.filters["conf"] = _confidence
    app.static("/static", str(HERE / "static"), name="static")

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTTPResponse:
        user = getattr(request.ctx, "user", None)
        session = getattr(request.ctx, "session", None)
        body = env.get_template(template).render(
            user=user,
            is_admin=user is not None and auth.has_role(user, auth.ADMIN),
            csrf=session.csrf if session else "",
            path=request.path,
            **context,
        )
        return html(body, status=status)

    def set_cookie(response: HTTPResponse, name: str, value: str) -> None:
        response.cookies[name] = value
        for key, attribute in auth.cookie_attributes(secure).items():
            response.cookies[name][key] = attribute

    def delete_session_cookie(response: HTTPResponse) -> None:
        set_cookie(response, auth.COOKIE_NAME, "")
        response.cookies[auth.COOKIE_NAME]["max-age"] = 0

    def actor_login(request: Request) -> str:
        user = getattr(request.ctx, "user", None)
        return user.login if user else auth.UNKNOWN_LOGIN

    def require(request: Request, action: str) -> auth.User:
        """The current user if allowed `action`; Forbidden (audited) otherwise."""
        user = request.ctx.user
        try:
            auth.require_permission(user, action)
        except PermissionError:
            audit.record(
                project, actor_login(request), audit.PERMISSION_DENIED, action, request.path
            )
            raise Forbidden from None
        return user

    # --- middleware --------------------------------------------------------------

    @app.middleware("request")
    @off_the_loop
    def load_user(request: Request):
        request.ctx.session = auth.read_session(request.cookies.get(auth.COOKIE_NAME))
        request.ctx.user = auth.current_user(project, request.ctx.session)
        if request.ctx.user is None:
            request.ctx.session = None
        public = request.path in ("/login",) or request.path.startswith("/static/")
        if public:
            return None
        if request.ctx.user is None:
            if request.method == "GET":
                response = redirect("/login")
            else:
                response = text_response("Forbidden: log in first", status=403)
            if request.cookies.get(auth.COOKIE_NAME):
                delete_session_cookie(response)
            return response
        if request.method == "POST" and not auth.check_csrf(
            request.ctx.session, request.form.get("csrf")
        ):
            audit.record(
                project, actor_login(request), audit.PERMISSION_DENIED, "csrf", request.path
            )
            return text_response("Forbidden: bad or missing CSRF token", status=403)
        return None

    @app.middleware("response")
    async def renew_and_harden(request: Request, response: HTTPResponse):
        session = getattr(request.ctx, "session", None)
        if session is not None and auth.COOKIE_NAME not in response.cookies:
            with contextlib.suppress(ValueError):  # expired meanwhile: no renewal
                set_cookie(response, auth.COOKIE_NAME, auth.refresh(session))
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'",
        )

    @app.exception(Forbidden)
    async def forbidden(request: Request, exception: Exception):
        return render(request, "error.html", status=403, message="You may not do this.")

    # --- login -------------------------------------------------------------------

    def login_page(request: Request, error: str = "", status: int = 200) -> HTTPResponse:
        # Reuse the browser's token: parallel requests (a favicon redirected
        # here) must not replace the one in the form being filled in.
        token = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        if not re.fullmatch(r"[A-Za-z0-9_-]{43}", token):
            token = secrets.token_urlsafe(32)
        response = render(request, "login.html", status=status, login_csrf=token, error=error)
        set_cookie(response, LOGIN_CSRF_COOKIE, token)
        return response

    @app.get("/login")
    @off_the_loop
    def login_form(request: Request):
        if request.ctx.user is not None:
            return redirect("/")
        return login_page(request)

    @app.post("/login")
    @off_the_loop
    def login(request: Request):
        cookie = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        submitted = request.form.get("csrf") or ""
        if not cookie or not secrets.compare_digest(cookie.encode(), submitted.encode()):
            return text_response("Forbidden: bad or missing CSRF token", status=403)
        user = auth.authenticate(
            project, request.form.get("login") or "", request.form.get("password") or ""
        )
        if user is None:
            return login_page(request, "Wrong login or password, or the account is locked.", 401)
        response = redirect("/")
        set_cookie(response, auth.COOKIE_NAME, auth.issue_session(user))
        set_cookie(response, LOGIN_CSRF_COOKIE, "")
        response.cookies[LOGIN_CSRF_COOKIE]["max-age"] = 0
        return response

    @app.post("/logout")
    @off_the_loop
    def logout(request: Request):
        audit.record(project, request.ctx.user.login, audit.LOGOUT)
        response = redirect("/login")
        delete_session_cookie(response)
        return response

    # --- escalations ---------------------------------------------------------------

    def outbox_by_reference(db: Any, references: list[str]) -> dict[str, list[Any]]:
        found: dict[str, list[Any]] = {}
        if references:
            rows = (
                db.query(storage.OutboxMessage)
                .filter(storage.OutboxMessage.reference.in_(references))
                .order_by(storage.OutboxMessage.id)
            )
            for row in rows:
                found.setdefault(row.reference, []).append(
                    {
                        "type": row.message_type,
                        "transport": row.transport,
                        "status": row.status,
                        "attempts": row.attempts,
                        "error": row.last_error,
                        "delivered_at": row.delivered_at,
                    }
                )
        return found

    @app.get("/")
    @off_the_loop
    def escalations(request: Request):
        require(request, "work_queues")
        now = storage.utcnow()
        with storage.transaction(project) as db:
            rows = (
                db.query(storage.Escalation).filter(storage.Escalation.status != "resolved").all()
            )
            rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.created_at))
            deliveries = outbox_by_reference(db, [r.reference for r in rows])
            items = [
                {
                    "id": r.id,
                    "reference": r.reference,
                    "severity": r.severity,
                    "status": r.status,
                    "reason": r.reason,
                    "age": _age(r.created_at, now),
                    "created_at": r.created_at,
                    "patient_name": r.patient_name,
                    "phone": r.phone,
                    "treatment_date": r.treatment_date,
                    "preferred_time_text": r.preferred_time_text,
                    "symptoms": r.symptoms,
                    "note": r.staff_note,
                    "conversation_id": r.conversation_id,
                    "channel": r.channel,
                    "deliveries": deliveries.get(r.reference, []),
                    "missing": missing_details(r),
                }
                for r in rows
            ]
        new_emergencies = sum(
            1 for i in items if i["severity"] == "emergency" and i["status"] == "open"
        )
        return render(
            request,
            "escalations.html",
            items=items,
            new_emergencies=new_emergencies,
            refresh=REFRESH_SECONDS,
            transcript_url=transcript_url,
        )

    @app.post("/escalations/<escalation_id:int>/<what:(acknowledge|resolve|note)>")
    @off_the_loop
    def escalation_action(request: Request, escalation_id: int, what: str):
        user = require(request, "work_queues")
        with storage.transaction(project) as db:
            row = db.get(storage.Escalation, escalation_id, with_for_update=True)
            if row is None:
                return render(request, "error.html", status=404, message="No such escalation.")
            if what == "note":
                note = _clean_note(request.form.get("note"))
                if not note:
                    return redirect(f"/#{row.reference}")
                _append_note(row, user, note)
                detail = "note added"
            elif what == "acknowledge":
                if row.status != "open":  # never re-opens a resolved one
                    return redirect(f"/#{row.reference}")
                row.status, detail = "acknowledged", "status acknowledged"
            else:
                row.status, detail = "resolved", "status resolved"
            row.updated_at = storage.utcnow()
            audit.add(db, user.login, UPDATE_ESCALATION, row.reference, detail)
        return redirect("/")

    # --- bookings ------------------------------------------------------------------

    @app.get("/bookings")
    @off_the_loop
    def bookings(request: Request):
        require(request, "work_queues")
        status = request.args.get("status") or ""
        with storage.transaction(project) as db:
            query = db.query(storage.Booking)
            if status in BOOKING_STATUSES:
                query = query.filter(storage.Booking.status == status)
            rows = query.order_by(storage.Booking.created_at.desc()).limit(500).all()
            items = [
                {
                    column: getattr(r, column)
                    for column in (
                        "id",
                        "reference",
                        "conversation_id",
                        "channel",
                        "created_at",
                        "patient_name",
                        "phone",
                        "email",
                        "new_patient",
                        "preferred_time_text",
                        "treatment_area",
                        "status",
                        "staff_note",
                    )
                }
                for r in rows
            ]
        return render(
            request,
            "bookings.html",
            items=items,
            selected=status,
            statuses=BOOKING_STATUSES,
            transcript_url=transcript_url,
        )

    @app.post("/bookings/<booking_id:int>/<what:(status|note)>")
    @off_the_loop
    def booking_action(request: Request, booking_id: int, what: str):
        user = require(request, "work_queues")
        with storage.transaction(project) as db:
            row = db.get(storage.Booking, booking_id, with_for_update=True)
            if row is None:
                return render(request, "error.html", status=404, message="No such booking.")
            if what == "status":
                status = request.form.get("status")
                if status not in BOOKING_STATUSES:
                    return render(request, "error.html", status=400, message="Unknown status.")
                row.status = status
                detail = f"status {status}"
            else:
                note = _clean_note(request.form.get("note"))
                if note:
                    _append_note(row, user, note)
                detail = "note added"
            audit.add(db, user.login, UPDATE_BOOKING, row.reference, detail)
        return redirect("/bookings")

    # --- conversations ---------------------------------------------------------------

    def transcript_url(sender_id: str) -> str:
        return "/transcript?" + urlencode({"id": sender_id})

    def conversation_filters(request: Request) -> dict[str, Any]:
        args = request.args
        return {
            "flag": args.get("flag") or "",
            "channel": (args.get("channel") or "").strip(),
            "since": args.get("since") or "",
            "until": args.get("until") or "",
            "text": (args.get("text") or "").strip(),
            "phone": (args.get("phone") or "").strip(),
        }

    def find_conversations(
        filters: dict[str, Any], limit: int = PAGE_SIZE, offset: int = 0
    ) -> tuple[list, str]:
        try:
            found = conv.list_conversations(
                tracker,
                flags=filters["flag"] if filters["flag"] in conv.FLAGS else None,
                channel=filters["channel"] or None,
                since=_parse_date(filters["since"]),
                until=_parse_date(filters["until"]),
                text=filters["text"] or None,
                phone=filters["phone"] or None,
                project_db_url=project,
                limit=limit,
                offset=offset,
            )
        except FileNotFoundError:
            return [], "No tracker store found."
        except ValueError as error:
            return [], str(error)
        return found, ""

    @app.get("/conversations")
    @off_the_loop
    def conversations(request: Request):
        require(request, audit.VIEW_CONVERSATION)
        filters = conversation_filters(request)
        try:
            page = max(1, int(request.args.get("page") or 1))
        except ValueError:
            page = 1
        # One more than a page: tells whether there is a next page.
        found, error = find_conversations(filters, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
        query = urlencode({k: v for k, v in filters.items() if v})
        return render(
            request,
            "conversations.html",
            items=found[:PAGE_SIZE],
            page=page,
            more=len(found) > PAGE_SIZE,
            page_query=(query + "&" if query else "") + "page=",
            error=error,
            filters=filters,
            flags=conv.FLAGS,
            transcript_url=transcript_url,
            query=query,
        )

    @app.get("/transcript")
    @off_the_loop
    def transcript(request: Request):
        user = require(request, audit.VIEW_CONVERSATION)
        sender_id = request.args.get("id") or ""
        if not sender_id:
            return redirect("/conversations")
        try:
            result = conv.transcript(tracker, sender_id, project_db_url=project)
        except FileNotFoundError:
            result = conv.Transcript(sender_id=sender_id, items=(), links=())
        audit.record(project, user.login, audit.VIEW_CONVERSATION, sender_id)
        annotated = annotations.for_conversation(sender_id, project)
        return render(
            request,
            "transcript.html",
            sender_id=sender_id,
            items=list(enumerate(result.items)),
            links=result.links,
            annotated=annotated,
            transcript_url=transcript_url,
        )

    @app.post("/annotate")
    @off_the_loop
    def annotate(request: Request):
        user = require(request, "work_queues")
        sender_id = request.form.get("sender_id") or ""
        label = (request.form.get("label") or "").strip()
        try:
            index = int(request.form.get("index") or "")
        except ValueError:
            index = -1
        if not LABEL.match(label):
            return render(request, "error.html", status=400, message="Not an intent name.")
        result = conv.transcript(tracker, sender_id)
        if not 0 <= index < len(result.items) or result.items[index].kind != "patient":
            return render(request, "error.html", status=400, message="No such patient message.")
        message = result.items[index]
        stamp = message.timestamp.isoformat() if message.timestamp else None
        annotations.save(sender_id, index, stamp, label, user.login, project)
        audit.record(project, user.login, ANNOTATE, sender_id, f"message {index}: {label}")
        return redirect(transcript_url(sender_id) + f"#m{index}")

    @app.get("/unanswered")
    @off_the_loop
    def unanswered(request: Request):
        require(request, audit.VIEW_CONVERSATION)
        since, until = request.args.get("since") or "", request.args.get("until") or ""
        try:
            groups = conv.unanswered_questions(
                tracker, since=_parse_date(since), until=_parse_date(until)
            )
            error = ""
        except FileNotFoundError:
            groups, error = [], "No tracker store found."
        return render(
            request,
            "unanswered.html",
            groups=groups,
            since=since,
            until=until,
            error=error,
            annotations=annotations.count(project),
            transcript_url=transcript_url,
        )

    # --- exports ----------------------------------------------------------------------

    def download(body: str, filename: str, content_type: str) -> HTTPResponse:
        return HTTPResponse(
            body,
            content_type=content_type,
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    @app.get("/export/annotations.yml")
    @off_the_loop
    def export_annotations(request: Request):
        user = require(request, audit.EXPORT_NLU)
        pairs: list[tuple[str, str]] = []
        by_sender: dict[str, list[annotations.Annotation]] = {}
        prune_annotations(tracker, project)
        for item in annotations.all_annotations(project):
            by_sender.setdefault(item.sender_id, []).append(item)
        for sender_id, items in by_sender.items():
            try:
                result = conv.transcript(tracker, sender_id)
            except FileNotFoundError:
                break
            for item in items:
                if 0 <= item.index < len(result.items):
                    message = result.items[item.index]
                    stamp = message.timestamp.isoformat() if message.timestamp else None
                    if message.kind == "patient" and stamp == item.timestamp:
                        pairs.append((message.text or "", item.label))
        try:
            body = conv.export_nlu_yaml(pairs)
        except ValueError as error:
            return render(request, "error.html", status=409, message=str(error))
        audit.record(project, user.login, audit.EXPORT_NLU, len(pairs), "annotations")
        return download(body, "annotations-nlu.yml", "application/x-yaml; charset=utf-8")

    @app.get("/export/conversations.csv")
    @off_the_loop
    def export_csv(request: Request):
        return export_conversations(request, "csv")

    @app.get("/export/conversations.json")
    @off_the_loop
    def export_json(request: Request):
        return export_conversations(request, "json")

    def export_conversations(request: Request, fmt: str) -> HTTPResponse:
        user = require(request, audit.EXPORT_CONVERSATIONS)
        filters = conversation_filters(request)
        found, error = find_conversations(filters, limit=100_000)
        if error:
            return render(request, "error.html", status=400, message=error)
        senders = [c.sender_id for c in found]
        if fmt == "csv":
            body = conv.export_conversations_csv(tracker, senders)
            content_type = "text/csv; charset=utf-8"
        else:
            body = conv.export_conversations_json(tracker, senders)
            content_type = "application/json; charset=utf-8"
        detail = f"{fmt}, {len(senders)} conversations"
        audit.record(project, user.login, audit.EXPORT_CONVERSATIONS, len(senders), detail)
        return download(body, f"conversations.{fmt}", content_type)

    # --- admin ------------------------------------------------------------------------

    @app.get("/admin/audit")
    @off_the_loop
    def audit_log(request: Request):
        require(request, "view_audit")
        login = (request.args.get("login") or "").strip() or None
        return render(
            request,
            "audit.html",
            entries=audit.entries(project, 500, login=login),
            login=login or "",
        )

    def users_page(request: Request, message: str = "", status: int = 200) -> HTTPResponse:
        user = require(request, audit.MANAGE_USERS)
        return render(
            request,
            "users.html",
            status=status,
            users=auth.list_users(project, actor=user),
            roles=auth.ROLES,
            message=message,
        )

    @app.get("/admin/users")
    @off_the_loop
    def users(request: Request):
        return users_page(request)

    @app.post("/admin/users")
    @off_the_loop
    def create_user(request: Request):
        user = require(request, audit.MANAGE_USERS)
        try:
            auth.create_user(
                project,
                request.form.get("login") or "",
                request.form.get("password") or "",
                request.form.get("role") or "",
                actor=user,
            )
        except ValueError as error:
            return users_page(request, f"Not created: {error}", 400)
        return redirect("/admin/users")

    @app.post("/admin/users/<what:(disable|enable)>")
    @off_the_loop
    def toggle_user(request: Request, what: str):
        user = require(request, audit.MANAGE_USERS)
        target = request.form.get("login") or ""
        try:
            if what == "disable":
                auth.disable_user(project, target, actor=user)
            else:
                auth.enable_user(project, target, actor=user)
        except (ValueError, LookupError) as error:
            return users_page(request, f"Not changed: {error}", 400)
        return redirect("/admin/users")

    @app.get("/admin/retention")
    @off_the_loop
    def retention_form(request: Request):
        require(request, audit.DELETE_DATA)
        return render(request, "retention.html", report=None, message="")

    @app.post("/admin/retention/<what:(older-than|erase)>")
    @off_the_loop
    def retention_action(request: Request, what: str):
        user = require(request, audit.DELETE_DATA)
        try:
            if what == "older-than":
                days = float(request.form.get("days") or "")
                if days < 1:
                    raise ValueError("keep at least one day")
                report = retention.delete_older_than(tracker, project, days)
                target = f"older than {days:g} days"
            else:
                conversation_id = (request.form.get("conversation_id") or "").strip() or None
                phone = (request.form.get("phone") or "").strip() or None
                report = retention.erase_patient(
                    tracker, project, conversation_id=conversation_id, phone=phone
                )
                target = "erase one patient"
        except (ValueError, FileNotFoundError) as error:
            return render(request, "retention.html", status=400, report=None, message=str(error))
        prune_annotations(tracker, project)
        detail = "; ".join(report.lines())
        audit.record(project, user.login, audit.DELETE_DATA, target, detail)
        return render(request, "retention.html", report=report, message="Done.")

    return app


def _append_note(row: Any, user: auth.User, note: str) -> None:
    """Notes accumulate, each stamped with when and by whom (escalations and bookings)."""
    stamp = f"[{_fmt(storage.utcnow())} {user.login}] {note}"
    row.staff_note = "\n".join(part for part in (row.staff_note, stamp) if part)


def main() -> None:
    port = settings.load().staff_port
    app = create_app(name="staff_console")
    app.run(host="127.0.0.1", port=port, access_log=False)


if __name__ == "__main__":
    main()
