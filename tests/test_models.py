"""Models and their queries."""
import threading
import time
from datetime import timedelta

import pytest

import conversation
import database
from database import WouldWait
import models
from app import create_app
from models import Agent, ChatSession, Message, check_password, hash_password
from tests.conftest import sqlite_only


def test_default_agents_are_seeded_with_hashed_passwords(app):
    agents = {a.agent_id: a for a in Agent.select()}
    assert set(agents) == {"agent_001", "agent_002", "agent_003", "agent_004"}
    assert agents["agent_002"].name == "Michael Chen" and agents["agent_002"].skill_list == ["us"]
    assert all(a.password_hash.startswith("scrypt$") and "correct-horse" not in a.password_hash for a in agents.values())


@pytest.mark.parametrize("attempt, ok", [("s3cret-pass", True), ("s3cret-pasS", False), ("", False)])
def test_password_check(attempt, ok):
    assert check_password(attempt, hash_password("s3cret-pass")) is ok


def test_message_after_skips_internal_notes_for_visitors(app):
    chat = ChatSession.create()
    first, _ = Message.add(chat, "visitor", "hello")
    Message.add(chat, "agent", "note", internal=True)
    last, _ = Message.add(chat, "agent", "hi")
    assert [m.id for m in Message.after(chat, 0)] == [first.id, last.id]
    assert [m.text for m in Message.after(chat, first.id, internal=True)] == ["note", "hi"]


def test_client_key_stores_a_message_once(app):
    chat = ChatSession.create()
    one, created = Message.add(chat, "visitor", "hello", client_key="k1")
    two, again = Message.add(chat, "visitor", "hello", client_key="k1")
    assert created and not again and one.id == two.id and chat.messages.count() == 1


def test_queue_is_requeued_first_then_longest_waiting(app):
    stamp = models.now()
    old = ChatSession.create(status="waiting", queued_at=stamp.replace(year=stamp.year - 1))
    new = ChatSession.create(status="waiting", queued_at=stamp)
    back = ChatSession.create(status="waiting", queued_at=stamp, priority=1)
    assert [c.id for c in ChatSession.waiting()] == [back.id, old.id, new.id]
    assert ChatSession.waiting_ids() == [back.id, old.id, new.id]  # the positions every waiting visitor is shown


def test_presence_is_offline_without_a_recent_connection(app):
    agent = Agent.by_agent_id("agent_001")
    assert agent.presence() == "offline"
    agent.touch()
    assert Agent.by_agent_id("agent_001").presence() == "online"


def test_only_chats_a_visitor_used_count_as_conversations(app):
    wrote, asked = ChatSession.create(), ChatSession.create(escalated_at=models.now())
    ChatSession.create()  # only viewed
    Message.add(wrote, "visitor", "hello")
    assert {c.id for c in ChatSession.engaged()} == {wrote.id, asked.id}


def test_page_views_nobody_wrote_in_are_removed_after_a_day(app):
    old = models.now() - timedelta(hours=25)
    viewed = ChatSession.create(created_at=old, last_visitor_at=old)
    used = ChatSession.create(created_at=old, last_visitor_at=old)
    Message.add(used, "visitor", "hello")
    conversation.close_idle(15, 24)
    assert ChatSession.get_or_none(ChatSession.id == viewed.id) is None
    assert ChatSession.get_by_id(used.id).status == "closed"


@sqlite_only
def test_a_write_at_once_never_waits_for_the_lock_and_leaves_the_connection_as_it_found_it(app):
    sqlite = models.db.obj
    chat = models.ChatSession.create()
    held, release = threading.Event(), threading.Event()

    def hold():
        with sqlite.write_lock:
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    with pytest.raises(WouldWait):  # had it waited for the lock, it would have got it once the holder let go
        sqlite.at_once(models.Message.add, chat, "visitor", "Waiting?")
    assert holder.is_alive() and models.Message.select().count() == 0
    release.set()
    holder.join()
    message, created = sqlite.at_once(models.Message.add, chat, "visitor", "Now")
    assert created and models.Message.get_by_id(message.id).text == "Now"
    assert sqlite.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 5000


def test_newest_ids_leave_out_the_notes_only_for_the_visitor(app):
    chat, other = models.ChatSession.create(), models.ChatSession.create()
    assert models.Message.newest_ids(chat.id) == (0, 0)
    shown, _ = models.Message.add(chat, "visitor", "Hello")
    models.Message.add(other, "visitor", "Another chat")
    notes = [models.Message.add(chat, "agent", f"Note {n}", internal=True)[0] for n in range(2)]
    assert models.Message.newest_ids(chat.id) == (notes[-1].id, shown.id)


def test_messages_read_for_a_stream_bring_their_counsellor_so_rendering_makes_no_query(app):
    from playhouse.test_utils import count_queries
    agent = models.Agent.get(models.Agent.agent_id == "agent_002")
    chat = models.ChatSession.create(status="assigned", agent=agent)
    models.Message.add(chat, "visitor", "Hello")
    models.Message.add(chat, "agent", "Hi, I'm here", agent=agent)
    with count_queries() as counted:
        names = [m.agent.name if m.agent else None for m in models.Message.after(chat, 0)]
        names += [m.agent.name for m in chat.transcript() if m.agent]
    # the app's background loops query from their own threads meanwhile: only this thread's queries are the reads'
    mine = [query for query in counted.get_queries() if query.thread == threading.get_ident()]
    assert names == [None, agent.name, agent.name] and len(mine) == 2


@sqlite_only
def test_a_checkpoint_under_steady_writes_lets_the_log_start_over(app):
    chat = models.ChatSession.create()
    warmed, checkpointed = threading.Event(), threading.Event()

    def twenty():
        with models.db.atomic():
            for _ in range(20):
                models.Message.add(chat, "visitor", "Still writing " * 20)

    def write():  # as the event loop writes: at once, leaving checkpoints to others; two batches after the checkpoint
        batches, since = 0, -1  # the first batch seen after the checkpoint may have begun before it
        while since < 2:
            try:
                models.db.obj.at_once(twenty)
            except WouldWait:
                time.sleep(0.001)
                continue
            batches += 1
            if batches >= 30:
                warmed.set()
            if checkpointed.is_set():
                since += 1
        models.db.close()

    def frames_in_log() -> int:
        return models.db.execute_sql("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert warmed.wait(60)
        before = frames_in_log()  # thirty batches or more
        database.checkpoint()  # while the writer goes on
    finally:
        checkpointed.set()
        writer.join()
    assert 0 < frames_in_log() < before / 4  # at most three batches since: the log started over instead of growing on


def test_on_postgresql_a_visitor_message_takes_the_same_chat_lock_as_every_other_action(settings, postgres_url):
    create_app(settings.__class__(**{**settings.__dict__, "database_url": postgres_url}))
    chat = models.ChatSession.create()

    def other_action() -> bool:
        with models.db.atomic():  # what conversation._serialize takes for this chat, tried without waiting
            return models.db.execute_sql("SELECT pg_try_advisory_xact_lock(%s)", (chat.id,)).fetchone()[0]

    with models.db.atomic():
        assert models.ChatSession.lock_by_token(chat.token) == chat.id
        assert models.ChatSession.lock_by_token("no such token") is None
        result = []
        thread = threading.Thread(target=lambda: (result.append(other_action()), models.db.close()))
        thread.start()
        thread.join()
    assert result == [False] and other_action() is True  # held until the transaction ended, then free


def test_on_postgresql_the_connections_of_ended_threads_are_given_back_when_the_pool_is_full(postgres_url):
    db = database.open_database(postgres_url)
    db._max_connections = 2

    def query() -> None:
        db.execute_sql("SELECT 1")  # a thread's connection is its own, kept until the thread ends

    for _ in range(5):  # more ended threads than the pool holds
        thread = threading.Thread(target=query)
        thread.start()
        thread.join()
    query()
    db.close_all()
