"""Where a chat action's transaction runs, and with which others.

On SQLite, a trip to a worker thread costs more than a message's writes, and under load so does a
commit each: every commit writes the same few pages again (the messages table's last leaf, its
indexes). So the writes that reach the event loop in the same turn run there, when the write lock
is free, one after another in one transaction, each in a savepoint of its own: a write the chat
refuses (ChatError) changes nothing and leaves the others be, and none is answered before the
commit. A turn that fails in any other way (the lock taken, a failed commit) has changed nothing,
and each of its writes runs again alone in a worker thread.

On PostgreSQL every statement is a network round trip, so each write runs in a worker thread, where
the threads' round trips overlap; grouping them there measured slower (bench/profile-notes.md).
"""
from __future__ import annotations

import asyncio

from starlette.concurrency import run_in_threadpool

from database import SqliteWriteQueue, WouldWait
import models
from conversation import ChatError


async def act(work, *args):
    """Run `work(*args)`, a chat action's transaction (`db.atomic`), with the other writes of this turn."""
    database = models.db.obj
    if isinstance(database, SqliteWriteQueue):
        try:
            return await _turns(database).join(work, args)
        except WouldWait:
            pass
    return await run_in_threadpool(work, *args)


class Turn:
    """The writes waiting for the next turn of one event loop; each is (work, args, future)."""

    def __init__(self, database: SqliteWriteQueue) -> None:
        self.database = database
        self.loop = asyncio.get_running_loop()
        self.writes: list[tuple] = []
        self.loop.call_soon(self.run)

    async def join(self, work, args):
        future = self.loop.create_future()
        self.writes.append((work, args, future))
        return await future

    def run(self) -> None:
        if _current.get(self.database) is self:
            del _current[self.database]
        writes = [write for write in self.writes if not write[2].cancelled()]  # their clients have gone
        if not writes:
            return
        try:
            results = self.database.at_once(_each, writes)
        except Exception:
            results = [WouldWait()] * len(writes)
        for (_, _, future), result in zip(writes, results):
            if future.done():
                continue
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)


_current: dict = {}  # database -> its Turn still open in this process


def _turns(database: SqliteWriteQueue) -> Turn:
    turn = _current.get(database)
    if turn is None or turn.loop is not asyncio.get_running_loop():
        turn = _current[database] = Turn(database)
    return turn


def _each(writes) -> list:
    """Every write of a turn in one transaction; each write's own transaction is a savepoint of it."""
    results = []
    with models.db.atomic():
        for work, args, _ in writes:
            try:
                results.append(work(*args))
            except ChatError as error:
                results.append(error)
    return results
