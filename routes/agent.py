"""The counsellor's side: login, dashboard, queue, take/transfer/release/close, notes and the live stream."""
from __future__ import annotations

import base64
import math
import secrets
import time

from itsdangerous import BadSignature

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

import conversation
from conversation import ChatError
from models import (SKILL_NAMES, Agent, AuditLog, CannedResponse, ChatSession, FollowUp, Message, check_password,
                    dummy_hash, now)
from realtime import QUEUE, QUEUE_NEWS, agent_topic
from routes.common import (StreamEndpoint, clean_text, client_address, client_key, error_fragment, event_stream,
                           flash, form_data, handed_over, message_events, plain_text, redirects_back, render,
                           render_text, wake)
from security import csrf_token
from writes import act

NOT_YOURS_TEXT = ("That chat is not one of yours: take it from the queue to open it, or find it under "
                  "All conversations.")


def signed_in(session: dict, agent: Agent | None, idle_seconds: float) -> bool:
    """The browser's sign-in still holds: agent active, not ended elsewhere (epoch), not idle too long."""
    return (agent is not None and agent.active and agent.epoch == session.get("agent_epoch")
            and time.time() - session.get("agent_seen", 0) <= idle_seconds)


def _agent_for(session: dict, idle_seconds: float) -> Agent | None:
    agent = Agent.get_or_none(Agent.id == session.get("agent"))
    return agent if signed_in(session, agent, idle_seconds) else None


async def current_agent(request: Request) -> Agent | None:
    """The signed-in agent, unless the login expired, was ended elsewhere, or the agent was disabled."""
    if "agent" not in request.session:
        return None
    idle = request.app.state.settings.agent_idle_hours * 3600
    agent = await run_in_threadpool(_agent_for, request.session, idle)
    if agent is None:
        for key in ("agent", "agent_epoch", "agent_seen"):
            request.session.pop(key, None)
    elif time.time() - request.session.get("agent_seen", 0) > 60:
        request.session["agent_seen"] = int(time.time())  # once a minute is enough to track idleness
    return agent


def requires_agent(handler=None, *, page: bool = False, admin: bool = False):
    """Pages redirect to the login; other requests get 401 (or 403 without the admin role)."""
    def wrap(handler):
        async def endpoint(request: Request):
            agent = await current_agent(request)
            if agent is None:
                if page:
                    return RedirectResponse("/agent/login", status_code=303)
                return PlainTextResponse("Sign in as an agent first.", status_code=401)
            if admin and not agent.is_admin:
                if page or request.method == "GET":
                    return render(request, "error.html", status_code=403, me=agent, title="Admins only",
                                  message="This page needs the admin role. Ask an admin if you need something here.")
                return PlainTextResponse("This needs the admin role.", status_code=403)
            request.state.agent = agent
            return await handler(request)
        endpoint.__name__ = handler.__name__
        return endpoint
    return wrap(handler) if handler else wrap


async def agent_login_page(request: Request):
    if await current_agent(request):
        return RedirectResponse("/agent/dashboard", status_code=303)
    return render(request, "agent/login.html", error=None, agent_id="")


def _verify(agent_id: str, password: str) -> Agent | None:
    agent = Agent.by_agent_id(agent_id)
    # Unknown ids still pay for one hash, so timing tells nothing.
    ok = check_password(password, agent.password_hash if agent else dummy_hash())
    return agent if agent and ok and agent.active else None


DEVICE_COOKIE = "handoff_device"
DEVICE_DAYS = 180


def trusted_device(request: Request, agent_id: str) -> str | None:
    """The id of this browser when it carries the signed device cookie of a past sign-in to this account."""
    raw = request.cookies.get(DEVICE_COOKIE)
    if not raw:
        return None
    try:
        found = request.app.state.devices.loads(raw, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    return found.get("d") if found.get("a") == agent_id.lower() else None


def remember_device(request: Request, response: Response, agent: Agent) -> None:
    device = trusted_device(request, agent.agent_id) or secrets.token_urlsafe(12)
    value = request.app.state.devices.dumps({"a": agent.agent_id.lower(), "d": device})
    response.set_cookie(DEVICE_COOKIE, value, max_age=DEVICE_DAYS * 86400, httponly=True, samesite="lax",
                        secure=request.app.state.settings.https, path="/agent")


def login_keys(request: Request, agent_id: str, known: bool) -> list[tuple[str, int]]:
    """The failure logs a sign-in to `agent_id` is slowed by, each with the failures it lets by without a wait.

    A browser that signed in to this account before is slowed by its own log instead of the account's, so
    nobody can keep the owner out by failing on purpose. Failures on ids that name no agent have logs of their
    own, which no real account shares."""
    settings, address, agent_id = request.app.state.settings, client_address(request), agent_id.lower()
    device = trusted_device(request, agent_id) if known else None
    if device:
        return [(f"login:device:{device}", settings.login_free_failures),
                (f"login:addr:{address}", settings.login_address_free_failures)]
    if not known:
        return [(f"login:id:{agent_id}@{address}", settings.login_free_failures),
                (f"login:unknown@{address}", settings.login_address_free_failures)]
    return [(f"login:id:{agent_id}@{address}", settings.login_free_failures),
            (f"login:id:{agent_id}", settings.login_address_free_failures),
            (f"login:addr:{address}", settings.login_address_free_failures)]


def free_failures(settings, key: str) -> int:
    """The failures a log lets by, from its key (for the admin's list of throttles)."""
    if key.startswith("login:device:") or "@" in key.removeprefix("login:unknown@"):
        return settings.login_free_failures
    return settings.login_address_free_failures


async def too_many_failures(request: Request, keys: list[tuple[str, int]]) -> tuple[str, int] | None:
    """A readable refusal and the seconds to wait while the failures so far hold the next attempt back."""
    wait = math.ceil(await request.app.state.sign_ins.wait(keys))
    if wait <= 0:
        return None
    when = f"{wait} seconds" if wait < 120 else f"{math.ceil(wait / 60)} minutes"
    return f"Too many failed sign-ins. Try again in {when}.", wait


async def count_failure(request: Request, keys: list[tuple[str, int]]) -> None:
    await request.app.state.sign_ins.fail(keys)


def start_session(session: dict, agent: Agent) -> None:
    """A fresh session for this agent: nothing from before (a planted token included) survives it."""
    session.clear()
    session.update(agent=agent.id, agent_epoch=agent.epoch, agent_seen=int(time.time()))
    csrf_token(session)


async def agent_login(request: Request):
    form = await form_data(request)
    agent_id = plain_text(form.get("agent_id"), 64)
    password = str(form.get("password", ""))[:256]
    known = await run_in_threadpool(lambda: Agent.by_agent_id(agent_id) is not None)
    keys = login_keys(request, agent_id, known)
    refusal = await too_many_failures(request, keys)
    if refusal:
        return render(request, "agent/login.html", status_code=429, agent_id=agent_id, error=refusal[0],
                      headers={"Retry-After": str(refusal[1])})
    agent = await run_in_threadpool(_verify, agent_id, password)
    if agent is None:
        await count_failure(request, keys)
        return render(request, "agent/login.html", status_code=400, agent_id=agent_id,
                      error="That agent ID and password don't match.")
    for key, _ in keys:
        if not key.startswith("login:addr:"):  # the account's own logs; others' failures at the address stay
            await request.app.state.limits.forget(key)
    start_session(request.session, agent)  # not present yet: that takes the dashboard's live stream
    await run_in_threadpool(AuditLog.record, agent, "sign_in")
    response = RedirectResponse("/agent/dashboard", status_code=303)
    remember_device(request, response, agent)
    return response


@requires_agent
async def agent_logout(request: Request):
    agent: Agent = request.state.agent
    await run_in_threadpool(lambda: Agent.update(epoch=Agent.epoch + 1, last_seen_at=None)
                            .where(Agent.id == agent.id).execute())
    request.session.clear()
    await run_in_threadpool(AuditLog.record, agent, "sign_out")
    request.app.state.hub.notify(agent_topic(agent.id), QUEUE)  # the agent's other open streams end now
    wake(request, await run_in_threadpool(conversation.requeue_dropped, 0, agent.id))
    return RedirectResponse("/agent/login", status_code=303)


def chat_card(chat: ChatSession, messages: list[Message]) -> dict:
    """What the inbox shows of one of my chats: preview, unanswered visitor messages and since when, the handoff."""
    visible = [m for m in messages if not m.internal and m.sender in ("visitor", "agent", "bot")]
    replied = max((i for i, m in enumerate(visible) if m.sender == "agent"), default=-1)
    unanswered = [m for m in visible[replied + 1:] if m.sender == "visitor"]
    # The bot's confidence in its last answer tells the counsellor how far to trust the transcript; the handoff
    # message itself carries none worth showing.
    answered = next((m for m in reversed(messages) if m.sender == "bot" and m.confidence is not None), None)
    return {
        "preview": visible[-1] if visible else None,
        "unread": len(unanswered),
        "waiting_since": unanswered[0].created_at if unanswered else None,
        "confidence": answered.confidence if answered else None,
        "email": chat.visitor_email or getattr(FollowUp.latest(chat.id), "email", None),
        "transfer": chat.transferred_to_owner(),
    }


def _urgency(entry) -> tuple:
    chat, _messages, card = entry
    return (card["waiting_since"] is None, chat.reason not in ("urgent", "frustration"),
            card["waiting_since"] or chat.assigned_at)


def desk_board(grace: float) -> dict:
    """What every dashboard shows alike: the queue, the follow-ups and the team, read once for all of this
    process's dashboards at a queue change. Each list comes with a key that changes when what the list shows
    does, so a dashboard renders a list again only then (a field a list adds belongs in its key)."""
    board = {**queue_context(grace), "followups": list(FollowUp.pending()), "now": now()}
    previews, at = board["previews"], board["now"]
    board["keys"] = {
        "agent/_queue_event.html": (board["queued"], [
            (chat.id, chat.reason, chat.skill, chat.language, chat.priority, previews.get(chat.id),
             (at - chat.queued_at).total_seconds() // 60) for chat in board["queue"]]),
        "agent/_followups_event.html": [(f.id, f.email, f.reason, f.text, f.session_id, f.created_at)
                                        for f in board["followups"]],
        "agent/_team_event.html": [(m["agent"].id, m["agent"].agent_id, m["agent"].name, m["agent"].max_chats,
                                    m["presence"], m["load"], m["free"]) for m in board["team"]],
    }
    return board


def list_events(request: Request, agent: Agent, chats: list, board: dict, shown: dict) -> list[ServerSentEvent]:
    """The dashboard's lists that changed since `shown` (template -> key last sent), brought up to date."""
    events, full = [], at_limit(agent, chats)
    for template, key in board["keys"].items():
        if template == "agent/_team_event.html":  # it also offers the team for each of the agent's own chats
            key = (key, [chat.id for chat in chats if chat.agent_id == agent.id])
        if template == "agent/_queue_event.html":  # Take is offered only with room for one more chat
            key = (key, full)
        if shown.get(template) != key:
            shown[template] = key
            events.append(ServerSentEvent(data=render_text(request, template, open_chats=chats, agent=agent,
                                                           at_limit=full, **board)))
    return events


def at_limit(agent: Agent, chats: list) -> bool:
    return sum(chat.agent_id == agent.id for chat in chats) >= agent.max_chats


def queue_context(grace: float) -> dict:
    """The queue with each chat's latest visitor message, and every agent's presence and load."""
    queue, queued = ChatSession.queue_page()
    return {"queue": queue, "queued": queued, "previews": Message.latest_from_visitor([chat.id for chat in queue]),
            "team": Agent.team(grace)}


def dashboard_context(agent: Agent, grace: float) -> dict:
    chats = list(agent.desk().order_by(ChatSession.assigned_at))
    entries = []
    for chat in chats:
        messages = list(chat.transcript())
        card = chat_card(chat, messages)
        card["earlier"] = list(chat.earlier_chats(card["email"]))
        entries.append((chat, messages, card))
    return {
        "agent": agent,
        "presence": agent.presence(grace),
        **queue_context(grace),
        "chats": [(chat, messages) for chat, messages, _card in entries],
        "at_limit": at_limit(agent, chats),
        "cards": {chat.id: card for chat, _messages, card in entries},
        "mine": sorted(entries, key=_urgency),
        "followups": list(FollowUp.pending()),
        "now": now(),
    }


@requires_agent(page=True)
async def agent_dashboard(request: Request):
    agent = request.state.agent
    context = await run_in_threadpool(dashboard_context, agent, request.app.state.settings.presence_grace_seconds)
    canned = await run_in_threadpool(lambda: list(CannedResponse.ordered()))
    ids = [chat.id for chat, _messages in context["chats"]]
    wanted = request.query_params.get("chat", "")
    asked = int(wanted) if wanted.isdigit() else None
    current = asked if asked in ids else (context["mine"][0][0].id if ids else None)
    notice = flash(request).get("error")
    if wanted and current != asked:
        # a link to a chat that is not (or no longer) this agent's must not silently open another visitor's
        notice = notice or NOT_YOURS_TEXT
    return render(request, "agent/dashboard.html", canned=canned, notice=notice, current=current, **context)


async def _act(request: Request, action, *args):
    """Run a chat action, wake whoever it concerns, answer with the agent's chats or a readable error."""
    try:
        outcome = await run_in_threadpool(action, *args)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    agent = request.state.agent
    context = await run_in_threadpool(dashboard_context, agent, request.app.state.settings.presence_grace_seconds)
    return render(request, "agent/_chats_response.html", preserve=True, **context)  # drafts in the other chats survive


def _chat_id(request: Request) -> int:
    return int(request.path_params["chat_id"])


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_take(request: Request):
    chat = await run_in_threadpool(ChatSession.get_or_none, ChatSession.id == _chat_id(request))
    if chat is None:
        return error_fragment(request, "No such chat.", 404)
    return await _act(request, conversation.take, chat, request.state.agent)


async def _post_text(request: Request, internal: bool):
    form = await form_data(request)
    text, problem = clean_text(form.get("text"), request.app.state.settings.max_message_chars)
    chat_id = _chat_id(request)
    template = "agent/_note_form.html" if internal else "agent/_message_form.html"
    if problem:
        return render(request, template, status_code=400, chat_id=chat_id, error=problem, text=text)
    try:
        outcome = await act(conversation.agent_message, chat_id, request.state.agent, text, client_key(form),
                            internal)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    return render(request, template, status_code=201 if outcome.created else 200, chat_id=chat_id, text="",
                  headers={"X-Message-Id": str(outcome.message.id)})


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_message(request: Request):
    return await _post_text(request, internal=False)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_note(request: Request):
    return await _post_text(request, internal=True)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_transfer(request: Request):
    form = await form_data(request)
    target_id = plain_text(form.get("agent_id"), 64)
    note = plain_text(form.get("note"), 500)
    skill = None
    target = None
    if target_id.startswith("skill:"):
        skill = target_id.split(":", 1)[1]
        if skill not in SKILL_NAMES:
            return error_fragment(request, "Choose one of the teams to transfer to.", 400)
    else:
        target = await run_in_threadpool(Agent.by_agent_id, target_id)
        if target is None:
            return error_fragment(request, "Choose a counsellor to transfer to.", 400)
    return await _act(request, conversation.transfer, _chat_id(request), request.state.agent, target, skill, note,
                      request.app.state.settings.presence_grace_seconds)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_release(request: Request):
    return await _act(request, conversation.return_to_bot, _chat_id(request), request.state.agent)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_close(request: Request):
    form = await form_data(request)
    note = plain_text(form.get("note"), 1000)
    return await _act(request, conversation.close_own, _chat_id(request), request.state.agent, note)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_leave(request: Request):
    """An admin who joined a counsellor's chat leaves it to them."""
    return await _act(request, conversation.leave, _chat_id(request), request.state.agent)


@requires_agent
async def agent_typing(request: Request):
    try:
        chat = await run_in_threadpool(conversation.own, _chat_id(request), request.state.agent, True)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, await run_in_threadpool(conversation.typing, chat, "agent"))
    return Response(status_code=204)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_followup_done(request: Request):
    try:
        outcome = await run_in_threadpool(conversation.followup_done, int(request.path_params["followup_id"]),
                                          request.state.agent)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    followups = await run_in_threadpool(lambda: list(FollowUp.pending()))
    return render(request, "agent/_followups.html", followups=followups)


@redirects_back("/agent/dashboard")
@requires_agent
async def agent_set_status(request: Request):
    form = await form_data(request)
    status = form.get("status")
    if status not in ("online", "away"):
        return error_fragment(request, "Choose online or away.", 400)
    agent = request.state.agent
    await run_in_threadpool(lambda: Agent.update(status=status).where(Agent.id == agent.id).execute())
    if status != agent.status:
        await run_in_threadpool(AuditLog.record, agent, "status", agent.agent_id, status)
    request.app.state.hub.notify(QUEUE)  # waiting visitors learn whether anyone is online
    if status == "online" and request.app.state.settings.auto_assign:
        wake(request, await run_in_threadpool(conversation.auto_assign,
                                              request.app.state.settings.presence_grace_seconds))
    agent = await run_in_threadpool(Agent.get_by_id, agent.id)
    return render(request, "agent/_presence.html", agent=agent, presence=status)


def _agent_news(agent_pk: int, known: dict[int, int] | None, grace: float, session: dict | None = None,
                idle_seconds: float = 0.0):
    """What changed for this agent since the stream last looked: their chats and the chats' messages (the whole
    dashboard when the chats themselves changed).

    None once the browser's sign-in has ended, checked before the touch that would show the agent as present.
    """
    agent = Agent.get_by_id(agent_pk)
    if session is not None and not signed_in(session, agent, idle_seconds):
        return None
    agent.still_here(grace)
    chats = list(agent.desk().order_by(ChatSession.assigned_at))
    ids = {c.id for c in chats}
    if known is None or ids != set(known):
        context = dashboard_context(agent, grace)
        if known:
            context["ended"] = ended_elsewhere(set(known) - ids)
        known = {chat.id: (messages[-1].id if messages else 0) for chat, messages in context["chats"]}
        return context, [], known, chats
    messages = []
    if ids:
        floor = min(known.values())
        for message in (Message.with_agent().where(Message.session.in_(list(ids)), Message.id > floor)
                        .order_by(Message.id)):
            if message.id > known[message.session_id]:
                messages.append(message)
                known[message.session_id] = message.id
    return {"now": now(), "agent": agent}, messages, known, chats


ENDED = {"ended": "Visitor #{id} ended the chat.", "visitor": "Visitor #{id} left, and the chat was closed.",
         "inactive": "Visitor #{id}'s chat was closed after a long silence.",
         "abandoned": "Visitor #{id}'s chat was closed: they had gone."}


def ended_elsewhere(gone: set[int]) -> str:
    """Why chats left the counsellor's inbox without their doing: the panel they may have been writing in vanished."""
    closed = (ChatSession.select(ChatSession.id, ChatSession.close_reason)
              .where(ChatSession.id.in_(list(gone)), ChatSession.status == "closed").order_by(ChatSession.id))
    return " ".join(ENDED[chat.close_reason].format(id=chat.id) for chat in closed if chat.close_reason in ENDED)


@requires_agent
async def agent_seen(request: Request):
    """A dashboard open in a browser without script: present, with no stream, until the grace period passes."""
    await run_in_threadpool(request.state.agent.touch)
    return Response(SEEN_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


SEEN_PIXEL = base64.b64decode("R0lGODlhAQABAAAAACH5BAEAAAAALAAAAAABAAEAAAIBAAA7")


@requires_agent
async def agent_events(request: Request):
    settings, hub = request.app.state.settings, request.app.state.hub
    agent: Agent = request.state.agent
    beat = _beat(settings)
    boards = request.app.state.desk_board

    async def events():
        known, typing_shown = None, {}
        shown: dict[str, object] = {}  # the lists' keys as last sent (desk_board)
        if settings.auto_assign:
            wake(request, await run_in_threadpool(conversation.auto_assign, settings.presence_grace_seconds))
        with hub.listen(agent_topic(agent.id), QUEUE) as listener:
            yield ServerSentEvent(comment="connected", retry=3000)
            looked = 0.0
            while not hub.closing:
                queue = listener.read_all or QUEUE in listener.woken_by  # first look, timeout, or queue news
                news = await run_in_threadpool(_agent_news, agent.id, known, settings.presence_grace_seconds,
                                               request.session, settings.agent_idle_hours * 3600)
                looked = time.monotonic()
                if news is None:
                    return  # signed out elsewhere, password changed, disabled or idle: reconnecting decides
                context, messages, fresh, chats = news
                if known is None or set(fresh) != set(known):
                    yield ServerSentEvent(data=render_text(request, "agent/_chats_event.html", **context))
                    typing_shown = {}
                known = fresh
                yield message_events(request, "agent/_message_event.html", messages)
                typing = {chat.id: chat.typing("visitor") for chat in chats}
                if typing != typing_shown:
                    typing_shown = typing
                    yield ServerSentEvent(data=render_text(request, "agent/_typing_event.html", chats=chats,
                                                           typing=typing))
                if queue or "queue" in context:
                    yield list_events(request, agent, chats, await boards.read(), shown)
                # Messages just written in this process come with the wake-up and need no look at the
                # database, nor does queue news alone (the lists come from the board every dashboard here
                # shares), unless the visitor was shown typing (their message ends it) or a beat has passed
                # (sign-in and presence are checked at least that often).
                while not hub.closing:
                    if not await listener.wait(min(beat, 6.0) if any(typing_shown.values()) else beat):
                        yield ServerSentEvent(comment="ping")
                    typed = any(typing_shown.get(posted.chat_id) for posted in listener.arrived)
                    if (typed or time.monotonic() - looked > beat or listener.read_all
                            or not listener.woken_by <= QUEUE_NEWS):
                        break
                    handed = await handed_over(listener, known, False, QUEUE_NEWS) if listener.arrived else []
                    if handed is None:
                        break
                    yield message_events(request, "agent/_message_event.html", handed)
                    if QUEUE in listener.woken_by:
                        yield list_events(request, agent, chats, await boards.read(), shown)

    return event_stream(request, present(request, agent, events()))


def _beat(settings) -> float:
    """How often a staff page's stream looks again when nothing wakes it: sign-in and presence are checked at
    least this often, well within the grace period."""
    return min(settings.ping_seconds, settings.presence_grace_seconds / 3)


async def present(request: Request, agent: Agent, events):
    """A staff page's stream, which is what makes its counsellor present: from when it opens to when it ends."""
    settings, hub = request.app.state.settings, request.app.state.hub
    try:
        await run_in_threadpool(agent.touch)
        hub.notify(QUEUE)  # waiting visitors learn that someone is online
        async for event in events:
            yield event
    finally:
        # Present means a live staff page: gone, unless a reload (or another tab) is back within moments.
        # A server that is stopping ends every stream itself: its counsellors keep the whole grace period
        # to reconnect to it, or to another worker, before their chats go back to the queue.
        if not hub.closing:
            await run_in_threadpool(agent.left, settings.presence_grace_seconds)
            hub.notify(QUEUE, agent_topic(agent.id))


def _desk_count(agent_pk: int, grace: float, session: dict, idle_seconds: float) -> int | None:
    """How many chats the counsellor's inbox holds; None once the browser's sign-in has ended."""
    agent = Agent.get_by_id(agent_pk)
    if not signed_in(session, agent, idle_seconds):
        return None
    agent.still_here(grace)
    return agent.desk().count()


@requires_agent
async def agent_desk_events(request: Request):
    """The other staff pages' stream. Reading the knowledge base or analytics keeps a counsellor present, so their
    chats stay theirs, and the Inbox link counts the chats waiting for them there."""
    settings, hub = request.app.state.settings, request.app.state.hub
    agent: Agent = request.state.agent
    beat = _beat(settings)

    async def events():
        shown = None
        with hub.listen(agent_topic(agent.id)) as listener:
            yield ServerSentEvent(comment="connected", retry=3000)
            while not hub.closing:
                count = await run_in_threadpool(_desk_count, agent.id, settings.presence_grace_seconds,
                                                request.session, settings.agent_idle_hours * 3600)
                if count is None:
                    return
                if count != shown:
                    shown = count
                    yield ServerSentEvent(data=render_text(request, "agent/_desk_count.html", count=count))
                if not await listener.wait(beat):
                    yield ServerSentEvent(comment="ping")

    return event_stream(request, present(request, agent, events()))


routes = [
    Route("/agent/login", agent_login_page, name="agent_login_page"),
    Route("/agent/login", agent_login, methods=["POST"], name="agent_login"),
    Route("/agent/logout", agent_logout, methods=["POST"], name="agent_logout"),
    Route("/agent/dashboard", agent_dashboard, name="agent_dashboard"),
    Route("/agent/events", StreamEndpoint(agent_events), methods=["GET"], name="agent_events"),
    Route("/agent/desk-events", StreamEndpoint(agent_desk_events), methods=["GET"], name="agent_desk_events"),
    Route("/agent/seen", agent_seen, methods=["GET"], name="agent_seen"),
    Route("/agent/status", agent_set_status, methods=["POST"], name="agent_set_status"),
    Route("/agent/followups/{followup_id:int}/done", agent_followup_done, methods=["POST"],
          name="agent_followup_done"),
    Route("/agent/sessions/{chat_id:int}/take", agent_take, methods=["POST"], name="agent_take"),
    Route("/agent/sessions/{chat_id:int}/messages", agent_message, methods=["POST"], name="agent_message"),
    Route("/agent/sessions/{chat_id:int}/notes", agent_note, methods=["POST"], name="agent_note"),
    Route("/agent/sessions/{chat_id:int}/transfer", agent_transfer, methods=["POST"], name="agent_transfer"),
    Route("/agent/sessions/{chat_id:int}/release", agent_release, methods=["POST"], name="agent_release"),
    Route("/agent/sessions/{chat_id:int}/close", agent_close, methods=["POST"], name="agent_close"),
    Route("/agent/sessions/{chat_id:int}/leave", agent_leave, methods=["POST"], name="agent_leave"),
    Route("/agent/sessions/{chat_id:int}/typing", agent_typing, methods=["POST"], name="agent_typing"),
]
