"""The visitor's side: chat page, messages, handoff, typing, rating and the live stream."""
from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter as Tally

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

import conversation
import office_hours
from conversation import EXPIRED_TEXT, ChatError
from i18n import NATIVE, interface, negotiate, translate
from models import ChatSession, Message, SessionAnalytics
from realtime import QUEUE, session_topic
from settings import Settings
from routes.common import (StreamEndpoint, back_to, clean_text, client_address, client_key, error_fragment,
                           event_stream, flash, form_data, handed_over, last_event_id, message_events, off_loop,
                           plain_text, redirects_back, render, render_text, wake)
import writes
from writes import act

_open_streams: Tally = Tally()  # per chat, in this process


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


async def current_chat(request: Request, create: bool = False) -> ChatSession | None:
    """The visitor's own chat, found only through the token in their signed cookie."""
    chat = await run_in_threadpool(_current, request)
    if chat is None and create:
        chat = await run_in_threadpool(ChatSession.create, language=browser_language(request))
        request.session["chat"] = chat.token
    return chat


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


def status_context(chat: ChatSession, settings: Settings) -> dict:
    """Everything the visitor's status line shows."""
    context = {"chat": chat, "position": chat.queue_position(), "agent_name": None, "typing": False,
               "estimate": None, "unavailable": None}
    if chat.status == "assigned" and chat.agent:
        context["agent_name"] = chat.agent.name
        context["typing"] = chat.typing("agent")
    if chat.status == "waiting":
        wait = SessionAnalytics.recent_wait()
        context["estimate"] = max(1, round(wait / 60)) if wait else None
        context["unavailable"] = conversation.unavailable(settings.office_hours, settings.timezone,
                                                          settings.presence_grace_seconds)
        if context["unavailable"] == "closed":
            context["hours"] = office_hours.describe(settings.office_hours, settings.timezone,
                                                     language=interface(chat.language) or "en")
    return context


async def chat_page(request: Request):
    chat = await current_chat(request, create=True)
    speak(request, chat)

    def load():
        messages = list(chat.visible_messages())
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


@redirects_back("/")
async def chat_post_message(request: Request):
    # The chat is found by its token inside the write's own transaction: one trip to the database.
    token = request.session.get("chat")
    if not token:
        return expired(request)
    before = speak(request)
    form = await form_data(request)
    text, problem = clean_text(form.get("text"), request.app.state.settings.max_message_chars, before)
    if problem:
        return render(request, "chat/_form.html", status_code=400, error=problem, text=text, key=form.get("client_key"))
    notice = await _limited(request, token)
    if notice:
        return render(request, "chat/_form.html", status_code=429, error=notice, text=text,
                      key=form.get("client_key"), headers={"Retry-After": "10"})
    try:
        outcome = await _write_message(token, text, client_key(form), chosen_language(request))
    except ChatError as error:
        if error.status == 403:
            return PlainTextResponse(error.message, status_code=403)
        return render(request, "chat/_form.html", status_code=error.status, error=error.message, text=text,
                      key=form.get("client_key"))
    wake(request, outcome)
    headers = {"X-Message-Id": str(outcome.message.id)}
    if outcome.language and outcome.language != before:
        # The visitor wrote in another language: the whole page reloads in it (and its direction).
        request.state.language = request.session["language"] = outcome.language
        headers["HX-Refresh"] = "true"
    return render(request, "chat/_form.html", status_code=201 if outcome.created else 200,
                  text="", key=secrets.token_hex(8), headers=headers)


async def _write_message(token: str, text: str, key: str | None, chosen: str | None,
                         attempts: int = 5) -> conversation.Outcome:
    """The bot decides off the event loop and outside the transaction; the write then checks the chat is as the
    decision saw it (else decides again: a message or a status change came in between)."""
    later = writes.decides_later(token)
    while True:
        decided = None if later else await off_loop(conversation.decide, token, text)
        if decided is None and not later:
            raise ChatError(EXPIRED_TEXT, 403)
        later = False
        try:
            return await act(conversation.visitor_message, token, text, key, decided, chosen)
        except conversation.Stale:
            attempts -= 1
            if not attempts:
                raise


@redirects_back("/")
@requires_chat
async def chat_handoff(request: Request):
    chat = request.state.chat
    try:
        skill = await off_loop(conversation.handoff_skill, chat) if chat.status == "bot" else None
        outcome = await run_in_threadpool(conversation.request_human, chat, skill)
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    return Response(status_code=204)


async def chat_typing(request: Request):
    chat = await current_chat(request)
    if chat is None:
        return Response(status_code=403)
    if chat.status == "assigned":
        wake(request, await run_in_threadpool(conversation.typing, chat, "visitor"))
    return Response(status_code=204)


@redirects_back("/")
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


EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")


@redirects_back("/")
@requires_chat
async def chat_followup(request: Request):
    """Leave an email address and a message for the counsellors while none can answer."""
    chat = request.state.chat
    form = await form_data(request)
    settings = request.app.state.settings
    email = plain_text(form.get("email"), 254)
    text, problem = clean_text(form.get("text"), settings.max_message_chars, request.state.language)
    status_code = 400
    if not EMAIL.match(email):
        problem = translate(request.state.language, "Please enter an email address like name@example.com.")
    elif not problem:
        problem, status_code = await _limited(request, chat.token), 429
    if problem:
        status = await run_in_threadpool(status_context, chat, settings)
        return render(request, "chat/_status.html", status_code=status_code, followup_error=problem,
                      followup_email=email, followup_text=text, **status)
    reason = await run_in_threadpool(conversation.unavailable, settings.office_hours, settings.timezone,
                                     settings.presence_grace_seconds)
    try:
        outcome = await run_in_threadpool(conversation.leave_followup, chat, email, text, reason or "offline")
    except ChatError as error:
        return error_fragment(request, error)
    wake(request, outcome)
    chat = await current_chat(request)
    return render(request, "chat/_status.html", status_code=201,
                  **await run_in_threadpool(status_context, chat, settings))


@redirects_back("/")
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


@requires_chat
async def chat_page_context(request: Request):
    """Where the chat is embedded: the host page's address and title, shown to counsellors."""
    form = await form_data(request)
    url, title = plain_text(form.get("url"), 500), plain_text(form.get("title"), 200)
    if not PAGE_URL.match(url):
        return PlainTextResponse("The page address must start with http:// or https://.", status_code=400)
    await run_in_threadpool(request.state.chat.embedded_in, url, title)
    return Response(status_code=204)


async def chat_new(request: Request):
    """Start over with a fresh chat; an open one is closed first so no agent waits on it."""
    chat = await current_chat(request)
    if chat is not None and chat.status != "closed":
        wake(request, await run_in_threadpool(conversation.close, chat, None, "", "visitor",
                                              translate(chat.language, "The visitor started a new chat.")))
    request.session.pop("chat", None)
    return RedirectResponse(back_to(request, "/"), status_code=303)


def _news(chat_id: int, last: int, settings: Settings) -> tuple[list[Message], dict]:
    chat = ChatSession.get_by_id(chat_id)
    return list(Message.after(chat, last)), status_context(chat, settings)


async def chat_events(request: Request):
    chat = await current_chat(request)
    if chat is None:
        return PlainTextResponse(translate(browser_language(request), "No chat for this browser. Reload the page."),
                                 status_code=403)
    language = speak(request, chat)
    settings, hub = request.app.state.settings, request.app.state.hub
    if _open_streams[chat.id] >= settings.max_streams_per_visitor:
        return PlainTextResponse(translate(language, "Too many open chat windows. Close one and reload."),
                                 status_code=429)
    start = last_event_id(request, default=-1)
    if start < 0:
        start = await run_in_threadpool(chat.last_message_id)
    # An idle stream keeps only what it compares (its chat's id, the status line's key), not model rows.
    chat_id = chat.id

    async def events():
        last, shown, typing, waiting = start, None, False, False
        _open_streams[chat_id] += 1
        try:
            with hub.listen(session_topic(chat_id)) as listener:
                yield ServerSentEvent(comment="connected", retry=3000)
                refresh = True
                while not hub.closing:
                    if refresh:
                        messages, status = await run_in_threadpool(_news, chat_id, last, settings)
                        typing, waiting = status["typing"], status["chat"].status == "waiting"
                        # Queue news concerns waiting visitors only; the rest are not woken by every queue change.
                        hub.follow(listener, QUEUE, waiting)
                        if messages:
                            yield message_events(request, "chat/_message_event.html", messages)
                            last = messages[-1].id
                        key = (status["chat"].status, status["position"], status["agent_name"], typing,
                               status["chat"].rating, status["estimate"], status["unavailable"])
                        if key != shown:
                            shown = key
                            yield ServerSentEvent(data=render_text(request, "chat/_status_event.html", **status))
                        del messages, status
                    woken = await listener.wait(6.0 if typing else settings.ping_seconds)
                    if not woken:
                        yield ServerSentEvent(comment="ping")
                    # Messages just written in this process come with the wake-up; a counsellor's message
                    # also ends their typing, which the status line then shows.
                    handed = await handed_over(listener, {chat_id: last}, visible=True) if not typing else None
                    if handed:
                        yield message_events(request, "chat/_message_event.html", handed)
                        last = handed[-1].id
                    # A quiet chat rests until woken: the app's catch_up task wakes any chat whose wake-up
                    # went missing. Waiting (queue, office hours) and typing still refresh on the clock.
                    refresh = handed is None and (woken or waiting or typing)
                    del handed
        finally:
            _open_streams[chat_id] -= 1
            if not _open_streams[chat_id]:
                del _open_streams[chat_id]

    return event_stream(request, events())


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
