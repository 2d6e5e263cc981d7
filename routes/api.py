"""JSON API for integrations: sessions with their messages, and the analytics figures, behind a bearer token."""
from __future__ import annotations

import hashlib
import hmac
from datetime import date, datetime, timedelta, timezone

from peewee import JOIN
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import analytics
from analytics import PeriodError
from models import Agent, AgentSession, ChatSession, Message, SessionAnalytics, iso

STATUSES = {"bot", "waiting", "assigned", "closed"}
MAX_LIMIT = 200


class BadRequest(ValueError):
    """A filter the API cannot use, with a readable reason."""


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "replace")).digest()


def has_token(request: Request) -> bool:
    """The request carries `Authorization: Bearer <HANDOFF_API_TOKEN>` (never true while no token is set)."""
    token = request.app.state.settings.api_token
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    # Digests have one length, so the comparison's time tells nothing about the token.
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(_digest(sent.strip()), _digest(token))


def requires_token(handler):
    """404 while no HANDOFF_API_TOKEN is set (the API is off); 401 without the right bearer token."""
    async def endpoint(request: Request):
        if not request.app.state.settings.api_token:
            return JSONResponse({"error": "The API is off. Set HANDOFF_API_TOKEN to turn it on."}, status_code=404)
        if not has_token(request):
            return JSONResponse({"error": "Send Authorization: Bearer <HANDOFF_API_TOKEN>."}, status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="handoff"'})
        try:
            return await handler(request)
        except (BadRequest, PeriodError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
    endpoint.__name__ = handler.__name__
    return endpoint


def _when(raw: str | None, name: str, end: bool = False) -> datetime | None:
    """An ISO date-time in UTC, or a date (a `to` date includes that whole day)."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            return datetime.combine(day + timedelta(days=1 if end else 0), datetime.min.time())
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):  # year 1 at +14:00 overflows in UTC
        raise BadRequest(f"{name} must be an ISO 8601 date or date-time, e.g. 2025-03-01 or 2025-03-01T09:00:00Z.")
    return stamp


def _int(raw: str | None, name: str, default: int | None, low: int, high: int) -> int | None:
    if raw is None or raw == "":
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:  # isdigit alone takes "²"
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.")
    return int(raw)


def _agent(raw: str | None) -> Agent | None:
    if not raw:
        return None
    agent = Agent.by_agent_id(raw)
    if agent is None:
        raise BadRequest(f"There is no agent {raw!r}.")
    return agent


def sessions_page(params) -> dict:
    statuses = [s for s in (params.get("status") or "").split(",") if s]
    if set(statuses) - STATUSES:
        raise BadRequest("status must be bot, waiting, assigned or closed (several separated by commas).")
    limit = _int(params.get("limit"), "limit", 50, 1, MAX_LIMIT)
    cursor = _int(params.get("cursor"), "cursor", None, 1, 2**63 - 1)
    rows = list(ChatSession.search(statuses, _agent(params.get("agent")), _when(params.get("from"), "from"),
                                   _when(params.get("to"), "to", end=True), cursor, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"sessions": [chat.as_dict() for chat in rows],
            "next_cursor": str(rows[-1].id) if more else None}


@requires_token
async def api_sessions(request: Request):
    return JSONResponse(await run_in_threadpool(sessions_page, request.query_params))


def session_detail(chat_id: int) -> dict | None:
    chat = ChatSession.get_or_none(ChatSession.id == chat_id)
    if chat is None:
        return None
    messages = (Message.select(Message, Agent).join(Agent, JOIN.LEFT_OUTER, on=(Message.agent == Agent.id))
                .where(Message.session == chat).order_by(Message.id))
    figures = SessionAnalytics.get_or_none(SessionAnalytics.session == chat)
    history = AgentSession.select().where(AgentSession.session == chat).order_by(AgentSession.id)
    return {
        **chat.as_dict(),
        "messages": [m.as_dict() for m in messages],
        "history": [{"action": h.action, "agent": h.agent.agent_id if h.agent_id else None,
                     "target_agent": h.target_agent.agent_id if h.target_agent_id else None,
                     "note": h.note, "created_at": iso(h.created_at)} for h in history],
        "analytics": None if figures is None else {
            "outcome": figures.outcome, "wait_seconds": figures.wait_seconds,
            "first_response_seconds": figures.first_response_seconds, "handle_seconds": figures.handle_seconds,
            "bot_turns": figures.bot_turns, "mean_confidence": figures.mean_confidence},
    }


@requires_token
async def api_session(request: Request):
    detail = await run_in_threadpool(session_detail, request.path_params["chat_id"])
    if detail is None:
        return JSONResponse({"error": "No such session."}, status_code=404)
    return JSONResponse(detail)


def analytics_figures(params, tz: str) -> dict:
    return analytics.report(analytics.period_from(params, tz), _agent(params.get("agent"))).as_dict()


@requires_token
async def api_analytics(request: Request):
    figures = await run_in_threadpool(analytics_figures, request.query_params, request.app.state.settings.timezone)
    return JSONResponse(figures)


routes = [
    Route("/api/sessions", api_sessions, name="api_sessions"),
    Route("/api/sessions/{chat_id:int}", api_session, name="api_session"),
    Route("/api/analytics", api_analytics, name="api_analytics"),
]
