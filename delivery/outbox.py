"""The deliverer: a background task that sends due outbox rows (webhooks, emails) and retries failures.

Rows are written in the same transaction as the chat change that caused them, so a crash or
restart loses none: whatever was not delivered is still due when the next process starts.
Every worker runs a deliverer; a row is claimed before each attempt, so only one sends it.
"""
from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool

from database import round_failed
from delivery import mail
from delivery import webhooks
from models import Outbox
from realtime import OUTBOX
from settings import Settings

log = logging.getLogger("handoff.outbox")
BATCH = 20
PARALLEL = 4


async def attempt(row: Outbox, settings: Settings, client: httpx.AsyncClient, key: str) -> str | None:
    """Send one row; None on success, else the error to record."""
    if row.kind == "webhook":
        return await webhooks.post(client, settings.webhook_url, row, key)
    try:
        await run_in_threadpool(mail.send, settings.smtp_url, settings.mail_from, json.loads(row.payload),
                                settings.delivery_timeout_seconds)
    except Exception as exc:  # any SMTP, socket or TLS failure is retried
        return f"{type(exc).__name__}: {exc}"
    return None


async def deliver_due(settings: Settings, client: httpx.AsyncClient, key: str) -> int:
    """One batch: claim the due rows, send them a few at a time, record each result; how many were due."""
    rows = await run_in_threadpool(Outbox.due, BATCH)
    lease = settings.delivery_timeout_seconds * 2 + 5  # a worker that dies mid-attempt frees the row after this
    claiming = asyncio.ensure_future(run_in_threadpool(lambda: [row for row in rows if row.claim(lease)]))
    try:
        claimed = await asyncio.shield(claiming)
    except asyncio.CancelledError:
        for row in await claiming:  # the thread claims them all the same: hand them back for the next start
            row.release()
        raise
    gate = asyncio.Semaphore(PARALLEL)
    finished: set[int] = set()

    async def one(row: Outbox) -> None:
        async with gate:
            error = await attempt(row, settings, client, key)
        if error:
            log.warning("outbox %s %s #%s attempt %s failed: %s", row.kind, row.event, row.id, row.attempts, error)
        await run_in_threadpool(row.finish, error, settings.outbox_retry_seconds, settings.outbox_max_attempts)
        finished.add(row.id)

    try:
        await asyncio.gather(*(one(row) for row in claimed))
    except asyncio.CancelledError:
        for row in claimed:
            if row.id not in finished:
                row.release()  # cut short by a shutdown: due again at once for the next start
        raise
    return len(rows)


async def run(app: Starlette) -> None:
    """Deliver until cancelled: woken when a chat queues something, else every outbox_poll_seconds."""
    settings: Settings = app.state.settings
    key: str = app.state.webhook_key
    timeout = httpx.Timeout(settings.delivery_timeout_seconds, connect=min(5.0, settings.delivery_timeout_seconds))
    pruned = 0.0
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        with app.state.hub.listen(OUTBOX) as listener:
            while True:
                try:
                    await run_in_threadpool(mail.wait_alerts, settings.wait_alert_minutes, settings.agent_idle_hours,
                                             settings.wait_alert_interval_minutes)
                    while await deliver_due(settings, client, key) == BATCH:
                        pass
                    if time.monotonic() - pruned > 3600:
                        await run_in_threadpool(Outbox.prune)
                        pruned = time.monotonic()
                except Exception:
                    round_failed(log, "an outbox round")
                await listener.wait(settings.outbox_poll_seconds)
