"""What every area's routes share: rendering, the client's address, form text, SSE responses."""
from __future__ import annotations

import asyncio
import logging
import re
import time
from urllib.parse import urlsplit
import weakref
from typing import AsyncIterator

import anyio
import anyio.to_thread

from sse_starlette import ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from conversation import ChatError, Outcome, Posted
from i18n import template_context, translate
from realtime import QUEUE, Listener
from security import BODY_SEND, FORM_KEY

log = logging.getLogger("handoff.streams")


def page_language(request: Request) -> str:
    """The language the request's pages are in: the visitor's, as their routes set it; else English."""
    return getattr(request.state, "language", None) or "en"


def render(request: Request, template: str, status_code: int = 200, headers: dict | None = None,
           **context) -> HTMLResponse:
    if status_code >= 400:  # what a form posted without JavaScript shows on its page after the redirect
        error = context.get("error") or context.get("followup_error") or context.get("message")
        request.state.problem = {"error": error, "text": context.get("text")}
    return request.app.state.templates.TemplateResponse(
        request, template, {**template_context(page_language(request)), **context}, status_code=status_code,
        headers=headers)


def render_text(request: Request, template: str, **context) -> str:
    """A fragment as a string, for SSE events."""
    env = request.app.state.templates.env
    return env.get_template(template).render(request=request, **template_context(page_language(request)),
                                             **context)


def message_events(request: Request, template: str, messages) -> list[ServerSentEvent]:
    """Chat messages as SSE events, each with the message's id (where a reconnecting stream resumes).

    A stream yields them as one list, which goes out in one write.
    """
    return [ServerSentEvent(data=render_text(request, template, message=message), id=str(message.id))
            for message in messages]


_cpu_limiters: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # event loop -> its limiter


async def off_loop(work, *args):
    """CPU-bound work (the bot's decision) in a worker thread, one at a time per process: the event loop then
    waits for the interpreter lock behind one such thread at most, a switch interval (5 ms), never a queue."""
    loop = asyncio.get_running_loop()
    limiter = _cpu_limiters.get(loop)
    if limiter is None:
        limiter = _cpu_limiters[loop] = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(work, *args, limiter=limiter)


def error_fragment(request: Request, error: ChatError | str, status_code: int = 409) -> HTMLResponse:
    """A readable error shown in the page's alert area, whatever the request's own target."""
    if isinstance(error, ChatError):
        error, status_code = error.message, error.status
    return render(request, "_alert.html", status_code=status_code, message=error,
                  headers={"HX-Retarget": "#alert", "HX-Reswap": "innerHTML"})


def navigated(request: Request) -> bool:
    """A form the browser posted itself (no JavaScript): the answer is a page to go to, not a fragment."""
    return "hx-request" not in request.headers and "text/html" in request.headers.get("accept", "")


def back_to(request: Request, default: str) -> str:
    """The page the form was on (a same-origin Referer's path and query), else `default`."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.headers.get("host") or not referer.path.startswith("/") or referer.path[1:2] == "/":
        return default
    return referer.path + (f"?{referer.query}" if referer.query else "")


def redirects_back(default: str, fragment: str = ""):
    """Forms work without JavaScript: a navigating POST is answered 303 back to its page (at `fragment`, if
    given), any error and the typed text kept in the session (`flash`) for that page to show once."""
    def wrap(handler):
        async def endpoint(request: Request) -> Response:
            response = await handler(request)
            if not navigated(request) or 300 <= response.status_code < 400:
                return response
            if response.status_code >= 400:
                problem = getattr(request.state, "problem", None) or {}
                if response.media_type == "text/plain":
                    problem = {"error": bytes(response.body).decode()}
                request.session["flash"] = {key: value for key, value in problem.items() if value}
            return RedirectResponse(back_to(request, default) + (f"#{fragment}" if fragment else ""), status_code=303)
        endpoint.__name__ = handler.__name__
        return endpoint
    return wrap


def flash(request: Request) -> dict:
    """What the last form posted without JavaScript left to show: {"error": ..., "text": ...}, once."""
    return (request.session.pop("flash") or {}) if "flash" in request.session else {}  # a pop would rewrite the cookie


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # all but tab and newline


def plain_text(value, limit: int | None = None) -> str:
    """Form text with newlines as \\n and no control characters (PostgreSQL refuses NUL), trimmed, cut to limit."""
    text = _CONTROL.sub("", (value if isinstance(value, str) else "").replace("\r\n", "\n")).strip()
    return text[:limit] if limit is not None else text


def clean_text(value, limit: int, language: str = "en") -> tuple[str, str | None]:
    """Trimmed text and a readable problem in that language, if any."""
    text = plain_text(value)
    if not text:
        return text, translate(language, "Please write a message first.")
    if len(text) > limit:
        return text, translate(language, "Messages can be at most %(limit)s characters; this one has %(length)s.",
                               limit=limit, length=len(text))
    return text, None


async def form_data(request: Request) -> FormData:
    """The form fields, as the CSRF middleware already parsed them from the body."""
    fields = request.scope.get(FORM_KEY)
    return FormData(fields) if fields is not None else await request.form()


def client_key(form) -> str | None:
    return plain_text(form.get("client_key"), 64) or None


def last_event_id(request: Request, default: int) -> int:
    """Where a stream resumes: Last-Event-ID, then ?after=, then the given default."""
    for raw in (request.headers.get("last-event-id"), request.query_params.get("after")):
        raw = (raw or "").strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 18:  # a database id; "²" or 10**30 would break the query
            return int(raw)
    return default


class EventStream:
    """An SSE response: sends what the `events` generator yields (an event, or a list sent in one write), each
    event encoded by sse-starlette.

    An idle stream is most of what a busy server holds, so this keeps one small task beside the
    connection's own (it notices the client leaving) where sse-starlette's response keeps a task group of
    four or five; the generators send their own keep-alive comments. A reader who stops reading for
    `send_timeout` seconds is dropped with one log line (see `_watch_sends`). The generators end when the
    hub closes.
    """

    headers = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-store"),
               (b"x-accel-buffering", b"no"), (b"connection", b"keep-alive")]

    def __init__(self, events: AsyncIterator[ServerSentEvent], send_timeout: float, release=None) -> None:
        self.events, self.send_timeout, self.release = events, send_timeout, release

    async def __call__(self, scope, receive, send) -> None:
        stream = asyncio.current_task()
        loop = stream.get_loop()
        left = False

        async def watch() -> None:
            nonlocal left
            while (await receive())["type"] != "http.disconnect":
                pass
            left = True
            stream.cancel()  # wherever the generator waits, it unwinds: its listener and counts are released

        watcher = loop.create_task(watch())
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.headers})
            send = scope.get(BODY_SEND, send)
            async for event in self.events:
                if isinstance(event, list):
                    if not event:
                        continue
                    body = b"".join(each.encode() for each in event)
                else:
                    body = event.encode()
                _sending[stream] = loop.time() + self.send_timeout
                if _watchdog.get(loop) is None:
                    _watchdog[loop] = loop.create_task(_watch_sends(loop))
                await send({"type": "http.response.body", "body": body, "more_body": True})
                del _sending[stream]
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except asyncio.CancelledError:
            if stream in _stalled:
                stream.uncancel()
                log.info("dropped a stream to %s: nothing read for %ss", scope.get("client"), self.send_timeout)
            elif not left:
                raise
            else:
                stream.uncancel()
        finally:
            _sending.pop(stream, None)
            _stalled.discard(stream)
            watcher.cancel()
            try:
                await self.events.aclose()
            finally:
                if self.release is not None:  # what the stream held (its slots), even if it never started
                    await self.release()


# Streams in the middle of a send, and when each must have finished. Almost every send returns at once, so
# one watchdog per event loop looks at the few that wait, rather than each send arming a timer of its own.
_sending: dict[asyncio.Task, float] = {}
_stalled: set[asyncio.Task] = set()
_watchdog: dict[asyncio.AbstractEventLoop, asyncio.Task] = {}


async def _watch_sends(loop: asyncio.AbstractEventLoop) -> None:
    try:
        while any(task.get_loop() is loop for task in _sending):
            await asyncio.sleep(0.5)
            now = loop.time()
            for stream, deadline in list(_sending.items()):
                if deadline < now and stream.get_loop() is loop and stream not in _stalled:
                    _stalled.add(stream)
                    stream.cancel()
    finally:
        del _watchdog[loop]


class StreamEndpoint:
    """An SSE route's endpoint as a bare ASGI app. Starlette's request/response wrapper would stay on the stack
    of every open stream for as long as it is open, costing each more memory than the rest of the route."""

    def __init__(self, handler) -> None:
        self.handler = handler

    async def __call__(self, scope, receive, send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def event_stream(request: Request, events: AsyncIterator[ServerSentEvent], release=None) -> EventStream:
    """`release`, an async callable, runs once the stream has ended, however it ended."""
    return EventStream(events, request.app.state.settings.send_timeout_seconds, release)


class Board:
    """What many streams of this process show alike, read once per queue change for all of them (and again after
    `fresh` seconds, for what changes with time alone): a change costs one read, not one per stream."""

    def __init__(self, hub, fresh: float, reader) -> None:
        self.hub, self.fresh, self.reader = hub, fresh, reader
        self.board: dict | None = None
        self.read_at = 0.0
        self.reading: asyncio.Future | None = None

    async def read(self) -> dict:
        changed = self.hub.heard.get(QUEUE, 0.0)
        # A read that began before the latest change may miss it: then one more.
        while self.board is None or self.read_at <= changed or time.time() - self.read_at > self.fresh:
            # One read shared by this loop's streams (an app served from several loops, as in tests, reads per loop)
            if self.reading is None or self.reading.get_loop() is not asyncio.get_running_loop():
                self.reading = asyncio.ensure_future(self._read())
            await asyncio.shield(self.reading)
        return self.board

    async def _read(self) -> None:
        try:
            stamp = time.time()
            self.board = await run_in_threadpool(self.reader)
            self.read_at = stamp
        finally:
            if self.reading is asyncio.current_task():
                self.reading = None


async def handed_over(listener: Listener, sent: dict[int, int], visible: bool, besides: frozenset = frozenset()) \
        -> list | None:
    """Messages the last wake-up handed over, when it carried nothing else (but news of the topics `besides`, which
    the stream reads on its own) and they follow on from what the stream has sent (`sent`: chat id -> newest id
    sent, brought up to date); None: read the database instead.

    Rows another process wrote came with their ids only: they are read first, once for all of this
    process's streams that got them.
    """
    if not listener.arrived or not listener.woken_by <= besides:
        return None
    unread = [posted for posted in listener.arrived if posted.messages is None]
    if unread:  # shielded: a stream that leaves mid-read must not cancel the read the others wait on
        await asyncio.gather(*(asyncio.shield(_reading(posted)) for posted in unread))
    upto, fresh = dict(sent), []
    for posted in listener.arrived:
        more = posted.since(upto[posted.chat_id], visible) if posted.chat_id in upto else None
        if more is None:
            return None
        if more:
            upto[posted.chat_id] = more[-1].id
            fresh += more
    sent.update(upto)
    return fresh


def _reading(posted: Posted) -> asyncio.Future:
    if posted.reading is None:
        posted.reading = asyncio.ensure_future(run_in_threadpool(Posted.load, [posted]))
    return posted.reading


def wake(request: Request, outcome: Outcome) -> None:
    request.app.state.hub.notify(*outcome.topics, posted=outcome.posted)
