"""Where a chat action's transaction runs, and with which others.

On SQLite, a trip to a worker thread costs more than a message's writes, and under load so does a
commit each: every commit writes the same few pages again (the messages table's last leaf, its
indexes). So the writes that reach the event loop in the same turn run there, when the write lock
is free, one after another in one transaction, each in a savepoint of its own: a write the chat
refuses (ChatError) changes nothing and leaves the others be, and none is answered before the
commit. A turn that fails in any other way (the lock taken, a failed commit) has changed nothing,
and each of its writes runs again alone in a worker thread.

On PostgreSQL every statement is a network round trip, and each costs the worker and the server
about as much as a message's whole transaction on SQLite. So the messages of a turn (visitors' and
counsellors') go to the server as one statement, a call of `handoff_turn` (writes.sql) on an async
connection of the event loop's own: one round trip and one commit for the turn, no worker thread. The
function locks the chats in id order, and a chat's refusal writes nothing of that message; a turn that
fails in any other way (a lost connection, a deadlock, an error in one message) has committed nothing,
and each of its messages runs again alone in a worker thread, as every other chat action does.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from pathlib import Path

from peewee import PostgresqlDatabase
from starlette.concurrency import run_in_threadpool

from database import SqliteWriteQueue, WouldWait
from escalation.language import detect_sure
import models
import conversation
from conversation import ChatError

log = logging.getLogger("handoff.writes")
FUNCTION = (Path(__file__).resolve().parent / "writes.sql").read_text()


def decides_later(token: str) -> bool:
    """PostgreSQL: a visitor's message may go without the bot's decision, its chat being with a counsellor when
    last seen; if the bot has it after all, the statement refuses the message as Stale, to be decided then."""
    return _statuses.get(token, "bot") != "bot" and isinstance(models.db.obj, PostgresqlDatabase)


_statuses: OrderedDict = OrderedDict()  # a visitor's chat token -> its status after their last message here
KEEP_STATUSES = 20_000
QUICK_CHARS = 280  # reading a message's language costs well under a millisecond up to here, at worst about 10 ms


def remember(token: str, status: str) -> None:
    _statuses[token] = status
    _statuses.move_to_end(token)
    if len(_statuses) > KEEP_STATUSES:
        _statuses.popitem(last=False)


def undecided(token: str, text: str) -> conversation.Decided | None:
    """SQLite: a short message to a chat that was with a counsellor (or the queue) when last seen needs no
    decision, only its language, read here rather than in a thread (the trip there cost more than the reading).
    The detector's models are loaded by then: the app loads them at start-up.
    If the bot has the chat after all, the write refuses the message as Stale, and it is decided off the loop."""
    if not isinstance(models.db.obj, SqliteWriteQueue) or _statuses.get(token, "bot") == "bot" \
            or len(text) > QUICK_CHARS:
        return None
    return conversation.Decided(0, "", -1, spoken=detect_sure(text))


async def act(work, *args):
    """Run `work(*args)`, a chat action's transaction (`db.atomic`), with the other writes of this turn."""
    database = models.db.obj
    if isinstance(database, SqliteWriteQueue):
        try:
            return await _turns(database).join(work, args)
        except WouldWait:
            pass
    elif isinstance(database, PostgresqlDatabase) and work in _POSTS:
        post = _POSTS[work](*args)
        if post is not None:
            try:
                return await _statements(database).join(post)
            except Retry:
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


# PostgreSQL: the chat actions a turn's statement does, and how each makes its item.
_POSTS = {conversation.visitor_message: conversation.Post.visitor,
          conversation.agent_message: conversation.Post.counsellor}


class Retry(Exception):
    """The turn's statement failed and committed nothing: run this write alone."""


class Statements:
    """PostgreSQL: the posts waiting for the next turn of one event loop, and the loop's own connections.

    While a turn's statement is under way the next turn's posts gather; a few connections let turns
    overlap when one waits on a chat's lock.
    """

    CONNECTIONS = 2

    def __init__(self, database: PostgresqlDatabase) -> None:
        self.database = database
        self.loop = asyncio.get_running_loop()
        self.posts: list[tuple[conversation.Post, asyncio.Future]] = []
        self.idle: list = []
        self.opened = 0
        self.free = asyncio.Semaphore(self.CONNECTIONS)

    async def join(self, post: conversation.Post):
        future = self.loop.create_future()
        if not self.posts:
            self.loop.call_soon(self.start)
        self.posts.append((post, future))
        return await future

    def start(self) -> None:
        posts, self.posts = self.posts, []
        self.loop.create_task(self.run(posts))

    async def run(self, posts: list) -> None:
        async with self.free:
            posts = [(post, future) for post, future in posts if not future.cancelled()]
            if not posts:
                return
            try:
                rows = await self.execute([post.fields for post, _ in posts])
            except Exception as error:  # nothing committed: each runs again alone
                log.warning("a turn of %d messages failed, each runs again alone: %s", len(posts), error)
                for _, future in posts:
                    if not future.done():
                        future.set_exception(Retry())
                return
        for row in rows:
            post, future = posts[row["n"]]
            if future.done():
                continue
            token = post.fields.get("token")
            if token and "status" in row:
                remember(token, row["status"])
            try:
                future.set_result(post.finish(row))
            except ChatError as error:
                future.set_exception(error)

    async def execute(self, items: list[dict]) -> list[dict]:
        connection = self.idle.pop() if self.idle else await self.connect()
        try:
            cursor = await connection.execute("SELECT handoff_turn(%s::jsonb)", (json.dumps(items),), prepare=True)
            rows = [row[0] for row in await cursor.fetchall()]
        except BaseException:
            if connection.closed or connection.info.transaction_status != 0:  # not idle: start afresh
                await connection.close()
            else:
                self.idle.append(connection)
            raise
        self.idle.append(connection)
        return rows

    async def connect(self):
        import psycopg

        return await psycopg.AsyncConnection.connect(dbname=self.database.database, autocommit=True,
                                                     **self.database.connect_params)


_statements_by_loop: dict = {}  # (database, loop) -> Statements


def _statements(database: PostgresqlDatabase) -> Statements:
    loop = asyncio.get_running_loop()
    found = _statements_by_loop.get((database, loop))
    if found is None:
        found = _statements_by_loop[(database, loop)] = Statements(database)
    return found


def install(database) -> None:
    """PostgreSQL: (re)create the turn's function, as this version of the code calls it."""
    if isinstance(database, PostgresqlDatabase):
        database.execute_sql(FUNCTION)
