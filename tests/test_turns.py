"""PostgreSQL: the messages of one event-loop turn go to the server as one statement (writes.sql).

Needs HANDOFF_TEST_DATABASE_URL (skipped without it); each test gets a database of its own.
"""
import asyncio
import threading

import pytest

import conversation
import models
import writes
from app import create_app
from conversation import ChatError
from writes import act


@pytest.fixture
def pg(settings, postgres_url):
    app = create_app(settings.__class__(**{**settings.__dict__, "database_url": postgres_url}))
    statements = []
    execute = writes.Statements.execute

    async def counting(self, items):
        statements.append(len(items))
        return await execute(self, items)

    writes.Statements.execute = counting
    yield app, statements
    writes.Statements.execute = execute


def assigned(agent_id="agent_001", status="assigned"):
    agent = models.Agent.by_agent_id(agent_id)
    return models.ChatSession.create(status=status, agent=agent if status == "assigned" else None), agent


def texts(chat):
    return [m.text for m in models.Message.select().where(models.Message.session == chat).order_by(models.Message.id)]


def visitor(chat, text, key=None):
    decided = conversation.decide(chat.token, text)
    return act(conversation.visitor_message, chat.token, text, key, decided, None)


def test_a_turn_is_one_statement_and_a_closed_chat_refuses_alone(pg):
    _, statements = pg
    (one, agent), (two, _), (three, _) = assigned(), assigned(), assigned()
    closed, _ = assigned(status="closed")

    async def turn():
        writes = [visitor(three, "Third chat"), visitor(closed, "Too late"), visitor(one, "First chat"),
                  act(conversation.agent_message, two.id, agent, "From the counsellor", None, False),
                  act(conversation.agent_message, one.id, agent, "A note", None, True)]
        return await asyncio.gather(*writes, return_exceptions=True)

    results = asyncio.run(turn())
    assert statements == [5]
    assert isinstance(results[1], ChatError) and results[1].status == 409
    assert texts(one) == ["First chat", "A note"] and texts(two) == ["From the counsellor"]
    assert texts(three) == ["Third chat"] and texts(closed) == []
    note = results[4]
    assert note.message.internal and note.posted.after_visible == results[2].message.id
    assert models.AgentSession.get(models.AgentSession.action == "note").note == "A note"
    assert results[0].posted.messages[0].id == results[0].message.id and results[0].created
    assert models.ChatSession.get_by_id(two.id).first_response_at is not None


def test_a_counsellor_may_not_write_in_another_counsellors_chat_and_a_repeated_key_stores_once(pg):
    mine, agent = assigned()
    theirs, _ = assigned("agent_002")

    async def turn():
        return await asyncio.gather(
            act(conversation.agent_message, theirs.id, agent, "Not mine", None, False),
            act(conversation.agent_message, 10 ** 9, agent, "No chat", None, False),
            visitor(mine, "Once", "key-1"), visitor(mine, "Once", "key-1"), return_exceptions=True)

    results = asyncio.run(turn())
    assert [getattr(r, "status", None) for r in results[:2]] == [403, 404]
    assert texts(theirs) == [] and texts(mine) == ["Once"]
    assert [r.created for r in results[2:]] == [True, False]
    assert results[2].message.id == results[3].message.id


def test_an_admin_who_joined_writes_in_the_turn_and_both_counsellors_are_woken(pg):
    chat, michael = assigned("agent_002")
    sarah = models.Agent.by_agent_id("agent_001")
    conversation.join(chat.id, sarah)

    async def turn():
        return await asyncio.gather(act(conversation.agent_message, chat.id, sarah, "Sarah beside Michael", None, False),
                                    act(conversation.agent_message, chat.id, michael, "Michael too", None, False))

    results = asyncio.run(turn())
    assert texts(chat)[-2:] == ["Sarah beside Michael", "Michael too"]
    assert {f"agent:{sarah.id}", f"agent:{michael.id}"} <= results[0].topics
    conversation.leave(chat.id, sarah)
    with pytest.raises(ChatError):
        asyncio.run(act(conversation.agent_message, chat.id, sarah, "Gone", None, False))


def test_the_bot_answers_inside_the_turn_and_a_decision_on_a_chat_that_moved_on_is_stale(pg):
    chat = models.ChatSession.create()

    async def turn():
        first = conversation.decide(chat.token, "What are tuition fees in Germany?")
        return await act(conversation.visitor_message, chat.token, "What are tuition fees in Germany?", None,
                         first, None), first

    outcome, first = asyncio.run(turn())
    assert [m.sender for m in outcome.posted.messages] == ["visitor", "bot"]
    assert texts(chat)[0] == "What are tuition fees in Germany?" and len(texts(chat)) == 2
    with pytest.raises(conversation.Stale):  # the same decision again: the chat has two more messages since
        asyncio.run(act(conversation.visitor_message, chat.token, "Again", None, first, None))
    assert len(texts(chat)) == 2


def test_a_turn_that_fails_otherwise_runs_each_message_again_alone(pg, monkeypatch):
    _, statements = pg
    (one, _), (two, _) = assigned(), assigned()
    failed = []

    async def broken(self, items):
        failed.append(len(items))
        raise OSError("the connection was lost")

    monkeypatch.setattr(writes.Statements, "execute", broken)

    async def turn():
        return await asyncio.gather(visitor(one, "Alone one"), visitor(two, "Alone two"))

    results = asyncio.run(turn())
    assert failed == [2] and all(r.created for r in results)
    assert texts(one) == ["Alone one"] and texts(two) == ["Alone two"]


def test_turns_locking_the_same_chats_from_several_loops_never_deadlock_nor_lose_a_message(pg, caplog):
    chats = [assigned()[0] for _ in range(6)]
    errors = []

    def loop(order, name):
        async def turns():
            for n in range(15):
                results = await asyncio.gather(*(visitor(chat, f"{name}-{n}-{chat.id}") for chat in order),
                                               return_exceptions=True)
                errors.extend(r for r in results if isinstance(r, BaseException))
        asyncio.run(turns())

    threads = [threading.Thread(target=loop, args=(order, name)) for name, order in
               (("up", chats), ("down", chats[::-1]), ("odd", chats[1::2] + chats[::2]))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and not [r for r in caplog.records if "failed" in r.getMessage()]  # no turn ran again
    assert sum(pg[1]) == 270
    for chat in chats:
        stored = texts(chat)
        assert len(stored) == len(set(stored)) == 45


def test_a_chat_last_seen_with_a_counsellor_and_back_with_the_bot_gets_the_bots_answer(pg):
    from starlette.testclient import TestClient
    from tests.conftest import Browser
    app, _ = pg
    with TestClient(app) as client:
        browser = Browser(client)
        browser.get("/")
        assert browser.say("What are the tuition fees in Germany?").status_code == 201
        chat = models.ChatSession.get()
        models.ChatSession.update(status="assigned", agent=models.Agent.by_agent_id("agent_001")).execute()
        assert browser.say("Thanks, I will wait").status_code == 201  # decided first: last seen with the bot
        assert writes.decides_later(chat.token)
        models.ChatSession.update(status="bot", agent=None).execute()
        assert browser.say("What are the tuition fees in Germany?").status_code == 201
    senders = [m.sender for m in models.Message.select().where(models.Message.session == chat)
               .order_by(models.Message.id)]
    assert senders[:5] == ["visitor", "bot", "visitor", "visitor", "bot"]  # the bot answered, or handed over
