"""Conversations: the searchable list, one transcript (viewing it is audited),
annotating a patient message with the intent it should have had, and the
questions the assistant could not answer.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

from sanic import Blueprint
from sanic.request import Request
from sanic.response import redirect

from staff import annotations, audit
from staff import conversations as conv
from staff.pages.base import (
    Console,
    console_of,
    off_the_loop,
    parse_date,
    transcript_url,
)

pages = Blueprint("transcripts")
LABEL = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)?$")
ANNOTATE = "annotate"  # audit action
PAGE_SIZE = 100


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
    console: Console, filters: dict[str, Any], limit: int = PAGE_SIZE, offset: int = 0
) -> tuple[list, str]:
    """The conversations matching the filters, or none and why."""
    try:
        found = conv.list_conversations(
            console.tracker,
            flags=filters["flag"] if filters["flag"] in conv.FLAGS else None,
            channel=filters["channel"] or None,
            since=parse_date(filters["since"]),
            until=parse_date(filters["until"]),
            text=filters["text"] or None,
            phone=filters["phone"] or None,
            project_db_url=console.project,
            limit=limit,
            offset=offset,
        )
    except FileNotFoundError:
        return [], "No tracker store found."
    except ValueError as error:
        return [], str(error)
    return found, ""


@pages.get("/conversations")
@off_the_loop
def conversations(request: Request):
    console = console_of(request)
    console.require(request, audit.VIEW_CONVERSATION)
    filters = conversation_filters(request)
    try:
        page = max(1, int(request.args.get("page") or 1))
    except ValueError:
        page = 1
    # One more than a page: tells whether there is a next page.
    found, error = find_conversations(console, filters, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    query = urlencode({k: v for k, v in filters.items() if v})
    return console.render(
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


@pages.get("/transcript")
@off_the_loop
def transcript(request: Request):
    console = console_of(request)
    user = console.require(request, audit.VIEW_CONVERSATION)
    sender_id = request.args.get("id") or ""
    if not sender_id:
        return redirect("/conversations")
    try:
        result = conv.transcript(console.tracker, sender_id, project_db_url=console.project)
    except FileNotFoundError:
        result = conv.Transcript(sender_id=sender_id, items=(), links=())
    audit.record(console.project, user.login, audit.VIEW_CONVERSATION, sender_id)
    annotated = annotations.for_conversation(sender_id, console.project)
    return console.render(
        request,
        "transcript.html",
        sender_id=sender_id,
        items=list(enumerate(result.items)),
        links=result.links,
        annotated=annotated,
        transcript_url=transcript_url,
    )


@pages.post("/annotate")
@off_the_loop
def annotate(request: Request):
    console = console_of(request)
    user = console.require(request, "work_queues")
    sender_id = request.form.get("sender_id") or ""
    label = (request.form.get("label") or "").strip()
    try:
        index = int(request.form.get("index") or "")
    except ValueError:
        index = -1
    if not LABEL.match(label):
        return console.render(request, "error.html", status=400, message="Not an intent name.")
    result = conv.transcript(console.tracker, sender_id)
    if not 0 <= index < len(result.items) or result.items[index].kind != "patient":
        return console.render(request, "error.html", status=400, message="No such patient message.")
    message = result.items[index]
    stamp = message.timestamp.isoformat() if message.timestamp else None
    annotations.save(sender_id, index, stamp, label, user.login, console.project)
    audit.record(console.project, user.login, ANNOTATE, sender_id, f"message {index}: {label}")
    return redirect(transcript_url(sender_id) + f"#m{index}")


@pages.get("/unanswered")
@off_the_loop
def unanswered(request: Request):
    console = console_of(request)
    console.require(request, audit.VIEW_CONVERSATION)
    since, until = request.args.get("since") or "", request.args.get("until") or ""
    try:
        groups = conv.unanswered_questions(
            console.tracker, since=parse_date(since), until=parse_date(until)
        )
        error = ""
    except FileNotFoundError:
        groups, error = [], "No tracker store found."
    return console.render(
        request,
        "unanswered.html",
        groups=groups,
        since=since,
        until=until,
        error=error,
        annotations=annotations.count(console.project),
        transcript_url=transcript_url,
    )
