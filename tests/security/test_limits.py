"""Flooding: visitors are rate-limited per chat and per address, agents are not, and stream counts are capped."""
import asyncio
import os
import time
import uuid

import pytest
from starlette.testclient import TestClient

from limits import Counter
from models import Message
from tests.conftest import Browser, Server
from tests.live import LiveBrowser


def visitor_at(app, address: str) -> Browser:
    browser = Browser(TestClient(app, client=(address, 50000)).__enter__())
    browser.get("/")
    return browser


def test_the_eleventh_message_in_ten_seconds_gets_a_readable_429(visitor):
    assert [visitor.say(f"question {n}").status_code for n in range(10)] == [201] * 10
    refused = visitor.say("one more")
    assert refused.status_code == 429 and "wait a few seconds" in refused.text and refused.headers["retry-after"]
    assert "one more" in refused.text  # the text stays in the box to send again
    assert not Message.select().where(Message.text == "one more").exists()


def test_one_visitors_flood_does_not_limit_another(app, visitor):
    for n in range(11):
        visitor.say(f"flood {n}")
    assert visitor_at(app, "testclient").say("Hello").status_code == 201


@pytest.fixture
def settings(settings):
    return settings.__class__(**{**settings.__dict__, "address_rate": 15})


def test_an_address_has_a_higher_shared_ceiling(app):
    campus = [visitor_at(app, "192.0.2.10") for _ in range(3)]
    codes = [campus[n % 3].say(f"m{n}").status_code for n in range(16)]
    assert codes[:15] == [201] * 15 and codes[15] == 429
    assert "from your network" in campus[0].say("again").text
    assert visitor_at(app, "192.0.2.11").say("Hello").status_code == 201


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
        assert LiveBrowser(server.url).stream("/chat/events").status == 200
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
