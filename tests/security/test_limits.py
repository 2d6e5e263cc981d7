"""Flooding: visitors are rate-limited per chat and per address, agents are not, and stream counts are capped,
taken at once, and shared by workers."""
import asyncio
import os
import threading
import time
import uuid

import pytest
from starlette.testclient import TestClient

from limits import Counter, Slots
from models import ChatSession, Message
from tests.conftest import Browser, Server
from tests.live import LiveBrowser
from tests.security.conftest import serve


@pytest.fixture
def visitor_at(app):
    """A visitor's browser at a given address; each one's client is closed after the test."""
    clients = []

    def at(address: str) -> Browser:
        clients.append(TestClient(app, client=(address, 50000)).__enter__())
        browser = Browser(clients[-1])
        browser.get("/")
        return browser
    yield at
    for client in clients:
        client.__exit__(None, None, None)


def test_the_eleventh_message_in_ten_seconds_gets_a_readable_429(visitor):
    assert [visitor.say(f"question {n}").status_code for n in range(10)] == [201] * 10
    refused = visitor.say("one more")
    assert refused.status_code == 429 and "wait a few seconds" in refused.text and refused.headers["retry-after"]
    assert "one more" in refused.text  # the text stays in the box to send again
    assert not Message.select().where(Message.text == "one more").exists()


def test_one_visitors_flood_does_not_limit_another(app, visitor, visitor_at):
    for n in range(11):
        visitor.say(f"flood {n}")
    assert visitor_at("testclient").say("Hello").status_code == 201


@pytest.fixture
def settings(settings):
    # Windows no test straddles: the limits count in fixed windows, and ten sends on a loaded machine
    # once spanned the end of a ten-second one, so the eleventh opened a window of its own.
    return settings.__class__(**{**settings.__dict__, "visitor_rate_seconds": 10**6, "address_rate": 15,
                                 "address_rate_seconds": 10**6})


def test_an_address_has_a_higher_shared_ceiling(app, visitor_at):
    campus = [visitor_at("192.0.2.10") for _ in range(3)]
    codes = [campus[n % 3].say(f"m{n}").status_code for n in range(16)]
    assert codes[:15] == [201] * 15 and codes[15] == 429
    assert "from your network" in campus[0].say("again").text
    assert visitor_at("192.0.2.11").say("Hello").status_code == 201


def test_agents_are_not_held_to_the_visitor_rule(assigned_chat, agent):
    codes = {agent.post(f"/agent/sessions/{assigned_chat.id}/messages", {"text": f"step {n}"}).status_code
             for n in range(30)}
    assert codes == {201}


def test_streams_per_visitor_are_capped(tmp_path):
    server = Server(tmp_path, HANDOFF_MAX_STREAMS_PER_VISITOR="3").start()
    try:
        visitor = LiveBrowser(server.url)
        visitor.say("Hello")
        streams = [visitor.stream("/chat/events") for _ in range(3)]
        assert all(s.take(1, with_id=False, timeout=5) for s in streams)
        assert visitor.http.get("/chat/events", timeout=5).status_code == 429
        other = LiveBrowser(server.url)
        other.say("Hello")
        assert other.stream("/chat/events").status == 200
        streams[0].close()
        deadline = time.monotonic() + 5  # until the server has noticed the closed connection
        while visitor.stream("/chat/events").status == 429:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        server.stop()


def redis_client():
    url = os.environ.get("HANDOFF_TEST_REDIS_URL")
    if not url:
        pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    import redis.asyncio
    return redis.asyncio.from_url(url)


@pytest.mark.parametrize("shared", [False, True], ids=["in-process", "redis"])
def test_each_limit_counts_every_hit_and_the_first_one_passed_is_named(shared):
    window = 10**9  # seconds: the test never straddles two windows

    async def run():
        client = redis_client() if shared else None
        counter = Counter(client, prefix=f"test-{uuid.uuid4().hex[:8]}:")
        limits = [("chat:a", 2, window), ("addr:x", 3, window)]
        got = [await counter.first_over(limits) for _ in range(5)]
        elsewhere = await counter.first_over([("chat:b", 2, window), ("addr:x", 3, window)])
        ttl = None
        if client is not None:
            ttl = await client.ttl(f"{counter.prefix}chat:a:{int(time.time() // window)}")
            await client.delete(*await client.keys(f"{counter.prefix}*"))
            await client.aclose()
        return got, elsewhere, ttl

    got, elsewhere, ttl = asyncio.run(run())
    assert got == [None, None, 0, 0, 0]  # the chat's third hit is past its 2; the address has counted all five
    assert elsewhere == 1  # another chat from the same address: the address's sixth hit, past its 3
    assert ttl is None or 0 < ttl <= window + 1  # windows expire


def test_new_chats_handoffs_and_typing_are_limited_per_address(app, visitor_at):
    app.state.settings = app.state.settings.__class__(**{**app.state.settings.__dict__, "chat_rate": 3,
                                                         "handoff_rate": 2, "typing_rate": 4,
                                                         "chat_rate_seconds": 10**6, "handoff_rate_seconds": 10**6,
                                                         "typing_rate_seconds": 10**6})
    first = [visitor_at("192.0.2.20") for _ in range(4)]
    assert [b.say("Hello").status_code for b in first] == [201, 201, 201, 429]
    assert "Too many new chats from your network" in first[3].say("Hello").text
    assert [b.post("/chat/handoff").status_code for b in first[:3]] == [204, 204, 429]
    assert "requests for a counsellor" in first[2].post("/chat/handoff").text
    assert [first[0].post("/chat/typing").status_code for _ in range(5)] == [204] * 4 + [429]
    assert ChatSession.select().count() == 3 and ChatSession.select().where(ChatSession.status == "waiting").count() == 2
    assert visitor_at("192.0.2.21").say("Hello").status_code == 201


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path):
    """A server with small stream caps: one process on SQLite, or two workers on PostgreSQL + Redis."""
    caps = {"HANDOFF_MAX_STREAMS_PER_VISITOR": "5", "HANDOFF_MAX_STREAMS_PER_ADDRESS": "8",
            "HANDOFF_CHAT_RATE": "1000"}
    server, _ = serve(request, tmp_path, **caps)
    yield server
    server.stop()


def opened_at_once(browser: LiveBrowser, count: int) -> list[int]:
    """`count` streams opened together; their statuses (each one left open)."""
    gate, streams = threading.Barrier(count), [None] * count

    def open_one(n):
        gate.wait()
        streams[n] = browser.stream("/chat/events")

    threads = [threading.Thread(target=open_one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(stream.status for stream in streams)


def test_twenty_streams_opened_at_once_get_only_the_cap(live):
    visitor = LiveBrowser(live.url)
    visitor.say("Hello")
    assert opened_at_once(visitor, 20) == [200] * 5 + [429] * 15


def test_streams_are_capped_per_address_across_chats(live):
    visitors = [LiveBrowser(live.url) for _ in range(3)]
    for visitor in visitors:
        visitor.say("Hello")
    statuses = [s for visitor in visitors for s in opened_at_once(visitor, 4)]
    assert statuses.count(200) == 8 and statuses.count(429) == 4
    refused = visitors[0].http.get("/chat/events", timeout=5)
    assert refused.status_code == 429 and refused.text in ("Too many open chat windows. Close one and reload.",
                                                           "Too many open chats from your network right now. "
                                                           "Close one and reload.")


def test_a_dead_workers_streams_stop_counting():
    """A worker that dies holding streams: its counts leave Redis with its hash, not with a decrement."""
    async def run():
        client = redis_client()
        prefix = f"test-{uuid.uuid4().hex[:8]}:"
        dead, alive = Slots(client, prefix, ttl=1), Slots(client, prefix, ttl=30)
        assert await dead.take([("chat:1", 2)]) == (None, True)
        assert await dead.take([("chat:1", 2)]) == (None, True)
        full = await alive.take([("chat:1", 2)])
        deadline = time.monotonic() + 30
        while await alive.count("chat:1") and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # nobody beats for the dead worker
        after = await alive.take([("chat:1", 2)])
        counted = await alive.count("chat:1")
        await alive.give(["chat:1"], True)
        left = await alive.count("chat:1")
        await client.delete(*(await client.keys(f"{prefix}*") or [f"{prefix}none"]))
        await client.aclose()
        return full, after, counted, left

    assert asyncio.run(run()) == ((0, True), (None, True), 1, 0)


def test_the_hits_of_one_turn_go_to_redis_in_one_pipeline_and_each_gets_its_own_counts():
    window = 10**9

    async def run():
        client = redis_client()
        counter = Counter(client, prefix=f"test-{uuid.uuid4().hex[:8]}:")
        pipelines = []
        pipeline = client.pipeline
        client.pipeline = lambda **kwargs: (pipelines.append(1), pipeline(**kwargs))[1]
        got = await asyncio.gather(*(counter.first_over([(f"chat:{n % 3}", 2, window), ("addr:x", 5, window)])
                                     for n in range(6)))
        await client.delete(*await client.keys(f"{counter.prefix}*"))
        await client.aclose()
        return got, pipelines

    got, pipelines = asyncio.run(run())
    assert len(pipelines) == 1
    assert got == [None] * 5 + [1]  # two hits for each of three chats, within their 2; the address's sixth
