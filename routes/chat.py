"""The visitor's side: chat page, messages, handoff, typing, rating and the live stream."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import secrets

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

import conversation
import office_hours
from database import round_failed
from conversation import EXPIRED_TEXT, ChatError
from delivery import mail
from i18n import NATIVE, country_guess, interface, negotiate, time_zone, translate
from models import ChatSession, Message, SessionAnalytics
from realtime import QUEUE, QUEUE_NEWS, Hub, Listener, Turns, session_topic
from settings import Settings
from routes.common import (Board, StreamEndpoint, back_to, clean_text, client_address, client_key, error_fragment,
                           event_stream, flash, form_data, handed_over, last_event_id, message_events, off_loop,
                           plain_text, redirects_back, render, render_text, wake)
import writes
from writes import act

log = logging.getLogger("handoff.chat")


def _current(request: Request) -> ChatSession | None:
    return ChatSession.by_token(request.session.get("chat"))


def browser_language(request: Request) -> str | None:
    """The visitor's language as far as is known without their chat: the one they chose or their page was
    last in (kept in the session cookie), else their browser's preference."""
    return request.session.get("language") or negotiate(request.headers.get("accept-language"))


def speak(request: Request, chat: ChatSession | None = None) -> str:
    """Pages and notices for this request in the chat's language, or in the browser's where it has none."""
    language = (interface(chat.language) if chat is not None else None) or browser_language(request) or "en"
    request.state.language = language
    if request.session.get("language") != language:
        request.session["language"] = language
    return language


def chosen_language(request: Request) -> str | None:
    """The language the visitor picked from the page's menu, which their messages then do not change."""
    return request.session["language"] if request.session.get("chosen") else None


async def current_chat(request: Request) -> ChatSession | None:
    """The visitor's own chat, found only through the token in their signed cookie."""
    return await run_in_threadpool(_current, request)


def draft(request: Request) -> ChatSession:
    """The chat a visitor who has not written yet sees: never stored, so a page view costs no row."""
    return ChatSession(status="bot", language=browser_language(request))


def starting(request: Request, form) -> tuple[str, dict]:
    """A token for the visitor's first chat and its fields; the write that needs the chat creates it. The
    browser's time zone comes in a field the page's script fills (without script: not known)."""
    page = request.session.get("page") or [None, None]
    zone = time_zone(form.get("time_zone"))
    return secrets.token_urlsafe(24), {"language": browser_language(request), "page_url": page[0],
                                       "page_title": page[1], "time_zone": zone,
                                       "country": country_guess(zone, request.headers.get("accept-language"))}


async def over_limit(request: Request, *kinds: str) -> str | None:
    """A readable refusal when this address has started too many chats, asked for too many handoffs, or sent
    too many typing notices in their window; else None, each kind counted once."""
    settings = request.app.state.settings
    address = client_address(request)
    over = await request.app.state.limits.first_over([
        (f"{kind}:{address}", getattr(settings, f"{kind}_rate"), getattr(settings, f"{kind}_rate_seconds"))
        for kind in kinds])
    if over is None:
        return None
    language = getattr(request.state, "language", None)
    if kinds[over] == "chat":
        return translate(language, "Too many new chats from your network right now. Please try again in a few minutes.")
    if kinds[over] == "handoff":
        return translate(language, "Too many requests for a counsellor from your network right now. "
                                   "Please try again in a few minutes.")
    return translate(language, "Too many messages from your network right now. Please try again in a minute.")


def expired(request: Request) -> PlainTextResponse:
    return PlainTextResponse(translate(browser_language(request), EXPIRED_TEXT), status_code=403)


def requires_chat(handler):
    """Actions on the visitor's own chat, in its language; without one (an expired or missing cookie), 403."""
    async def endpoint(request: Request):
        request.state.chat = await current_chat(request)
        if request.state.chat is None:
            return expired(request)
        speak(request, request.state.chat)
        return await handler(request)
    endpoint.__name__ = handler.__name__
    return endpoint


def queue_board(settings: Settings) -> dict:
    """What every waiting visitor's status line shows about the queue, read at once for all of them."""
    wait = SessionAnalytics.recent_wait()
    return {"positions": {chat_id: n for n, chat_id in enumerate(ChatSession.waiting_ids(), start=1)},
            "estimate": max(1, round(wait / 60)) if wait else None,
            "unavailable": conversation.unavailable(settings.office_hours, settings.timezone,
                                                    settings.presence_grace_seconds)}


class QueueBoard(Board):
    """The queue as the waiting visitors' status lines show it, read once per queue change for every stream of
    this process (and again after `fresh` seconds, for the wait estimate and who is online): a change costs
    one read, not one per waiting visitor. Each change wakes only the waiting visitors whose line it changes:
    a chat joining the back of the queue moves nobody else."""

    def __init__(self, hub: Hub, settings: Settings, fresh: float) -> None:
        super().__init__(hub, fresh, lambda: queue_board(settings))
        self.turns = Turns()
        self.watching: dict[int, set[Listener]] = {}  # a waiting chat's id -> its streams in this process

    def watch(self, chat_id: int, listener: Listener, on: bool = True) -> None:
        """Wake this stream when its chat's line in the queue changes, or no longer."""
        if on:
            self.watching.setdefault(chat_id, set()).add(listener)
        elif listener in self.watching.get(chat_id, ()):
            self.watching[chat_id].discard(listener)
            if not self.watching[chat_id]:
                del self.watching[chat_id]

    @contextlib.contextmanager
    def watching_for(self, chat_id: int, listener: Listener):
        """`watch` for one stream, as a function of on or off; off once the stream ends."""
        try:
            yield lambda on: self.watch(chat_id, listener, on)
        finally:
            self.watch(chat_id, listener, False)

    async def run(self) -> None:
        """Read the board at each queue change (and when it grows stale), and wake the streams whose line moved."""
        compared = None  # the board of the last comparison: a stream's own read may have replaced self.board since
        with self.hub.listen(QUEUE) as news:
            while True:
                await news.wait(self.fresh)
                if not self.watching:  # nobody here waits in the queue; a stream that opens reads for itself
                    compared = None
                    continue
                try:
                    board = await self.read()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    round_failed(log, "reading the queue", "trying again at the next change")
                    continue
                for chat_id in _moved(compared, board, self.watching):
                    for listener in self.watching.get(chat_id, ()):
                        listener.fire(QUEUE)
                compared = board


def _moved(before: dict | None, after: dict, watched) -> list[int]:
    """The watched chats whose line differs between two boards: all of them when what every line shows changed."""
    if before is None or (before["estimate"], before["unavailable"]) != (after["estimate"], after["unavailable"]):
        return list(watched)
    old, new = before["positions"], after["positions"]
    return [chat_id for chat_id in watched if old.get(chat_id) != new.get(chat_id)]


def status_context(chat: ChatSession, settings: Settings, board: dict | None = None) -> dict:
    """Everything the visitor's status line shows; the queue's part from `board` when given."""
    context = {"chat": chat, "position": None, "agent_name": None, "typing": False,
               "estimate": None, "unavailable": None}
    if chat.status == "assigned" and chat.agent:
        context["agent_name"] = chat.agent.name
        context["typing"] = chat.typing("agent")
    if chat.status == "waiting":
        board = board or queue_board(settings)
        context.update(position=board["positions"].get(chat.id), estimate=board["estimate"],
                       unavailable=board["unavailable"])
        if context["unavailable"] == "closed":
            context["hours"] = office_hours.describe(settings.office_hours, settings.timezone,
                                                     language=interface(chat.language) or "en")
    return context


async def chat_page(request: Request):
    chat = await current_chat(request) or draft(request)
    speak(request, chat)

    def load():
        messages = list(chat.visible_messages()) if chat.id else []
        return messages, status_context(chat, request.app.state.settings)

    messages, status = await run_in_threadpool(load)
    after = messages[-1].id if messages else 0
    left = flash(request)
    return render(request, "chat/page.html", messages=messages, after=after, key=secrets.token_hex(8),
                  languages=NATIVE, error=left.get("error"), text=left.get("text"),
                  embedded=request.query_params.get("embed") == "1",
                  embed_origins=" ".join(request.app.state.settings.embedders), **status)


async def _limited(request: Request, token: str) -> str | None:
    """A readable notice when this visitor (by their chat's token, never stored as such), or their address,
    sends too much."""
    settings = request.app.state.settings
    visitor = hashlib.blake2b(token.encode(), digest_size=12).hexdigest()
    over = await request.app.state.limits.first_over([
        (f"chat:{visitor}", settings.visitor_rate, settings.visitor_rate_seconds),
        (f"addr:{client_address(request)}", settings.address_rate, settings.address_rate_seconds)])
    language = getattr(request.state, "language", None)
    if over == 0:
        return translate(language, "You're sending messages very quickly. Please wait a few seconds and try again.")
    if over == 1:
        return translate(language, "Too many messages from your network right now. Please try again in a minute.")
    return None


@redirects_back("/", fragment="latest")
async def chat_post_message(request: Request):
    # The chat is found by its token inside the write's own transaction: one trip to the database. A visitor's
    # first message begins their chat in that same transaction.
    token, start = request.session.get("chat"), None
    before = speak(request)
    form = await form_data(request)
    text, problem = clean_text(form.get("text"), request.app.state.settings.max_message_chars, before)
    if problem:
        return render(request, "chat/_form.html", status_code=400, error=problem, text=text, key=form.get("client_key"))
    if not token:
        token, start = starting(request, form)
    notice = await _limited(request, token) or (await over_limit(request, "chat") if start else None)
    if notice:
        return render(request, "chat/_form.html", status_code=429, error=notice, text=text,
                      key=form.get("client_key"), headers={"Retry-After": "10"})
    try:
        outcome = await _write_message(request.app.state.decider, token, text, client_key(form), chosen_language(request),
                                        start)
    except ChatError as error:
        if error.status == 403:
            return PlainTextResponse(error.message, status_code=403)
        return render(request, "chat/_form.html", status_code=error.status, error=error.message, text=text,
                      key=form.get("client_key"))
    wake(request, outcome)
    headers = {"X-Message-Id": str(outcome.message.id)}
    if start:  # the page had no chat, so no stream: its script opens one now (a form without script reloads)
        request.session["chat"] = token
        headers["X-Chat-Started"] = "true"
    if outcome.language and outcome.language != before:
        # The visitor wrote in another language: the whole page reloads in it (and its direction).
        request.state.language = request.session["language"] = outcome.language
        headers["HX-Refresh"] = "true"
    return render(request, "chat/_form.html", status_code=201 if outcome.created else 200,
                  text="", key=secrets.token_hex(8), headers=headers)


async def _write_message(decider, token: str, text: str, key: str | None, chosen: str | None, start: dict | None = None,
                         attempts: int = 5) -> conversation.Outcome:
    """The bot decides off the event loop and outside the transaction; the write then checks the chat is as the
    decision saw it (else decides again: a message or a status change came in between)."""
    later, decided = writes.decides_later(token), writes.undecided(token, text)
    while True:
        if decided is None and not later:
            decided = await decider.decide(token, text, start is not None)
            if decided is None:
                raise ChatError(EXPIRED_TEXT, 403)
        later = False
        try:
            outcome = await act(conversation.visitor_message, token, text, key, decided, chosen, start)
            if outcome.status:
                writes.remember(token, outcome.status)
            return outcome
        except conversation.Stale:
            decided = None
            attempts -= 1
            if not attempts:
                raise


@redirects_back("/", fragment="latest")
async def chat_handoff(request: Request):
    """"Talk to a human"; asked before writing anything, it begins the chat."""
    chat = await current_chat(request)
    if chat is None and request.session.get("chat"):
        return expired(request)
    speak(request, chat)
    form = await form_data(request)
    notice = await over_limit(request, *(("handoff",) if chat else ("chat", "handoff")))
    if notice:
        return error_fragment(request, notice, 429)
    try:
        if chat is None:
            token, start = starting(request, form)
            outcome = await run_in_threadpool(conversation.request_human, token, "general", start)
            request.session["chat"] = token
        else:
            skill = await off_loop(conversation.handoff_skill, chat) if chat.status == "bot" else None
            outcome = await run_in_threadpool(conversation.request_human, chat, skill)
            zone = time_zone(form.get("time_zone"))
            if zone and chat.time_zone is None:  # a chat begun by a message sent before the page's script ran
                await run_in_threadpool(chat.located, zone,
                                        country_guess(zone, request.headers.get("accept-language")))
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    return Response(status_code=204, headers={} if chat else {"HX-Refresh": "true"})


async def chat_typing(request: Request):
    chat = await current_chat(request)
    if chat is None:
        return Response(status_code=204)  # nothing written yet: nobody to tell
    notice = await over_limit(request, "typing")
    if notice:
        return PlainTextResponse(notice, status_code=429, headers={"Retry-After": "60"})
    if chat.status == "assigned":
        wake(request, await run_in_threadpool(conversation.typing, chat, "visitor"))
    return Response(status_code=204)


@redirects_back("/", fragment="latest")
@requires_chat
async def chat_rating(request: Request):
    chat = request.state.chat
    form = await form_data(request)
    score = str(form.get("score", ""))
    comment = plain_text(form.get("comment"), 1000)
    if score not in {"1", "2", "3", "4", "5"}:
        return error_fragment(request, translate(request.state.language, "Choose a rating from 1 to 5."), 400)
    try:
        outcome = await run_in_threadpool(conversation.rate, chat, int(score), comment)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    chat = await current_chat(request)
    return render(request, "chat/_status.html",
                  **await run_in_threadpool(status_context, chat, request.app.state.settings))


@redirects_back("/", fragment="latest")
@requires_chat
async def chat_followup(request: Request):
    """Leave an email address and a message for the counsellors while none can answer."""
    chat = request.state.chat
    form = await form_data(request)
    settings = request.app.state.settings
    typed = plain_text(form.get("email"), 254)
    email = mail.valid_address(typed)
    text, problem = clean_text(form.get("text"), settings.max_message_chars, request.state.language)
    status_code = 400
    if email is None:
        problem = translate(request.state.language, "Please enter an email address like name@example.com.")
    elif not problem:
        problem, status_code = await _limited(request, chat.token), 429
    if problem:
        status = await run_in_threadpool(status_context, chat, settings)
        return render(request, "chat/_status.html", status_code=status_code, followup_error=problem,
                      followup_email=typed, followup_text=text, **status)
    try:
        outcome = await run_in_threadpool(conversation.leave_followup, chat, email, text, settings)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    chat = await current_chat(request)
    return render(request, "chat/_status.html", status_code=201,
                  **await run_in_threadpool(status_context, chat, settings))


@redirects_back("/", fragment="latest")
@requires_chat
async def chat_end(request: Request):
    """The visitor ends the chat themselves; the status line then offers the rating and a new chat. (Unlike a chat
    left for a new one, reason "visitor", a chat ended this way can be rated.)"""
    chat = request.state.chat
    ended = translate(request.state.language, "You ended the chat.")
    wake(request, await run_in_threadpool(conversation.close, chat, None, "", "ended", ended))
    chat = await current_chat(request)
    return render(request, "chat/_status.html",
                  **await run_in_threadpool(status_context, chat, request.app.state.settings))


PAGE_URL = re.compile(r"^https?://[^\s]{1,500}$")


async def chat_page_context(request: Request):
    """Where the chat is embedded: the host page's address and title, shown to counsellors; kept in the cookie
    until the visitor's first message begins their chat."""
    form = await form_data(request)
    url, title = plain_text(form.get("url"), 500), plain_text(form.get("title"), 200)
    if not PAGE_URL.match(url):
        return PlainTextResponse("The page address must start with http:// or https://.", status_code=400)
    chat = await current_chat(request)
    if chat is None:
        if request.session.get("chat"):
            return expired(request)
        request.session["page"] = [url, title or None]
        return Response(status_code=204)
    await run_in_threadpool(chat.embedded_in, url, title)
    return Response(status_code=204)


async def chat_new(request: Request):
    """Start over with a fresh chat; an open one is closed first so no agent waits on it."""
    chat = await current_chat(request)
    if chat is not None and chat.status != "closed":
        wake(request, await run_in_threadpool(conversation.close, chat, None, "", "visitor",
                                              translate(chat.language, "The visitor started a new chat.")))
    request.session.pop("chat", None)
    return RedirectResponse(back_to(request, "/"), status_code=303)


def _news(chat_id: int, last: int, settings: Settings, board: dict | None) -> tuple[list[Message], dict]:
    chat = ChatSession.get_by_id(chat_id)
    return list(Message.after(chat, last)), status_context(chat, settings, board)


def _queue_news(chat_id: int, language: str | None, settings: Settings, board: dict) -> dict | None:
    """A waiting chat's status line from the queue's board alone, without reading the chat; None once the chat has
    left the queue (then its stream reads the chat)."""
    if chat_id not in board["positions"]:
        return None
    # Without the defaults a new row would get (a fresh token, timestamps): thousands of these per queue change.
    chat = ChatSession(id=chat_id, status="waiting", language=language, rating=None, __no_default__=True)
    return status_context(chat, settings, board)


async def chat_events(request: Request):
    chat = await current_chat(request)
    if chat is None:
        return PlainTextResponse(translate(browser_language(request), "No chat for this browser. Reload the page."),
                                 status_code=403)
    language = speak(request, chat)
    settings, hub, slots = request.app.state.settings, request.app.state.hub, request.app.state.slots
    # The slots are taken at once, before anything is awaited, so streams opened together cannot all see room.
    caps = [(f"chat:{chat.id}", settings.max_streams_per_visitor),
            (f"addr:{client_address(request)}", settings.max_streams_per_address)]
    full, shared = await slots.take(caps)
    if full is not None:
        refusal = (translate(language, "Too many open chat windows. Close one and reload.") if full == 0 else
                   translate(language, "Too many open chats from your network right now. Close one and reload."))
        return PlainTextResponse(refusal, status_code=429, headers={"Retry-After": "10"})

    async def release() -> None:
        await slots.give([key for key, _ in caps], shared)

    start = last_event_id(request, default=-1)
    if start < 0:
        try:
            start = await run_in_threadpool(chat.last_message_id)
        except BaseException:
            await release()
            raise
    # An idle stream keeps only what it compares (its chat's id, the status line's key), not model rows.
    chat_id, chat_language, board = chat.id, chat.language, request.app.state.queue_board
    if chat.status == "bot":  # the bot's process loads its models while the visitor types, not in their first turn
        request.app.state.decider.start()

    async def events():
        last, shown, typing, waiting, queue_only = start, None, False, chat.status == "waiting", False
        with hub.listen(session_topic(chat_id)) as listener, board.watching_for(chat_id, listener) as watch:
            yield ServerSentEvent(comment="connected", retry=3000)
            refresh = True
            while not hub.closing:
                if refresh:
                    watch(waiting)  # before the read: a change after it wakes this stream again
                    if waiting:
                        await board.turns.turn()  # a queue change wakes every waiting stream: they go a few at a time
                    # Queue news alone, for a chat still waiting: its line comes from the board, read once
                    # per change for every waiting visitor, not from each chat's own rows.
                    queue = await board.read() if waiting else None
                    status = _queue_news(chat_id, chat_language, settings, queue) if queue_only else None
                    messages = []
                    if status is None:
                        messages, status = await run_in_threadpool(_news, chat_id, last, settings, queue)
                    typing, waiting = status["typing"], status["chat"].status == "waiting"
                    # Queue news concerns waiting visitors only; the rest are not woken by every queue change.
                    watch(waiting)
                    if messages:
                        yield message_events(request, "chat/_message_event.html", messages)
                        last = messages[-1].id
                    key = (status["chat"].status, status["position"], status["agent_name"], typing,
                           status["chat"].rating, status["estimate"], status["unavailable"])
                    if key != shown:
                        shown = key
                        yield ServerSentEvent(data=render_text(request, "chat/_status_event.html", **status))
                    del messages, status, queue
                woken = await listener.wait(6.0 if typing else settings.ping_seconds)
                if not woken:
                    yield ServerSentEvent(comment="ping")
                # Messages just written in this process come with the wake-up, queue news or not; a counsellor's
                # message also ends their typing, which the status line then shows.
                handed = await handed_over(listener, {chat_id: last}, visible=True,
                                           besides=QUEUE_NEWS if waiting else frozenset()) if not typing else None
                if handed:
                    yield message_events(request, "chat/_message_event.html", handed)
                    last = handed[-1].id
                queue_only = waiting and woken and listener.woken_by == {QUEUE} and (handed is not None
                                                                                      or not listener.arrived)
                # A quiet chat rests until woken: the app's catch_up task wakes any chat whose wake-up
                # went missing. Waiting (queue, office hours) and typing still refresh on the clock.
                refresh = queue_only or (handed is None and (woken or waiting or typing))
                del handed

    return event_stream(request, events(), release)


async def chat_language(request: Request):
    """The visitor picks the page's language from its menu (a plain form: no script needed); their chat, if
    any, is in it from now on, whatever language they then write in."""
    form = await form_data(request)
    language = interface(plain_text(form.get("language"), 8))
    if language is None:
        speak(request)
        return PlainTextResponse(translate(request.state.language, "Choose one of the languages in the list."),
                                 status_code=400)
    request.session["language"], request.session["chosen"] = language, True
    chat = await current_chat(request)
    if chat is not None:
        wake(request, await run_in_threadpool(conversation.choose_language, chat, language))
    return RedirectResponse("/", status_code=303)


routes = [
    Route("/", chat_page, name="chat_page"),
    Route("/chat/language", chat_language, methods=["POST"], name="chat_language"),
    Route("/chat/messages", chat_post_message, methods=["POST"], name="chat_post_message"),
    Route("/chat/handoff", chat_handoff, methods=["POST"], name="chat_handoff"),
    Route("/chat/typing", chat_typing, methods=["POST"], name="chat_typing"),
    Route("/chat/rating", chat_rating, methods=["POST"], name="chat_rating"),
    Route("/chat/new", chat_new, methods=["POST"], name="chat_new"),
    Route("/chat/end", chat_end, methods=["POST"], name="chat_end"),
    Route("/chat/page", chat_page_context, methods=["POST"], name="chat_page_context"),
    Route("/chat/followup", chat_followup, methods=["POST"], name="chat_followup"),
    Route("/chat/events", StreamEndpoint(chat_events), methods=["GET"], name="chat_events"),
]
