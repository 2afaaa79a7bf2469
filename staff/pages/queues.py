"""The work queues: escalations (most severe first) and booking requests, with
their actions (acknowledge, resolve, status, notes).  Every change is audited
with the reference and the new status, never the note's text.
"""

from __future__ import annotations

from typing import Any

from sanic import Blueprint
from sanic.request import Request
from sanic.response import redirect

from clinic_core import storage
from staff import audit
from staff.pages.backlog import backlog
from staff.pages.base import (
    append_note,
    clean_note,
    console_of,
    off_the_loop,
    transcript_url,
)

pages = Blueprint("queues")
REFRESH_SECONDS = 30
BOOKING_STATUSES = ("new", "contacted", "booked", "cancelled")
SEVERITY_ORDER = {"emergency": 0, "urgent": 1, "routine": 2}
# Audit actions added by the console (staff.audit allows more in the same format).
UPDATE_ESCALATION = "update_escalation"
UPDATE_BOOKING = "update_booking"


def missing_details(row: storage.Escalation) -> list[str]:
    """What the clinic still lacks to call back: patients may skip a contact question."""
    wanted = [("name", row.patient_name), ("phone number", row.phone)]
    if row.severity in ("urgent", "emergency") or "symptom" in (row.reason or ""):
        wanted.append(("treatment date", row.treatment_date))
    return [label for label, value in wanted if not value]


def age(moment: Any, now: Any) -> str:
    if moment is None:
        return "?"
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


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


@pages.get("/")
@off_the_loop
def escalations(request: Request):
    console = console_of(request)
    console.require(request, "work_queues")
    now = storage.utcnow()
    with storage.transaction(console.project) as db:
        rows = db.query(storage.Escalation).filter(storage.Escalation.status != "resolved").all()
        rows.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 9), r.created_at))
        deliveries = outbox_by_reference(db, [r.reference for r in rows])
        items = [
            {
                "id": r.id,
                "reference": r.reference,
                "severity": r.severity,
                "status": r.status,
                "reason": r.reason,
                "age": age(r.created_at, now),
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
    return console.render(
        request,
        "escalations.html",
        items=items,
        backlog=backlog(console.project, console.tracker),
        new_emergencies=new_emergencies,
        refresh=REFRESH_SECONDS,
        transcript_url=transcript_url,
    )


@pages.post("/escalations/<escalation_id:int>/<what:(acknowledge|resolve|note)>")
@off_the_loop
def escalation_action(request: Request, escalation_id: int, what: str):
    console = console_of(request)
    user = console.require(request, "work_queues")
    with storage.transaction(console.project) as db:
        row = db.get(storage.Escalation, escalation_id, with_for_update=True)
        if row is None:
            return console.render(request, "error.html", status=404, message="No such escalation.")
        if what == "note":
            note = clean_note(request.form.get("note"))
            if not note:
                return redirect(f"/#{row.reference}")
            append_note(row, user, note)
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


@pages.get("/bookings")
@off_the_loop
def bookings(request: Request):
    console = console_of(request)
    console.require(request, "work_queues")
    status = request.args.get("status") or ""
    with storage.transaction(console.project) as db:
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
    return console.render(
        request,
        "bookings.html",
        items=items,
        selected=status,
        statuses=BOOKING_STATUSES,
        transcript_url=transcript_url,
    )


@pages.post("/bookings/<booking_id:int>/<what:(status|note)>")
@off_the_loop
def booking_action(request: Request, booking_id: int, what: str):
    console = console_of(request)
    user = console.require(request, "work_queues")
    with storage.transaction(console.project) as db:
        row = db.get(storage.Booking, booking_id, with_for_update=True)
        if row is None:
            return console.render(request, "error.html", status=404, message="No such booking.")
        if what == "status":
            status = request.form.get("status")
            if status not in BOOKING_STATUSES:
                return console.render(request, "error.html", status=400, message="Unknown status.")
            row.status = status
            detail = f"status {status}"
        else:
            note = clean_note(request.form.get("note"))
            if note:
                append_note(row, user, note)
            detail = "note added"
        audit.add(db, user.login, UPDATE_BOOKING, row.reference, detail)
    return redirect("/bookings")
