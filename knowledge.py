"""The editable knowledge base: seeded from the shipped YAML, served from the database, reloaded on change.

Every worker serves the entries it installed last. A save installs them in the saving worker at once
and wakes the others through the hub (`KNOWLEDGE`); each also compares the table's version once a
sweep, so a lost wake-up costs seconds, never a stale answer for good.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime
from functools import lru_cache
from typing import Iterable

from starlette.concurrency import run_in_threadpool

from escalation.knowledge_base import Entry, install, knowledge_base, load_entries
from database import Prepared, round_failed
from models import KnowledgeEntry, db, now
from realtime import KNOWLEDGE

log = logging.getLogger("handoff.knowledge")
_lock = threading.Lock()
installed = -1  # the version this process serves; -1 until the database's entries are installed


def served(entry_id: str | None) -> Entry | None:
    """The entry this worker serves under that id; None once retired."""
    return knowledge_base().get(entry_id) if entry_id else None


def month_name(checked: str) -> str:
    """2025-11 as November 2025; anything else as it is."""
    try:
        return datetime.strptime(checked, "%Y-%m").strftime("%B %Y")
    except (TypeError, ValueError):
        return checked or ""


def to_entry(row: KnowledgeEntry) -> Entry:
    return Entry(id=row.id, title=row.title, answer=" ".join(row.answer.split()), skill=row.skill,
                 questions=tuple(row.question_list), keywords=tuple(row.keyword_list), country=row.country,
                 topic=row.topic, source=row.source, checked=row.checked)


def _row_fields(entry: Entry) -> dict:
    return {"country": entry.country, "topic": entry.topic, "title": entry.title, "skill": entry.skill,
            "questions": "\n".join(entry.questions), "keywords": ", ".join(entry.keywords),
            "answer": entry.answer, "source": entry.source, "checked": entry.checked}


# A new database takes every shipped entry: with its SQL written once, that is a small part of starting.
_INSERT = Prepared(lambda entry_id, *values: KnowledgeEntry.insert(
    id=entry_id, **dict(zip([*KnowledgeEntry.FIELDS, "updated_at"], values))), *[str] * 10, datetime)


@lru_cache(maxsize=1)
def shipped() -> tuple[Entry, ...]:
    """The YAML's entries, read once: they change only with a new release."""
    return tuple(load_entries())


def seed(defaults: Iterable[Entry] | None = None) -> list[str]:
    """Bring the table in line with the shipped entries wherever no admin has touched it: a shipped entry
    the table lacks is added, one still as shipped follows the new defaults, one no longer shipped is
    retired. Entries an admin changed stay as they left them. The ids changed, for the log."""
    changed, defaults = [], list(shipped() if defaults is None else defaults)
    with db.atomic():
        rows = {row.id: row for row in KnowledgeEntry.select()}
        ids = {entry.id for entry in defaults}
        stamp = now()
        for entry in defaults:
            if entry.id not in rows:
                _INSERT.execute(entry.id, *_row_fields(entry).values(), stamp)
                changed.append(entry.id)
        for entry in defaults:
            row, fields = rows.get(entry.id), _row_fields(entry)
            if row and row.updated_by_id is None and ({k: getattr(row, k) for k in fields} != fields or row.retired):
                KnowledgeEntry.update(**fields, retired=False, revision=KnowledgeEntry.revision + 1,
                                      updated_at=now()).where(KnowledgeEntry.id == row.id).execute()
                changed.append(entry.id)
        for row in rows.values():
            if row.id not in ids and row.updated_by_id is None and not row.retired:
                KnowledgeEntry.update(retired=True, revision=KnowledgeEntry.revision + 1,
                                      updated_at=now()).where(KnowledgeEntry.id == row.id).execute()
                changed.append(row.id)
    return changed


def refresh(force: bool = False) -> bool:
    """Serve the database's live entries if they changed since this process installed them; True if so."""
    global installed
    with _lock:  # a save and the sweep refreshing together install once, in version order
        version = KnowledgeEntry.version()  # read first: the rows read next are at least as new
        if version == installed and not force:
            return False
        order = {entry.id: n for n, entry in enumerate(shipped())}  # ties in retrieval break as they were measured
        entries = sorted((to_entry(row) for row in KnowledgeEntry.live()),
                         key=lambda e: (order.get(e.id, len(order)), e.id))
        if entries != knowledge_base().entries:  # a new database as shipped is served by the index already built
            install(entries)
        installed = version
    log.info("knowledge base: serving %d entries (version %d)", len(entries), version)
    return True


async def follow(hub, seconds: float) -> None:
    """Reload when another worker says the entries changed, and compare versions every `seconds` anyway."""
    with hub.listen(KNOWLEDGE) as listener:
        while True:
            await listener.wait(seconds)
            try:
                await run_in_threadpool(refresh)
            except asyncio.CancelledError:
                raise
            except Exception:
                round_failed(log, "reloading the knowledge base")
