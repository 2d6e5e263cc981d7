"""The hub: who is woken by what, and which news the catch-up must still deliver."""
import asyncio
import contextlib
import os
import time
import uuid
from types import SimpleNamespace

import pytest

import conversation
import models
from conversation import Posted
from realtime import QUEUE, Hub, Turns
from routes.common import handed_over


def test_catch_up_wakes_only_chats_no_wake_up_reached_since_their_news():
    hub = Hub()
    hub.wake_here("session:1")
    news = {"session:1": time.time() - 1, "session:2": time.time() - 1, "session:3": time.time() + 1}
    assert hub.missed(news, keep=60) == ["session:2"]


def test_news_whose_wake_up_may_still_be_on_its_way_waits_for_a_later_look():
    hub = Hub()
    news = {"session:1": time.time() - 0.1, "session:2": time.time() - 5}
    assert hub.missed(news, keep=60, settle=2) == ["session:2"]
    hub.wake_here("session:2")
    assert hub.missed(news, keep=60) == ["session:1"]


def test_old_wake_ups_are_forgotten():
    hub = Hub()
    hub.wake_here("session:1")
    assert hub.missed({"session:1": 1.0}, keep=-1) == ["session:1"] and hub.heard == {}


def test_a_stream_follows_the_queue_only_while_it_asks_to():
    async def run():
        hub = Hub()
        with hub.listen("session:1") as listener:
            hub.follow(listener, QUEUE)
            hub.notify(QUEUE)
            woken = await listener.wait(0.1)
            hub.follow(listener, QUEUE, False)
            hub.notify(QUEUE)
            return woken, listener.woken_by, await listener.wait(0.05)

    assert asyncio.run(run()) == (True, {QUEUE}, False)


def _handed(hub_posts, sent, visible):
    """What a listener holding `sent` takes from these wake-ups (topic, Posted), or None to read the database."""
    async def run():
        hub = Hub()
        with hub.listen("session:1", "session:2") as listener:
            for topic, posted in hub_posts:
                hub.notify(topic, posted=posted)
            await listener.wait(0.1)
            return await handed_over(listener, sent, visible)
    return asyncio.run(run())


def _message(id, chat=1, internal=False):
    return SimpleNamespace(id=id, session_id=chat, internal=internal)


def test_handed_over_messages_are_sent_when_they_follow_on():
    sent = {1: 5}
    got = _handed([("session:1", Posted(1, 5, 5, [_message(6), _message(7, internal=True)]))], sent, visible=False)
    assert [m.id for m in got] == [6, 7] and sent == {1: 7}


def test_the_visitor_never_gets_a_note_and_a_note_is_no_gap_for_them():
    sent = {1: 5}
    notes = Posted(1, 5, 5, [_message(6, internal=True)])
    reply = Posted(1, 6, 5, [_message(7)])
    got = _handed([("session:1", notes), ("session:1", reply)], sent, visible=True)
    assert [m.id for m in got] == [7] and sent == {1: 7}


def test_a_gap_or_other_news_means_reading_the_database():
    sent = {1: 5}
    missed_one = Posted(1, 6, 6, [_message(7)])  # message 6 came from elsewhere, with no rows handed over
    assert _handed([("session:1", missed_one)], sent, visible=True) is None and sent == {1: 5}
    fine = Posted(1, 5, 5, [_message(6)])
    assert _handed([("session:1", fine), ("session:2", None)], sent, visible=True) is None
    assert _handed([("session:2", Posted(2, 0, 0, [_message(1, chat=2)]))], sent, visible=True) is None
    assert sent == {1: 5}


def test_messages_already_sent_are_not_sent_again():
    sent = {1: 7}
    assert _handed([("session:1", Posted(1, 5, 5, [_message(6), _message(7)]))], sent, visible=True) == []


def test_another_process_gets_the_ids_and_reads_just_those_rows(app):
    agent = models.Agent.get(models.Agent.agent_id == "agent_002")
    chat = models.ChatSession.create(status="assigned", agent=agent, assigned_at=models.now())
    other = models.ChatSession.create(status="assigned", agent=agent, assigned_at=models.now())
    models.Message.add(chat, "agent", "A note", agent=agent, internal=True)
    posted = conversation.visitor_message(chat.token, "Can I apply in January?", "key-1").posted
    models.Message.add(other, "visitor", "Not this chat's")
    remote = Posted.from_brief(posted.brief(limit=0))  # rows too long to carry: the ids alone
    assert remote.messages is None and remote.since(posted.after, visible=False) is None  # not read yet
    Posted.load([remote])
    assert [m.text for m in remote.since(posted.after_visible, visible=True)] == ["Can I apply in January?"]
    assert remote.since(posted.after - 1, visible=False) is None  # a stream behind the note reads everything
    assert Posted.from_brief("1,2,x") is None


def redis_hubs(**sender_options) -> tuple[Hub, Hub]:
    """A sender and a receiver on the test Redis, under a prefix of their own (not started yet)."""
    url = os.environ.get("HANDOFF_TEST_REDIS_URL")
    if not url:
        pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    prefix = f"handoff-test-{uuid.uuid4().hex[:8]}:"
    return Hub(url, prefix, **sender_options), Hub(url, prefix, posted_from=Posted.from_brief)


@contextlib.asynccontextmanager
async def running(*hubs: Hub):
    for hub in hubs:
        await hub.start()
    try:
        yield
    finally:
        for hub in hubs:
            await hub.stop()


def test_a_wake_up_through_redis_carries_the_posted_ids():
    sender, receiver = redis_hubs()

    async def run():
        async with running(sender, receiver):
            with receiver.listen("session:7") as listener:
                for _ in range(300):  # until the subscription is in place (its start wakes every stream once)
                    sender.notify("session:7", posted=Posted(7, 40, 38, [_message(41, chat=7), _message(42, chat=7)]))
                    if await listener.wait(0.1) and listener.arrived:
                        return listener.arrived, listener.woken_by

    arrived, woken_by = asyncio.run(run())
    assert woken_by == set() and [(p.chat_id, p.after, p.after_visible, p.upto, p.messages) for p in arrived][:1] \
        == [(7, 40, 38, 42, None)]


def test_a_wake_up_carries_the_rows_themselves_when_they_fit(app):
    agent = models.Agent.get(models.Agent.agent_id == "agent_002")
    chat = models.ChatSession.create(status="assigned", agent=agent, assigned_at=models.now())
    said = conversation.visitor_message(chat.token, "Can I work while I study?\nAnd how many hours?").posted
    answered = conversation.agent_message(chat.id, agent, "Twenty hours a week in term time.").posted
    for posted in (said, answered):
        remote = Posted.from_brief(posted.brief())
        assert [(m.id, m.sender, m.text, m.created_at, m.internal) for m in remote.since(posted.after, False)] \
            == [(m.id, m.sender, m.text, m.created_at, m.internal) for m in posted.messages]
    assert remote.messages[0].agent.name == agent.name
    long = conversation.visitor_message(chat.token, "x" * 8000).posted
    assert Posted.from_brief(long.brief()).messages is None  # over the limit: the ids, then a read


def test_the_rows_another_process_wrote_are_read_once_for_every_stream_here(app, monkeypatch):
    agent = models.Agent.get(models.Agent.agent_id == "agent_002")
    chat = models.ChatSession.create(status="assigned", agent=agent, assigned_at=models.now())
    posted = conversation.visitor_message(chat.token, "Is there a deadline?", "key-1").posted
    reads = []
    load = Posted.load
    monkeypatch.setattr(Posted, "load", staticmethod(lambda posts: (reads.append(len(posts)), load(posts))))

    async def run():
        hub = Hub()
        with hub.listen(f"session:{chat.id}") as visitor, hub.listen(f"session:{chat.id}") as counsellor:
            hub.notify(f"session:{chat.id}", posted=Posted.from_brief(posted.brief(limit=0)))
            await visitor.wait(0.1)
            await counsellor.wait(0.1)
            return await asyncio.gather(handed_over(visitor, {chat.id: posted.after_visible}, True),
                                        handed_over(counsellor, {chat.id: posted.after}, False))

    shown, seen = asyncio.run(run())
    assert [m.text for m in shown] == [m.text for m in seen] == ["Is there a deadline?"] and reads == [1]


def test_the_wake_ups_of_one_turn_go_as_one_publish_and_each_arrives():
    sender, receiver = redis_hubs()
    published = []
    publish = sender._publish
    sender._publish = lambda payload: (published.append(payload), publish(payload))[1]

    async def run():
        async with running(sender, receiver):
            with receiver.listen("session:1") as one, receiver.listen("session:2") as two:
                for _ in range(300):  # until the subscription is in place
                    published.clear()
                    sender.notify("session:1")
                    sender.notify("session:2", "agent:3")
                    if await one.wait(0.1) and one.woken_by:
                        await two.wait(1)
                        return published, one.woken_by, two.woken_by

    published, woke_one, woke_two = asyncio.run(run())
    assert len(published) == 1 and woke_one == {"session:1"} and woke_two == {"session:2"}


def test_more_publishes_at_once_than_connections_wait_their_turn_and_each_arrives():
    sender, receiver = redis_hubs(connections=2)

    async def run():
        async with running(sender, receiver):
            with receiver.listen("session:0") as first:
                for _ in range(300):  # until the subscription is in place
                    sender.notify("session:0")
                    if await first.wait(0.1) and first.woken_by:
                        break
                topics = [f"session:{n}" for n in range(1, 41)]
                with receiver.listen(*topics) as listener:
                    for topic in topics:  # a publish each turn, none awaited: 40 at once on 2 connections
                        sender.notify(topic)
                        await asyncio.sleep(0)
                    heard = set()
                    while len(heard) < 40 and await listener.wait(5):
                        heard |= listener.woken_by
                    return heard, sender.redis_ok

    heard, ok = asyncio.run(run())
    assert ok and len(heard) == 40


def test_turns_let_at_most_a_few_waiters_on_in_each_turn_of_the_loop_in_order():
    async def main():
        turns, gone, seen = Turns(per_turn=3), [], []

        async def waiter(n: int) -> None:
            await turns.turn()
            gone.append(n)

        tasks = [asyncio.create_task(waiter(n)) for n in range(8)]
        while len(gone) < 8:
            await asyncio.sleep(0)  # one turn of the loop
            seen.append(len(gone))
        await asyncio.gather(*tasks)
        return gone, seen

    gone, seen = asyncio.run(main())
    assert gone == list(range(8))
    assert all(later - earlier <= 3 for earlier, later in zip([0] + seen, seen)), seen
