"""The knowledge base in the browser: admins list, add, edit, retire and restore entries and handle the
flags agents raise on bot answers; agents flag a bot answer in a transcript as wrong."""
from __future__ import annotations

import re
from datetime import date
from urllib.parse import urlsplit

from peewee import IntegrityError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

import knowledge
from conversation import ChatError
from escalation import COUNTRIES, SKILLS
from models import AnswerFlag, AuditLog, ChatSession, KnowledgeEntry, Message, StaleEdit, db, now
from realtime import KNOWLEDGE
from routes.agent import requires_agent
from routes.common import error_fragment, form_data, plain_text, render

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
MAX_QUESTIONS, MAX_KEYWORDS, MAX_ANSWER = 20, 40, 2000
PLACES = {"any": "Every destination", **COUNTRIES}
OURS = "EduConsult"  # the source of our own advice and services, which no official page states


def _entry_fields(form, countries: set[str]) -> tuple[dict, str | None]:
    """An entry's fields from the form, as stored, and a readable problem, if any."""
    questions = [q for q in (plain_text(line, 301) for line in plain_text(form.get("questions")).split("\n")) if q]
    keywords = [k for k in (plain_text(word, 41) for word in plain_text(form.get("keywords"), 2000).split(",")) if k]
    fields = {"country": plain_text(form.get("country"), 20), "topic": plain_text(form.get("topic"), 81).lower(),
              "title": plain_text(form.get("title"), 201), "skill": plain_text(form.get("skill"), 20),
              "questions": "\n".join(questions), "keywords": ", ".join(keywords),
              "answer": plain_text(form.get("answer"), MAX_ANSWER + 1), "source": plain_text(form.get("source"), 501),
              "checked": plain_text(form.get("checked"), 8)}
    source, month = urlsplit(fields["source"]), MONTH.match(fields["checked"])
    if fields["country"] not in countries:
        return fields, "Choose the destination the entry is for, or every destination."
    if not 1 <= len(fields["topic"]) <= 80 or not SLUG.match(fields["topic"]):
        return fields, "A topic is lowercase words joined by hyphens, such as visa-fee."
    if not 1 <= len(fields["title"]) <= 200:
        return fields, "Give the entry a title of 1 to 200 characters."
    if fields["skill"] not in SKILLS:
        return fields, "Choose the team that takes chats about this entry."
    if not 1 <= len(questions) <= MAX_QUESTIONS or any(len(q) > 300 for q in questions):
        return fields, f"Write 1 to {MAX_QUESTIONS} sample questions, one per line, each at most 300 characters."
    if len(keywords) > MAX_KEYWORDS or any(len(k) > 40 for k in keywords):
        return fields, f"Keywords: at most {MAX_KEYWORDS}, separated by commas, each at most 40 characters."
    if not 1 <= len(fields["answer"]) <= MAX_ANSWER:
        return fields, f"The answer needs 1 to {MAX_ANSWER} characters."
    if fields["source"] != OURS and (len(fields["source"]) > 500 or source.scheme not in ("http", "https") or not source.hostname):
        return fields, (f"The source is the web address of the official page the facts come from, starting "
                        f"https://, or {OURS} for our own advice and services.")
    if not month or fields["checked"] > date.today().strftime("%Y-%m") or int(month.group(1)) < 2000:
        return fields, "Checked is the month the facts were last checked, as YYYY-MM, not in the future."
    return fields, None


def _country_choices(current: str | None = None) -> dict[str, str]:
    """Destinations an entry can be for; an entry's own, if the list no longer has it, stays choosable."""
    return {**PLACES, **({current: current} if current and current not in PLACES else {})}


async def _refresh(request: Request) -> None:
    """This worker serves the change now; the others when the hub reaches them (or their next sweep)."""
    await run_in_threadpool(knowledge.refresh)
    request.app.state.hub.notify(KNOWLEDGE)


def _list_context(request: Request) -> dict:
    query = plain_text(request.query_params.get("q"), 100)
    country = plain_text(request.query_params.get("country"), 20)
    status = request.query_params.get("status", "live")
    retired = {"live": False, "retired": True}.get(status)
    groups: dict[str, list[KnowledgeEntry]] = {}
    for entry in KnowledgeEntry.listing(query, country if country in _country_choices() else "", retired):
        groups.setdefault(entry.country, []).append(entry)
    ordered = [(code, groups[code]) for code in [*PLACES, *sorted(set(groups) - set(PLACES))] if code in groups]
    return {"groups": ordered, "q": query, "country": country, "status": status, "places": PLACES,
            "open_flags": AnswerFlag.listing().count()}


@requires_agent(page=True, admin=True)
async def admin_knowledge(request: Request):
    context = await run_in_threadpool(_list_context, request)
    return render(request, "admin/knowledge.html", me=request.state.agent, **context)


def _entry_page(request: Request, entry: KnowledgeEntry | None, status_code: int = 200, **extra):
    context = {"error": None, "notice": None, "form": entry, **extra}
    flags = list(AnswerFlag.listing().where(Message.entry == entry.id)) if entry else []
    return render(request, "admin/knowledge_entry.html", status_code=status_code, me=request.state.agent,
                  entry=entry, places=_country_choices(entry.country if entry else None), skills=SKILLS,
                  flags=flags, max_answer=MAX_ANSWER, **context)


@requires_agent(page=True, admin=True)
async def admin_knowledge_new(request: Request):
    return await run_in_threadpool(_entry_page, request, None)


@requires_agent(page=True, admin=True)
async def admin_knowledge_add(request: Request):
    form = await form_data(request)
    fields, problem = _entry_fields(form, set(PLACES))
    entry_id = plain_text(form.get("id"), 81).lower()
    if not problem and (not 3 <= len(entry_id) <= 80 or not SLUG.match(entry_id)):
        problem = "An id is lowercase words joined by hyphens, such as ie-visa-fee."

    def add() -> None:
        with db.atomic():
            KnowledgeEntry.create(id=entry_id, updated_by=request.state.agent, **fields)
            AuditLog.record(request.state.agent, "kb_add", entry_id, fields["title"])

    if not problem:
        try:
            await run_in_threadpool(add)
            await _refresh(request)
        except IntegrityError:
            problem = f"There is already an entry {entry_id}; edit it, or choose another id."
    if problem:
        return await run_in_threadpool(lambda: _entry_page(request, None, 400, error=problem,
                                                           form={**fields, "id": entry_id}))
    return RedirectResponse(f"/agent/admin/knowledge/{entry_id}?saved=added", status_code=303)


def _found(request: Request) -> KnowledgeEntry | None:
    return KnowledgeEntry.get_or_none(KnowledgeEntry.id == request.path_params["entry_id"])


NOTICES = {"added": "Added. Visitors get this entry from now on.", "saved": "Saved. Visitors get the new text now.",
           "retired": "Retired. The bot no longer serves this entry.", "restored": "Restored. The bot serves it again."}


@requires_agent(page=True, admin=True)
async def admin_knowledge_entry(request: Request):
    entry = await run_in_threadpool(_found, request)
    if entry is None:
        return await run_in_threadpool(lambda: _entry_page(request, None, 404, error="No such entry."))
    notice = NOTICES.get(request.query_params.get("saved", ""))
    return await run_in_threadpool(lambda: _entry_page(request, entry, notice=notice))


STALE = "Someone changed this entry after you opened it, and nothing was saved. Here it is as it is now."


async def _change(request: Request, fields: dict | None, retired: bool | None, done: str):
    """Edit, retire or restore an entry, if nobody changed it since the admin's page showed revision `revision`."""
    form = await form_data(request)
    raw = plain_text(form.get("revision"), 12)
    entry = await run_in_threadpool(_found, request)
    if entry is None:
        return await run_in_threadpool(lambda: _entry_page(request, None, 404, error="No such entry."))

    def change() -> str:
        with db.atomic():
            return entry.change(request.state.agent, int(raw) if raw.isdigit() else -1, fields, retired)

    try:
        if detail := await run_in_threadpool(change):
            await _refresh(request)
    except StaleEdit:
        fresh = await run_in_threadpool(_found, request)
        return await run_in_threadpool(lambda: _entry_page(request, fresh, 409, error=STALE, unsaved=fields))
    return RedirectResponse(f"/agent/admin/knowledge/{entry.id}" + (f"?saved={done}" if detail else ""),
                            status_code=303)


@requires_agent(page=True, admin=True)
async def admin_knowledge_save(request: Request):
    form = await form_data(request)
    entry = await run_in_threadpool(_found, request)
    fields, problem = _entry_fields(form, set(_country_choices(entry.country if entry else None)))
    if problem and entry is not None:
        return await run_in_threadpool(lambda: _entry_page(request, entry, 400, error=problem,
                                                           form={**fields, "id": entry.id}))
    return await _change(request, fields, None, "saved")


@requires_agent(page=True, admin=True)
async def admin_knowledge_retire(request: Request):
    return await _change(request, None, True, "retired")


@requires_agent(page=True, admin=True)
async def admin_knowledge_restore(request: Request):
    return await _change(request, None, False, "restored")


def _flags_context() -> dict:
    return {"flags": list(AnswerFlag.listing()), "handled": list(AnswerFlag.listing(handled=True).limit(50))}


@requires_agent(page=True, admin=True)
async def admin_flags(request: Request):
    return render(request, "admin/flags.html", me=request.state.agent, **await run_in_threadpool(_flags_context))


@requires_agent(page=True, admin=True)
async def admin_flag_handled(request: Request):
    def handle() -> None:
        with db.atomic():
            flag = AnswerFlag.get_or_none(AnswerFlag.id == request.path_params["flag_id"])
            if flag is not None and AnswerFlag.update(handled_at=now(), handled_by=request.state.agent).where(
                    AnswerFlag.id == flag.id, AnswerFlag.handled_at.is_null()).execute():
                AuditLog.record(request.state.agent, "flag_handled", flag.message.entry or None,
                                f"flag {flag.id} on message {flag.message_id}")

    await run_in_threadpool(handle)
    return RedirectResponse("/agent/admin/flags", status_code=303)


def _flag(agent, message_id: int, comment: str) -> AnswerFlag:
    """Flag a bot answer of a chat this agent handles (admins: any chat); an open flag of theirs gets the comment."""
    with db.atomic():
        message = Message.get_or_none(Message.id == message_id)
        chat = ChatSession.get_or_none(ChatSession.id == message.session_id) if message else None
        if chat is None or not (agent.is_admin or chat.agent_id == agent.id):
            raise ChatError("No such answer in your chats.", 404)
        if message.sender != "bot":
            raise ChatError("Only the bot's answers can be flagged.", 400)
        flag = AnswerFlag.get_or_none(AnswerFlag.message == message, AnswerFlag.agent == agent,
                                      AnswerFlag.handled_at.is_null())
        if flag is None:
            flag = AnswerFlag.create(message=message, agent=agent, comment=comment)
        else:
            flag.comment = comment or flag.comment
            flag.save()
        AuditLog.record(agent, "flag_add", message.entry or None, f"message {message.id} in chat {chat.id}")
    return flag


@requires_agent
async def agent_flag(request: Request):
    form = await form_data(request)
    comment = plain_text(form.get("comment"), 1001)
    if len(comment) > 1000:
        return error_fragment(request, "A comment can be at most 1000 characters.", 400)
    try:
        flag = await run_in_threadpool(_flag, request.state.agent, request.path_params["message_id"], comment)
    except ChatError as refused:
        return error_fragment(request, refused)
    if not request.headers.get("hx-request"):
        return RedirectResponse("/agent/dashboard", status_code=303)
    return render(request, "agent/_flag.html", message_id=flag.message_id, flagged=flag, status_code=201)


routes = [
    Route("/agent/admin/knowledge", admin_knowledge, name="admin_knowledge"),
    Route("/agent/admin/knowledge", admin_knowledge_add, methods=["POST"], name="admin_knowledge_add"),
    Route("/agent/admin/knowledge/new", admin_knowledge_new, name="admin_knowledge_new"),
    Route("/agent/admin/knowledge/{entry_id}", admin_knowledge_entry, name="admin_knowledge_entry"),
    Route("/agent/admin/knowledge/{entry_id}", admin_knowledge_save, methods=["POST"], name="admin_knowledge_save"),
    Route("/agent/admin/knowledge/{entry_id}/retire", admin_knowledge_retire, methods=["POST"],
          name="admin_knowledge_retire"),
    Route("/agent/admin/knowledge/{entry_id}/restore", admin_knowledge_restore, methods=["POST"],
          name="admin_knowledge_restore"),
    Route("/agent/admin/flags", admin_flags, name="admin_flags"),
    Route("/agent/admin/flags/{flag_id:int}/handled", admin_flag_handled, methods=["POST"],
          name="admin_flag_handled"),
    Route("/agent/messages/{message_id:int}/flag", agent_flag, methods=["POST"], name="agent_flag"),
]
