"""The bare-stack reference: Starlette + sse-starlette relaying chat messages in memory, no database.

Same shape as Handoff's routes (form POST, one SSE stream per visitor and per agent, HTML fragments),
so the benchmark's ratio shows what our storage, queries and templates cost on top of the stack.
Conversation `c` is in the `c` cookie; agent `a` (cookie `a`) holds conversations a*PER_AGENT..+PER_AGENT-1.
"""
from __future__ import annotations

import asyncio
import html
import itertools
import os
from collections import defaultdict

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PER_AGENT = int(os.environ.get("BARE_CHATS_PER_AGENT", "10"))
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Chat</title>
<link rel="stylesheet" href="/static/css/app.css"><script src="/static/vendor/htmx.min.js" defer></script>
<script src="/static/vendor/ext/hx-sse.js" defer></script><script src="/static/js/app.js" defer></script></head>
<body><main><ol id="messages"></ol><div hx-sse:connect="/chat/events"></div>
<form hx-post="/chat/messages"><label for="text">Message</label><textarea id="text" name="text"></textarea>
<button>Send</button></form></main></body></html>"""

ids = itertools.count(1)
visitors: dict[int, set[asyncio.Queue]] = defaultdict(set)
agents: dict[int, set[asyncio.Queue]] = defaultdict(set)


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def post_message(request: Request) -> Response:
    chat = int(request.cookies["c"])
    text = str((await request.form()).get("text", "")).strip()
    message_id = next(ids)
    fragment = (f'<li class="message" data-message-id="{message_id}" data-session-id="{chat}" data-sender="visitor">'
                f"{html.escape(text)}</li>")
    for queue in visitors[chat] | agents[chat // PER_AGENT]:
        queue.put_nowait((message_id, fragment))
    return Response(status_code=201, headers={"X-Message-Id": str(message_id)})


def stream(groups: dict[int, set[asyncio.Queue]], key: int) -> EventSourceResponse:
    async def events():
        queue: asyncio.Queue = asyncio.Queue()
        groups[key].add(queue)
        try:
            yield ServerSentEvent(comment="connected")
            while True:
                message_id, fragment = await queue.get()
                yield ServerSentEvent(data=fragment, id=str(message_id))
        finally:
            groups[key].discard(queue)

    return EventSourceResponse(events(), ping=15, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


async def chat_events(request: Request) -> EventSourceResponse:
    return stream(visitors, int(request.cookies["c"]))


async def agent_events(request: Request) -> EventSourceResponse:
    return stream(agents, int(request.cookies["a"]))


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[
    Route("/", page),
    Route("/chat/messages", post_message, methods=["POST"]),
    Route("/chat/events", chat_events),
    Route("/agent/events", agent_events),
    Route("/healthz", healthz),
    Mount("/static", StaticFiles(directory=os.path.join(ROOT, "static"))),
])
