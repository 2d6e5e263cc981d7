"""Outgoing webhooks: queued with the chat change, signed, delivered to a real receiver, retried, kept on restart."""
import asyncio
import dataclasses
import hashlib
import hmac
import json
import threading
import time

import httpx
import pytest
from starlette.testclient import TestClient

import conversation
from delivery import outbox
from delivery import webhooks
from app import create_app
from models import Agent, ChatSession, Outbox, now
from tests.conftest import Browser, free_port
from tests.receivers import HookReceiver, eventually

SECRET = "hook-secret"


@pytest.fixture
def receiver():
    hooks = HookReceiver()
    yield hooks
    hooks.close()


def hooked(settings, url: str, **changes):
    """The app with webhooks to `url`, retrying fast."""
    return create_app(dataclasses.replace(settings, webhook_url=url, webhook_secret=SECRET, outbox_poll_seconds=0.05,
                                          outbox_retry_seconds=0.05, **{"delivery_timeout_seconds": 3, **changes}))


def chat_through_its_life() -> int:
    """Escalated, assigned to agent_001, transferred to agent_002, closed: one of each event."""
    chat = ChatSession.create()
    conversation.request_human(chat)
    first, second = Agent.by_agent_id("agent_001"), Agent.by_agent_id("agent_002")
    conversation.take(chat, first)
    second.touch()  # a transfer goes to someone whose dashboard is open
    conversation.transfer(chat.id, first, target=second, note="US visa question")
    conversation.close(ChatSession.get_by_id(chat.id), second)
    return chat.id


def expected_signature(timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("change", ["none", "body", "timestamp", "key", "stale"])
def test_signatures_verify_only_untouched_recent_bodies(change):
    stamp, body = str(int(time.time())), b'{"event":"closed"}'
    signature = webhooks.sign(SECRET, stamp, body)
    if change == "body":
        body = b'{"event":"assigned"}'
    elif change == "timestamp":
        stamp = str(int(stamp) + 1)
    elif change == "stale":
        stamp, signature = "1000", webhooks.sign(SECRET, "1000", body)
    key = "other" if change == "key" else SECRET
    assert webhooks.verify(key, stamp, body, signature) is (change == "none")


def test_each_chat_change_queues_its_event_with_the_session(settings, receiver):
    hooked(settings, receiver.url)
    chat_id = chat_through_its_life()
    rows = list(Outbox.select().order_by(Outbox.id))
    assert [r.event for r in rows] == ["escalated", "assigned", "transferred", "closed"]
    bodies = [json.loads(r.payload) for r in rows]
    assert {b["session"]["id"] for b in bodies} == {chat_id}
    assert [b["session"]["status"] for b in bodies] == ["waiting", "assigned", "assigned", "closed"]
    assert bodies[2]["detail"] == {"from_agent": "agent_001", "to_agent": "agent_002"}
    assert bodies[1]["session"]["agent"]["agent_id"] == "agent_001" and "token" not in bodies[0]["session"]


def test_an_action_that_fails_queues_nothing(settings, receiver, monkeypatch):
    hooked(settings, receiver.url)
    chat = ChatSession.create()
    conversation.request_human(chat)

    def broken(*args):
        raise RuntimeError("the database went away mid-action")

    monkeypatch.setattr(conversation.Outcome, "wake", broken)
    with pytest.raises(RuntimeError):
        conversation.take(chat, Agent.by_agent_id("agent_001"))
    assert [r.event for r in Outbox.select()] == ["escalated"] and ChatSession.get_by_id(chat.id).status == "waiting"


def test_without_a_webhook_url_nothing_is_queued(app):
    chat_through_its_life()
    assert Outbox.select().count() == 0


def test_deliveries_reach_a_real_receiver_signed(settings, receiver):
    with TestClient(hooked(settings, receiver.url)):
        chat_id = chat_through_its_life()
        delivered = receiver.wait_for(4)
        # The deliverer marks a row delivered once the receiver's answer is back, a moment after it arrived.
        eventually(lambda: not Outbox.select().where(Outbox.delivered_at.is_null()).exists())
    assert sorted(d["event"] for d in delivered) == ["assigned", "closed", "escalated", "transferred"]
    for headers, body, _ in receiver.attempts:
        assert headers["x-handoff-signature"] == expected_signature(headers["x-handoff-timestamp"], body)
        assert headers["content-type"] == "application/json"
        assert abs(int(headers["x-handoff-timestamp"]) - time.time()) < 60
        assert json.loads(body)["id"] == int(headers["x-handoff-delivery"])
        assert json.loads(body)["event"] == headers["x-handoff-event"]
    assert {d["session"]["id"] for d in delivered} == {chat_id}
    assert Outbox.select().where(Outbox.delivered_at.is_null()).count() == 0


def test_a_failing_receiver_gets_the_same_event_again_until_it_succeeds(settings):
    receiver = HookReceiver(statuses=[500, 503])
    try:
        with TestClient(hooked(settings, receiver.url)):
            conversation.request_human(ChatSession.create())
            receiver.wait_for(1)
            eventually(lambda: Outbox.get_or_none(Outbox.delivered_at.is_null(False)))  # recorded a moment after
    finally:
        receiver.close()
    assert [status for _, _, status in receiver.attempts] == [500, 503, 200]
    assert len({headers["x-handoff-delivery"] for headers, _, _ in receiver.attempts}) == 1
    row = Outbox.get()
    assert row.attempts == 3 and row.delivered_at is not None and row.last_error is None


def test_delivery_gives_up_after_the_last_attempt(settings):
    receiver = HookReceiver(statuses=[500] * 10)
    try:
        with TestClient(hooked(settings, receiver.url, outbox_max_attempts=3)):
            conversation.request_human(ChatSession.create())
            row = eventually(lambda: Outbox.get_or_none(Outbox.failed_at.is_null(False)))
    finally:
        receiver.close()
    assert row.attempts == 3 and row.last_error == "HTTP 500" and len(receiver.attempts) == 3


def test_events_queued_before_a_restart_are_delivered_after_it(settings):
    port = free_port()  # nothing listens here yet: every attempt before the restart fails
    with TestClient(hooked(settings, f"http://127.0.0.1:{port}/hooks")):
        chat_id = chat_through_its_life()
        eventually(lambda: Outbox.select().where(Outbox.attempts > 0).count() == 4)
    receiver = HookReceiver(port=port)
    try:
        with TestClient(hooked(settings, receiver.url)):
            delivered = receiver.wait_for(4)
    finally:
        receiver.close()
    assert sorted(d["event"] for d in delivered) == ["assigned", "closed", "escalated", "transferred"]
    assert {d["session"]["id"] for d in delivered} == {chat_id}


def test_a_delivery_cut_short_by_a_shutdown_is_due_again_at_once(settings):
    hold = threading.Event()
    receiver = HookReceiver(hold=hold)
    app = hooked(settings, receiver.url)
    conversation.request_human(ChatSession.create())

    async def cut_short():
        async with httpx.AsyncClient() as client:
            task = asyncio.create_task(outbox.deliver_due(app.state.settings, client, SECRET))
            while not receiver.arrived and not task.done():
                await asyncio.sleep(0.01)
            task.cancel()  # the receiver holds the request: the attempt is under way
            await asyncio.gather(task, return_exceptions=True)

    try:
        asyncio.run(cut_short())
    finally:
        hold.set()
        receiver.close()
    row = Outbox.get()
    assert receiver.arrived == 1 and row.attempts == 1 and row.delivered_at is None and row.next_attempt_at <= now()


def test_a_slow_receiver_never_slows_a_chat(settings):
    hold = threading.Event()
    receiver = HookReceiver(hold=hold)
    try:
        with TestClient(hooked(settings, receiver.url, delivery_timeout_seconds=120)) as client:
            visitor = Browser(client)
            visitor.get("/")
            assert visitor.post("/chat/handoff").status_code == 204
            eventually(lambda: receiver.arrived, timeout=30)  # the receiver holds the first delivery from here on
            for _ in range(3):
                assert visitor.post("/chat/handoff").status_code == 204
                assert visitor.say("Are you there?").status_code in (200, 201, 202, 204)
            answered = len(receiver.attempts)
            hold.set()
            receiver.wait_for(1)
    finally:
        hold.set()
        receiver.close()
    assert answered == 0  # every chat request was answered while the delivery still waited for the receiver
