"""Where a chat action's transaction runs, and with which others.

Under load many messages reach the event loop together, and a commit each is most of their cost: on
SQLite it writes the same few pages again (the messages table's last leaf, its indexes), on PostgreSQL
it waits for the log to reach the disk. So the writes that reach the loop in the same turn run one
after another in one transaction, each in a savepoint of its own: a write the chat refuses (ChatError)
changes nothing and leaves the others be, and none is answered before the commit. On SQLite the turn
runs on the event loop when the write lock is free (a trip to a worker thread costs more than the
writes); on PostgreSQL, whose every statement is a network round trip, in one worker thread. A turn
that fails in any other way (SQLite's lock taken, two processes' turns deadlocked on PostgreSQL, a
failed commit) has changed nothing, and each of its writes runs again alone in a worker thread.
"""
from __future__ import annotations

import asyncio

from peewee import PostgresqlDatabase
from starlette.concurrency import run_in_threadpool

import models
from conversation import ChatError


async def act(work, *args):
    """Run `work(*args)`, a chat action's transaction (`db.atomic`), with the other writes of this turn."""
    database = models.db.obj
    if isinstance(database, (models.SqliteWriteQueue, PostgresqlDatabase)):
        try:
            return await _turns(database).join(work, args)
        except models.WouldWait:
            pass
    return await run_in_threadpool(work, *args)


class Turn:
    """The writes waiting for the next turn of one event loop; each is (work, args, future)."""

    def __init__(self, database) -> None:
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
        writes = [write for write in self.writes if not write[2].cancelled()]
        if isinstance(self.database, models.SqliteWriteQueue):
            try:
                results = self.database.at_once(_each, writes)
            except Exception:
                results = [models.WouldWait()] * len(writes)
            _settle(writes, results)
        else:
            self.loop.create_task(self._in_thread(writes))

    @staticmethod
    async def _in_thread(writes) -> None:
        try:
            results = await run_in_threadpool(_each, writes)
        except Exception:
            results = [models.WouldWait()] * len(writes)
        _settle(writes, results)


_current: dict = {}  # database -> its Turn still open in this process


def _turns(database) -> Turn:
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


def _settle(writes, results) -> None:
    for (_, _, future), result in zip(writes, results):
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
