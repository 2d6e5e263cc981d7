"""SQLite writes of one turn of the event loop: one transaction and one commit, each write in its own savepoint."""
import asyncio
import threading

import models
from conversation import ChatError
from writes import act

from tests.conftest import sqlite_only

pytestmark = sqlite_only


def say(chat, text):
    with models.db.atomic():
        return models.Message.add(chat, "visitor", text)[0].text


def refused(chat):
    with models.db.atomic():
        models.Message.add(chat, "visitor", "Half written")
        raise ChatError("No.", 409)


def texts():
    return [m.text for m in models.Message.select().order_by(models.Message.id)]


def count_commits(monkeypatch) -> list[int]:
    """The messages stored at each commit."""
    commits, database = [], models.db.obj
    commit = database.commit

    def counting():
        commits.append(models.Message.select().count())
        commit()

    monkeypatch.setattr(database, "commit", counting)
    return commits


def test_a_turn_shares_one_commit_and_a_refused_write_changes_nothing(app, monkeypatch):
    chat = models.ChatSession.create()
    commits = count_commits(monkeypatch)

    async def turn():
        return await asyncio.gather(act(say, chat, "Hello 0"), act(refused, chat), act(say, chat, "Hello 1"),
                                    act(say, chat, "Hello 2"), return_exceptions=True)

    results = asyncio.run(turn())
    assert commits == [3]  # one commit, after all three were written
    assert isinstance(results[1], ChatError) and results[:1] + results[2:] == ["Hello 0", "Hello 1", "Hello 2"]
    assert texts() == ["Hello 0", "Hello 1", "Hello 2"]


def test_a_turn_that_fails_otherwise_changes_nothing_and_each_write_runs_again_alone(app, monkeypatch):
    chat = models.ChatSession.create()
    failures = []

    def flaky(chat):
        with models.db.atomic():
            models.Message.add(chat, "visitor", "Flaky")
            if not failures:
                failures.append(1)
                raise RuntimeError("the first time only")
        return "Flaky"

    commits = count_commits(monkeypatch)

    async def turn():
        return await asyncio.gather(act(say, chat, "Before"), act(flaky, chat), act(say, chat, "After"))

    assert asyncio.run(turn()) == ["Before", "Flaky", "After"]
    assert len(commits) == 3 and sorted(texts()) == ["After", "Before", "Flaky"]


def test_while_another_thread_holds_the_lock_the_writes_wait_in_threads_and_the_loop_runs_on(app):
    chat = models.ChatSession.create()
    held, release = threading.Event(), threading.Event()

    def hold():
        with models.db.obj.write_lock:
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)

    async def turn():
        writes = [asyncio.ensure_future(act(say, chat, text)) for text in ("One", "Two")]
        for _ in range(10):  # the loop turns ten times while the lock is held...
            await asyncio.sleep(0)
        waiting = not any(write.done() for write in writes)  # ...and the writes still wait for it
        release.set()
        return await asyncio.gather(*writes), waiting

    try:
        results, waiting = asyncio.run(turn())
    finally:
        release.set()
        holder.join()
    assert sorted(results) == ["One", "Two"] and sorted(texts()) == ["One", "Two"] and waiting
