"""Another process holds the database for two seconds: POSTs wait it out or get a 503 to retry, and no 2xx is lost."""
import dataclasses
import logging
import sqlite3
import threading
import time

import pytest
from peewee import OperationalError
from starlette.testclient import TestClient

import conversation
from database import round_failed
from models import ChatSession, Message
from tests.live import LiveBrowser
from tests.reliability.conftest import database, rows


def hold_lock(server, seconds: float, held: threading.Event, released: threading.Event | None = None) -> None:
    """Hold SQLite's lock for `seconds`, or until `released` is set when given; `held` is set meanwhile."""
    con = sqlite3.connect(database(server), isolation_level=None)
    con.execute("BEGIN EXCLUSIVE")
    held.set()
    if released:
        released.wait(seconds)
    else:
        time.sleep(seconds)
    held.clear()  # before the lock goes: nothing answered while it is set was stored after the lock went
    con.execute("ROLLBACK")
    con.close()


def test_sqlite_runs_in_wal_mode_so_readers_never_wait_for_a_writer(server):
    assert rows(server, "PRAGMA journal_mode") == [("wal",)]


def test_posts_during_a_two_second_lock_succeed_or_get_503_and_no_2xx_is_lost(server):
    visitors = [LiveBrowser(server.url) for _ in range(4)]
    held = threading.Event()
    locker = threading.Thread(target=hold_lock, args=(server, 2.0, held))
    locker.start()
    assert held.wait(5)
    results = []

    def post(n: int, visitor: LiveBrowser) -> None:
        for i in range(3):
            response = visitor.say(f"Question {n}-{i}", key=f"k{n}-{i}")
            results.append((f"k{n}-{i}", response.status_code, response.headers.get("retry-after"), held.is_set()))

    posters = [threading.Thread(target=post, args=(n, v)) for n, v in enumerate(visitors)]
    for thread in posters:
        thread.start()
    for thread in posters + [locker]:
        thread.join(20)
    assert {status for _, status, _, _ in results} <= {201, 503} and len(results) == 12
    assert all(retry for _, status, retry, _ in results if status == 503)
    # the lock was really in the way: no first question was stored while it was held
    assert not [key for key, status, _, locked in results if key.endswith("-0") and status == 201 and locked]
    stored = {key for (key,) in rows(server, "SELECT client_key FROM message WHERE sender = 'visitor'")}
    assert {key for key, status, _, _ in results if status == 201} == stored
    assert visitors[0].say("After the lock").status_code == 201


def test_a_database_error_mid_transaction_is_a_503_and_leaves_nothing_half_written(visitor, monkeypatch):
    real_add = Message.add

    def add_then_fail(chat, sender, text, client_key=None, **fields):
        result = real_add(chat, sender, text, client_key, **fields)
        if sender == "bot":
            raise OperationalError("disk I/O error")  # after the visitor's message and the bot's reply
        return result

    monkeypatch.setattr(Message, "add", add_then_fail)
    response = visitor.say("What does a master's in Germany cost?")
    assert response.status_code == 503 and response.headers["retry-after"] and "nothing was stored" in response.text
    assert Message.select().count() == 0 and ChatSession.select().count() == 0  # the chat it began, too


@pytest.mark.parametrize("action", ["visitor_message", "request_human"])
def test_a_locked_database_is_a_readable_503_for_htmx_too(visitor, monkeypatch, action):
    def locked(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(conversation, action, locked)
    path = "/chat/messages" if action == "visitor_message" else "/chat/handoff"
    response = visitor.post(path, {"text": "Hello"}, headers={"HX-Request": "true"})
    assert response.status_code == 503 and response.headers["hx-retarget"] == "#alert"
    assert "try again in a few seconds" in response.text


def test_healthz_reports_an_unreachable_database(app, monkeypatch):
    import models

    def broken(*args, **kwargs):
        raise OperationalError("unable to open database file")

    app.state.settings = dataclasses.replace(app.state.settings, api_token="ops-token")
    with TestClient(app) as client:
        monkeypatch.setattr(models.db.obj, "execute_sql", broken)
        response = client.get("/healthz", headers={"Authorization": "Bearer ops-token"})
    assert response.status_code == 503 and response.json()["database"] is False and response.headers["retry-after"]


def test_while_another_process_holds_the_lock_the_server_keeps_answering(server):
    """A message's transaction runs on the event loop only when SQLite's lock is free at once: else it waits in
    a worker thread, and everything else carries on meanwhile."""
    visitor = LiveBrowser(server.url)
    held, released = threading.Event(), threading.Event()
    locker = threading.Thread(target=hold_lock, args=(server, 60, held, released))
    locker.start()
    assert held.wait(5)
    posted = []
    poster = threading.Thread(target=lambda: posted.append(visitor.say("Held up?", key="held")))
    poster.start()
    time.sleep(0.3)  # for the POST to reach the server
    try:  # answered while the lock is held and the POST still waits for it, in a thread
        assert visitor.http.get("/healthz").status_code == 200 and poster.is_alive()
    finally:
        released.set()
    for thread in (poster, locker):
        thread.join(20)
    assert posted[0].status_code in (201, 503)
    stored = rows(server, "SELECT count(*) FROM message WHERE client_key = 'held'")[0][0]
    assert stored == (1 if posted[0].status_code == 201 else 0)


def test_a_background_round_says_an_outage_in_one_line_and_a_defect_with_its_traceback(caplog):
    log = logging.getLogger("handoff.test")
    for error in (OperationalError("connection failed: server closed\nDETAIL: more"), KeyError("chat")):
        try:
            raise error
        except Exception:
            round_failed(log, "catching up")
    outage, defect = caplog.records
    assert outage.levelno == logging.WARNING and outage.exc_info is None
    assert outage.getMessage() == ("catching up failed (OperationalError: connection failed: server closed); "
                                   "trying again next round")
    assert defect.levelno == logging.ERROR and defect.exc_info[0] is KeyError
