"""Downloads: the annotations as Rasa NLU training data, and conversations as CSV
or JSON (with the list's filters).  Every export is audited.
"""

from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from staff import annotations, audit
from staff import conversations as conv
from staff.pages.base import (
    console_of,
    off_the_loop,
)
from staff.pages.transcripts import conversation_filters, find_conversations

pages = Blueprint("exports")


def download(body: str, filename: str, content_type: str) -> HTTPResponse:
    return HTTPResponse(
        body,
        content_type=content_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@pages.get("/export/annotations.yml")
@off_the_loop
def export_annotations(request: Request):
    console = console_of(request)
    user = console.require(request, audit.EXPORT_NLU)
    pairs: list[tuple[str, str]] = []
    by_sender: dict[str, list[annotations.Annotation]] = {}
    annotations.prune_missing(console.tracker, console.project)
    for item in annotations.all_annotations(console.project):
        by_sender.setdefault(item.sender_id, []).append(item)
    for sender_id, items in by_sender.items():
        try:
            result = conv.transcript(console.tracker, sender_id)
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
        return console.render(request, "error.html", status=409, message=str(error))
    audit.record(console.project, user.login, audit.EXPORT_NLU, len(pairs), "annotations")
    return download(body, "annotations-nlu.yml", "application/x-yaml; charset=utf-8")


@pages.get("/export/conversations.csv")
@off_the_loop
def export_csv(request: Request):
    return export_conversations(request, "csv")


@pages.get("/export/conversations.json")
@off_the_loop
def export_json(request: Request):
    return export_conversations(request, "json")


def export_conversations(request: Request, fmt: str) -> HTTPResponse:
    console = console_of(request)
    user = console.require(request, audit.EXPORT_CONVERSATIONS)
    filters = conversation_filters(request)
    found, error = find_conversations(console, filters, limit=100_000)
    if error:
        return console.render(request, "error.html", status=400, message=error)
    senders = [c.sender_id for c in found]
    if fmt == "csv":
        body = conv.export_conversations_csv(console.tracker, senders)
        content_type = "text/csv; charset=utf-8"
    else:
        body = conv.export_conversations_json(console.tracker, senders)
        content_type = "application/json; charset=utf-8"
    detail = f"{fmt}, {len(senders)} conversations"
    audit.record(console.project, user.login, audit.EXPORT_CONVERSATIONS, len(senders), detail)
    return download(body, f"conversations.{fmt}", content_type)
