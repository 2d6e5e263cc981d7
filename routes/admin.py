"""The admin's pages: agents (add, disable, reset password, skills, limits), canned responses, the activity log."""
from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone
from urllib.parse import quote

from peewee import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

import conversation
from i18n import NAMES
from models import SKILL_NAMES, Agent, AgentSession, AuditLog, CannedResponse, db, hash_password
from realtime import QUEUE, ROUTING, agent_topic
from delivery.mail import valid_address
from routes.agent import free_failures, requires_agent
from routes.common import form_data, plain_text, render, wake

AGENT_ID = re.compile(r"^[a-z0-9_]{3,32}$")
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_CHATS = 20


def _agent_fields(form) -> tuple[dict, str | None]:
    """Name, skills, languages, limit and role from a form, and a readable problem, if any."""
    name = plain_text(form.get("name"), 81)
    chosen = form.getlist("skills")
    skills = [s for s in SKILL_NAMES if s in chosen]
    raw_limit = plain_text(form.get("max_chats"), 4)
    role = form.get("role", "agent")
    email = plain_text(form.get("email"), 255) or None
    spoken = form.getlist("languages")
    languages = [code for code in NAMES if code in spoken]
    fields = {"name": name, "skills": ",".join(skills), "role": role, "email": email,
              "languages": ",".join(languages) or "en"}  # every counsellor speaks English at least
    if not 1 <= len(name) <= 80:
        return fields, "Give the agent a name of 1 to 80 characters."
    if not skills:
        return fields, "Choose at least one skill."
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_CHATS:
        return fields, f"The chat limit is a number from 1 to {MAX_CHATS}."
    if role not in ("agent", "admin"):
        return fields, "Choose the agent or admin role."
    if email and not valid_address(email):
        return fields, "Enter an email address like name@example.com, or leave it empty."
    return {**fields, "max_chats": int(raw_limit)}, None


def _canned_fields(form, limit: int) -> tuple[dict, str | None]:
    shortcut = plain_text(form.get("shortcut"), 33).lower().lstrip("/")
    title = plain_text(form.get("title"), 81)
    text = plain_text(form.get("text"), limit + 1)
    fields = {"shortcut": shortcut, "title": title, "text": text}
    if not SHORTCUT.match(shortcut):
        return fields, "A shortcut is 1 to 32 lowercase letters, digits, - or _, such as visa-docs."
    if not 1 <= len(title) <= 80:
        return fields, "Give the response a title of 1 to 80 characters."
    if not 1 <= len(text) <= limit:
        return fields, f"The response text needs 1 to {limit} characters."
    return fields, None


def _agents_context() -> dict:
    return {"agents": list(Agent.select().order_by(Agent.agent_id)), "skill_names": SKILL_NAMES}


def _agents_page(request: Request, status_code: int = 200, **extra):
    grace = request.app.state.settings.presence_grace_seconds
    context = {"error": None, "notice": None, "form": {}, **_agents_context(), "team": Agent.team(grace), **extra}
    return render(request, "admin/agents.html", status_code=status_code, me=request.state.agent, **context)


@requires_agent(page=True, admin=True)
async def admin_agents(request: Request):
    return await run_in_threadpool(_agents_page, request)


def _next_agent_id() -> str:
    taken = {a.agent_id for a in Agent.select(Agent.agent_id)}
    return next(f"agent_{n:03d}" for n in range(1, 10000) if f"agent_{n:03d}" not in taken)


@requires_agent(page=True, admin=True)
async def admin_agent_add(request: Request):
    form = await form_data(request)
    fields, problem = _agent_fields(form)
    agent_id = plain_text(form.get("agent_id"), 33).lower()
    if agent_id and not AGENT_ID.match(agent_id):
        problem = problem or "An agent ID is 3 to 32 lowercase letters, digits or _, such as agent_005."
    password = secrets.token_urlsafe(12)

    def add() -> Agent:
        with db.atomic():
            agent = Agent.create(agent_id=agent_id or _next_agent_id(), password_hash=hash_password(password),
                                 status="online", **fields)
            AuditLog.record(request.state.agent, "agent_add", agent.agent_id,
                            f"{agent.name}; skills {agent.skills}; limit {agent.max_chats}; {agent.role}")
        return agent

    if not problem:
        try:
            added = await run_in_threadpool(add)
        except IntegrityError:
            problem = f"There is already an agent {agent_id}."
    if problem:
        return await run_in_threadpool(lambda: _agents_page(request, 400, error=problem, form={**fields, "agent_id": agent_id}))
    notice = (f"Added {added.name} as {added.agent_id}. Their first password is {password} — "
              "shown only now; they can change it under Password.")
    return await run_in_threadpool(lambda: _agents_page(request, 201, notice=notice))


@requires_agent(page=True, admin=True)
async def admin_agent_update(request: Request):
    me: Agent = request.state.agent
    form = await form_data(request)
    fields, problem = _agent_fields(form)
    active = form.get("active") == "on"
    target = await run_in_threadpool(Agent.by_agent_id, request.path_params["agent_id"])
    if target is None:
        return await run_in_threadpool(lambda: _agents_page(request, 404, error="No such agent."))
    if target.id == me.id and (not active or fields.get("role") != "admin"):
        problem = problem or "You can't disable yourself or give up your own admin role; ask another admin."
    if problem:
        return await run_in_threadpool(lambda: _agents_page(request, 400, error=f"{target.agent_id}: {problem}"))

    def update() -> str:
        changes = {k: v for k, v in {**fields, "active": active}.items() if getattr(target, k) != v}
        if not changes:
            return "nothing"
        with db.atomic():
            if not active and target.active:
                # Signed out everywhere at once; their chats go back to the head of the queue below.
                changes.update(epoch=Agent.epoch + 1, last_seen_at=None)
            Agent.update(**changes).where(Agent.id == target.id).execute()
            detail = "; ".join(f"{k} {v}" for k, v in changes.items() if k in (*fields, "active"))
            AuditLog.record(me, "agent_update", target.agent_id, detail)
        return detail

    detail = await run_in_threadpool(update)
    request.app.state.hub.notify(agent_topic(target.id), ROUTING, QUEUE)
    if not active:
        wake(request, await run_in_threadpool(conversation.requeue_dropped,
                                              request.app.state.settings.presence_grace_seconds, target.id))
    return await run_in_threadpool(lambda: _agents_page(request, notice=f"Saved {target.agent_id}: {detail}."))


@requires_agent(page=True, admin=True)
async def admin_agent_password(request: Request):
    target = await run_in_threadpool(Agent.by_agent_id, request.path_params["agent_id"])
    if target is None:
        return await run_in_threadpool(lambda: _agents_page(request, 404, error="No such agent."))
    password = secrets.token_urlsafe(12)
    await run_in_threadpool(target.change_password, password)
    await run_in_threadpool(AuditLog.record, request.state.agent, "password_reset", target.agent_id)
    request.app.state.hub.notify(agent_topic(target.id))  # their open dashboards sign out
    notice = (f"New password for {target.agent_id}: {password} — shown only now. "
              "Every browser they were signed in on is signed out.")
    return await run_in_threadpool(lambda: _agents_page(request, notice=notice))


def _canned_page(request: Request, status_code: int = 200, **extra):
    context = {"error": None, "notice": None, "form": {}, **extra}
    return render(request, "admin/canned.html", status_code=status_code, me=request.state.agent,
                  canned=list(CannedResponse.ordered()), limit=request.app.state.settings.max_message_chars,
                  **context)


@requires_agent(page=True, admin=True)
async def admin_canned(request: Request):
    return await run_in_threadpool(_canned_page, request)


@requires_agent(page=True, admin=True)
async def admin_canned_save(request: Request):
    """Add a canned response, or change one when the URL names it."""
    form = await form_data(request)
    fields, problem = _canned_fields(form, request.app.state.settings.max_message_chars)
    canned_id = request.path_params.get("canned_id")

    def save() -> str:
        with db.atomic():
            if canned_id is None:
                CannedResponse.create(**fields)
                action = "canned_add"
            elif not CannedResponse.update(**fields).where(CannedResponse.id == canned_id).execute():
                return "No such canned response."
            else:
                action = "canned_update"
            AuditLog.record(request.state.agent, action, fields["shortcut"], fields["title"])
        return ""

    if not problem:
        try:
            problem = await run_in_threadpool(save)
        except IntegrityError:
            problem = f"The shortcut /{fields['shortcut']} is taken; choose another."
    if problem:
        return await run_in_threadpool(lambda: _canned_page(request, 400, error=problem, form=fields))
    return RedirectResponse("/agent/admin/canned", status_code=303)


@requires_agent(page=True, admin=True)
async def admin_canned_delete(request: Request):
    def delete() -> None:
        with db.atomic():
            canned = CannedResponse.get_or_none(CannedResponse.id == request.path_params["canned_id"])
            if canned is not None:
                canned.delete_instance()
                AuditLog.record(request.state.agent, "canned_delete", canned.shortcut, canned.title)

    await run_in_threadpool(delete)
    return RedirectResponse("/agent/admin/canned", status_code=303)


@requires_agent(page=True, admin=True)
async def admin_activity(request: Request):
    """Admin changes, sign-ins and presence, beside the latest chat actions."""
    def load() -> dict:
        return {"audit": list(AuditLog.recent(200)),
                "history": list(AgentSession.select().order_by(AgentSession.id.desc()).limit(200))}

    return render(request, "admin/activity.html", me=request.state.agent, **await run_in_threadpool(load))


async def _throttles(request: Request) -> list[dict]:
    settings = request.app.state.settings
    rows = await request.app.state.sign_ins.throttled("login:", lambda key: free_failures(settings, key))
    for row in rows:
        row["at"] = datetime.fromtimestamp(row["latest"], timezone.utc)
    return rows


@requires_agent(page=True, admin=True)
async def admin_throttles(request: Request):
    """Sign-in failure logs with failures in the window, and how long each holds the next attempt back."""
    notice = request.query_params.get("cleared")
    return render(request, "admin/throttles.html", me=request.state.agent, throttles=await _throttles(request),
                  notice=f"Cleared {notice}." if notice else None)


@requires_agent(page=True, admin=True)
async def admin_throttle_clear(request: Request):
    form = await form_data(request)
    key = plain_text(form.get("key"), 300)
    if not key.startswith("login:"):
        return render(request, "admin/throttles.html", status_code=400, me=request.state.agent,
                      throttles=await _throttles(request), error="Choose a throttle from the list.")
    await request.app.state.limits.forget(key)
    await run_in_threadpool(AuditLog.record, request.state.agent, "throttle_clear", key)
    return RedirectResponse(f"/agent/admin/throttles?cleared={quote(key)}", status_code=303)


@requires_agent(page=True, admin=True)
async def back_to_agents(request: Request):
    """A reload of the page an agent form answered, whose address takes only the form, shows the list again."""
    return RedirectResponse("/agent/admin", status_code=303)


routes = [
    Route("/agent/admin", admin_agents, name="admin_agents"),
    Route("/agent/admin/agents", admin_agent_add, methods=["POST"], name="admin_agent_add"),
    Route("/agent/admin/agents", back_to_agents),
    Route("/agent/admin/agents/{agent_id}", back_to_agents),
    Route("/agent/admin/agents/{agent_id}/password", back_to_agents),
    Route("/agent/admin/agents/{agent_id}", admin_agent_update, methods=["POST"], name="admin_agent_update"),
    Route("/agent/admin/agents/{agent_id}/password", admin_agent_password, methods=["POST"],
          name="admin_agent_password"),
    Route("/agent/admin/canned", admin_canned, name="admin_canned"),
    Route("/agent/admin/canned", admin_canned_save, methods=["POST"], name="admin_canned_add"),
    Route("/agent/admin/canned/{canned_id:int}", admin_canned_save, methods=["POST"], name="admin_canned_update"),
    Route("/agent/admin/canned/{canned_id:int}/delete", admin_canned_delete, methods=["POST"],
          name="admin_canned_delete"),
    Route("/agent/admin/activity", admin_activity, name="admin_activity"),
    Route("/agent/admin/throttles", admin_throttles, name="admin_throttles"),
    Route("/agent/admin/throttles/clear", admin_throttle_clear, methods=["POST"], name="admin_throttle_clear"),
]
