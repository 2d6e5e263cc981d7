"""All conversations: closed chats found by what was said, who, why, when and how they were rated; a transcript
with its timeline."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from escalation import REASONS
import conversation
from conversation import ChatError
from models import Agent, AgentSession, ChatSession, FollowUp, now
from routes.agent import requires_agent
from routes.common import error_fragment, flash, form_data, plain_text, redirects_back, render, wake

PER_PAGE = 20


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def search_filters(params) -> tuple[dict, list[str]]:
    """The search form's fields, as given, and the problems with them."""
    fields = {name: plain_text(params.get(name), 200) for name in ("q", "email", "agent", "reason", "from", "to",
                                                                    "rating")}
    problems = []
    for name in ("from", "to"):
        if fields[name] and _day(fields[name]) is None:
            problems.append(f"Give the {'first' if name == 'from' else 'last'} day as YYYY-MM-DD.")
    if fields["rating"] and fields["rating"] not in "12345":
        problems.append("A rating is 1 to 5.")
    if fields["reason"] and fields["reason"] not in REASONS:
        problems.append("Choose one of the handoff reasons.")
    return fields, problems


def _search(fields: dict, page: int) -> dict:
    start, last = _day(fields["from"]), _day(fields["to"])
    query = ChatSession.closed_matching(
        text=fields["q"], email=fields["email"], agent=Agent.by_agent_id(fields["agent"]) if fields["agent"] else None,
        reason=fields["reason"], rating=int(fields["rating"]) if fields["rating"] else None,
        start=datetime.combine(start, datetime.min.time()) if start else None,
        end=datetime.combine(last + timedelta(days=1), datetime.min.time()) if last else None)
    rows = list(query.paginate(page, PER_PAGE + 1))
    return {"results": rows[:PER_PAGE], "more": len(rows) > PER_PAGE,
            "agents": list(Agent.select().order_by(Agent.name))}


@requires_agent(page=True)
async def conversations_page(request: Request):
    fields, problems = search_filters(request.query_params)
    raw = request.query_params.get("page", "1")
    page = int(raw) if raw.isdigit() and 0 < int(raw) < 10_000 else 1
    context = {"results": [], "more": False, "agents": []} if problems else await run_in_threadpool(
        _search, fields, page)
    query = urlencode({name: value for name, value in fields.items() if value})
    return render(request, "agent/conversations.html", status_code=400 if problems else 200, me=request.state.agent,
                  fields=fields, problems=problems, page_number=page, query=query, reasons=REASONS, **context)


def _transcript(chat_id: int) -> dict | None:
    chat = ChatSession.get_or_none(ChatSession.id == chat_id)
    if chat is None:
        return None
    messages = list(chat.transcript())
    history = list(AgentSession.select().where(AgentSession.session == chat).order_by(AgentSession.id))
    # One timeline: the messages and the chat's actions, in the order they happened.
    timeline = sorted([("message", m.created_at, m) for m in messages] + [("action", h.created_at, h) for h in history],
                      key=lambda item: item[1])
    return {"chat": chat, "timeline": timeline, "followups": list(FollowUp.select().where(FollowUp.session == chat))}


@requires_agent(page=True)
async def conversation_page(request: Request):
    context = await run_in_threadpool(_transcript, int(request.path_params["chat_id"]))
    if context is None:
        return render(request, "error.html", status_code=404, me=request.state.agent, title="No such chat",
                      message="There is no chat with that number.")
    return render(request, "agent/conversation.html", me=request.state.agent, **context)


def _live(grace: float) -> dict:
    chats = list(ChatSession.select().where(ChatSession.status.in_(["waiting", "assigned"]))
                 .order_by(ChatSession.id))
    return {"chats": chats, "team": Agent.team(grace), "now": now()}


@requires_agent(page=True, admin=True)
async def admin_live(request: Request):
    context = await run_in_threadpool(_live, request.app.state.settings.presence_grace_seconds)
    return render(request, "admin/live.html", me=request.state.agent, notice=flash(request).get("error"), **context)


@redirects_back("/agent/admin/live")
@requires_agent(admin=True)
async def admin_reassign(request: Request):
    """Join a live chat (reassigned to me) or hand it to another present counsellor."""
    form = await form_data(request)
    target = await run_in_threadpool(Agent.by_agent_id, plain_text(form.get("agent_id"), 64))
    if target is None:
        return error_fragment(request, "Choose a counsellor.", 400)
    try:
        outcome = await run_in_threadpool(conversation.reassign, int(request.path_params["chat_id"]),
                                          request.state.agent, target,
                                          request.app.state.settings.presence_grace_seconds)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    return RedirectResponse("/agent/admin/live", status_code=303)


routes = [
    Route("/agent/admin/live", admin_live, name="admin_live"),
    Route("/agent/admin/live/{chat_id:int}/reassign", admin_reassign, methods=["POST"], name="admin_reassign"),
    Route("/agent/conversations", conversations_page, name="conversations_page"),
    Route("/agent/conversations/{chat_id:int}", conversation_page, name="conversation_page"),
]
