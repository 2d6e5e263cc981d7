"""All conversations: closed chats found by what was said, who, why, when and how they were rated; a transcript
with its timeline."""
from __future__ import annotations

from datetime import date, datetime, timedelta
from urllib.parse import urlencode

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from escalation import REASONS
import conversation
from conversation import ChatError
from models import Agent, AgentSession, ChatSession, FollowUp, Message, now
from realtime import QUEUE, agent_topic, session_topic
from routes.agent import requires_agent, signed_in
from routes.common import (StreamEndpoint, error_fragment, event_stream, flash, form_data, last_event_id,
                           message_events, plain_text, redirects_back, render, render_text, wake)

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
    # A note is already a message of its own, and so are the notes given with a transfer or a close: the timeline
    # tells each once.
    notes = [m.text for m in messages if m.internal]
    history = [h for h in AgentSession.select().where(AgentSession.session == chat).order_by(AgentSession.id)
               if h.action != "note"]
    for h in history:
        if h.note and any(h.note in note for note in notes):
            h.note = None
    # One timeline: the messages and the chat's actions, in the order they happened.
    timeline = sorted([("message", m.created_at, m) for m in messages] + [("action", h.created_at, h) for h in history],
                      key=lambda item: item[1])
    return {"chat": chat, "timeline": timeline, "actions": ACTIONS,
            "followups": list(FollowUp.select().where(FollowUp.session == chat))}


ACTIONS = {"take": "Taken", "assign": "Assigned", "requeue": "Back in the queue", "transfer": "Transferred",
           "join": "Joined", "leave": "Left", "return_to_bot": "Returned to the bot", "close": "Closed",
           "followup": "Message left", "followup_done": "Follow-up answered"}


@requires_agent(page=True)
async def conversation_page(request: Request):
    context = await run_in_threadpool(_transcript, int(request.path_params["chat_id"]))
    if context is None:
        return render(request, "error.html", status_code=404, me=request.state.agent, title="No such chat",
                      message="There is no chat with that number.")
    return render(request, "agent/conversation.html", me=request.state.agent, **context)


def _live(grace: float, chat_id: int | None, transcript: bool = True) -> dict:
    """Every live chat with its latest message, the team's presence and load, and the chat read, if any (with
    its `transcript`)."""
    chats = list(ChatSession.select().where(ChatSession.status.in_(["waiting", "assigned"])).order_by(ChatSession.id))
    reading = next((chat for chat in chats if chat.id == chat_id), None)
    return {"chats": chats, "team": Agent.team(grace), "now": now(), "reading": reading,
            "previews": Message.latest_from_visitor([chat.id for chat in chats]),
            "messages": list(reading.transcript()) if reading and transcript else []}


def _reading(request: Request) -> int | None:
    wanted = request.query_params.get("chat", "")
    return int(wanted) if wanted.isascii() and wanted.isdigit() and len(wanted) < 12 else None


@requires_agent(page=True, admin=True)
async def admin_live(request: Request):
    context = await run_in_threadpool(_live, request.app.state.settings.presence_grace_seconds, _reading(request))
    return render(request, "admin/live.html", me=request.state.agent, notice=flash(request).get("error"), **context)


def _live_news(grace: float, chat_id: int | None, last: int, admin_pk: int, session: dict,
               idle_seconds: float, team_only: bool = False) -> tuple[dict, list[Message]] | None:
    """What the live chats page shows now (or its team list alone), and the read chat's messages after `last`;
    None once the admin's sign-in has ended (signed out, idle, disabled) or they are no longer an admin."""
    admin = Agent.get_or_none(Agent.id == admin_pk)
    if not signed_in(session, admin, idle_seconds) or not admin.is_admin:
        return None
    if team_only:
        return {"team": Agent.team(grace)}, []
    context = _live(grace, chat_id, transcript=False)
    return context, list(Message.after(chat_id, last, internal=True)) if chat_id else []


@requires_agent(admin=True)
async def admin_live_events(request: Request):
    """The live chats and the team as they change, and every message of the chat being read, as it is written:
    the dashboard's stream, for reading only (it makes nobody present)."""
    settings, hub = request.app.state.settings, request.app.state.hub
    chat_id = _reading(request)
    last = last_event_id(request, -1)
    if last < 0:  # a fresh stream starts at the chat's newest message; the page says where it is up to
        last = await run_in_threadpool(lambda: Message.newest_ids(chat_id)[0]) if chat_id else 0
    me = request.state.agent
    team_only = request.query_params.get("team") == "1"  # the agents page follows presence and load alone
    topics = [QUEUE, agent_topic(me.id)] + ([session_topic(chat_id)] if chat_id else [])  # agent: signing out

    async def events():
        nonlocal last
        shown = ""
        with hub.listen(*topics) as listener:
            yield ServerSentEvent(comment="connected", retry=3000)
            while not hub.closing:
                news = await run_in_threadpool(_live_news, settings.presence_grace_seconds, chat_id, last, me.id,
                                               request.session, settings.agent_idle_hours * 3600, team_only)
                if news is None:
                    return
                context, messages = news
                html = render_text(request, "admin/_live_event.html", me=me, team_only=team_only, **context)
                if html != shown:
                    shown = html
                    yield ServerSentEvent(data=html)
                if messages:
                    last = messages[-1].id
                    yield message_events(request, "agent/_message_event.html", messages)
                if not await listener.wait(settings.ping_seconds):
                    yield ServerSentEvent(comment="ping")

    return event_stream(request, events())


async def _admin_act(request: Request, action, *args) -> Response | None:
    try:
        outcome = await run_in_threadpool(action, int(request.path_params["chat_id"]), request.state.agent, *args)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    return None


@redirects_back("/agent/admin/live")
@requires_agent(admin=True)
async def admin_reassign(request: Request):
    """Take a live chat over (reassigned to me) or hand it to another present counsellor."""
    form = await form_data(request)
    target = await run_in_threadpool(Agent.by_agent_id, plain_text(form.get("agent_id"), 64))
    if target is None:
        return error_fragment(request, "Choose a counsellor.", 400)
    refused = await _admin_act(request, conversation.reassign, target,
                               request.app.state.settings.presence_grace_seconds)
    return refused or RedirectResponse("/agent/admin/live", status_code=303)


@redirects_back("/agent/admin/live")
@requires_agent(admin=True)
async def admin_join(request: Request):
    """Join a counsellor's chat beside them, then write from the inbox, where it opens."""
    refused = await _admin_act(request, conversation.join)
    return refused or RedirectResponse(f"/agent/dashboard?chat={request.path_params['chat_id']}", status_code=303)


routes = [
    Route("/agent/admin/live", admin_live, name="admin_live"),
    Route("/agent/admin/live/events", StreamEndpoint(admin_live_events), methods=["GET"], name="admin_live_events"),
    Route("/agent/admin/live/{chat_id:int}/reassign", admin_reassign, methods=["POST"], name="admin_reassign"),
    Route("/agent/admin/live/{chat_id:int}/join", admin_join, methods=["POST"], name="admin_join"),
    Route("/agent/conversations", conversations_page, name="conversations_page"),
    Route("/agent/conversations/{chat_id:int}", conversation_page, name="conversation_page"),
]
