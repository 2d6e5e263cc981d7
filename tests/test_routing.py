"""Routing and presence: who gets a waiting chat, what happens when an agent drops, and the visitor's place."""
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

import conversation
from escalation import Decision
from app import create_app
from models import Agent, AgentSession, ChatSession, Message, now
from realtime import ROUTING
from tests.conftest import Browser


def online(*agent_ids: str, seconds_ago: float = 0, status: str = "online") -> list[Agent]:
    seen = now() - timedelta(seconds=seconds_ago)
    Agent.update(last_seen_at=seen, status=status).where(Agent.agent_id.in_(agent_ids)).execute()
    return [Agent.by_agent_id(a) for a in agent_ids]


def waiting(skill: str = "general", minutes_ago: float = 0, priority: int = 0) -> ChatSession:
    stamp = now() - timedelta(minutes=minutes_ago)
    return ChatSession.create(status="waiting", skill=skill, queued_at=stamp, escalated_at=stamp, priority=priority)


def owner(chat: ChatSession) -> str | None:
    chat = ChatSession.get_by_id(chat.id)
    return chat.agent.agent_id if chat.agent else None


@pytest.mark.parametrize("skill, expected", [("us", "agent_002"), ("uk", "agent_003"), ("tech", "agent_004"),
                                             ("general", "agent_001")])
def test_a_chat_goes_to_the_agent_with_its_skill(app, skill, expected):
    online("agent_001", "agent_002", "agent_003", "agent_004")
    chat = waiting(skill)
    conversation.auto_assign()
    assert owner(chat) == expected and AgentSession.get().action == "assign"


@pytest.mark.parametrize("state", [dict(seconds_ago=61), dict(status="away")])
def test_never_to_an_offline_or_away_agent(app, state):
    online("agent_003", **state)
    chat = waiting("uk")
    conversation.auto_assign(grace_seconds=60)
    assert owner(chat) is None and ChatSession.get_by_id(chat.id).status == "waiting"
    online("agent_001")
    conversation.auto_assign(grace_seconds=60)
    assert owner(chat) == "agent_001"


def test_never_to_a_full_agent_and_the_most_free_one_first(app):
    us, = online("agent_002")
    Agent.update(max_chats=2).where(Agent.id == us.id).execute()
    chats = [waiting("us", minutes_ago=3 - i) for i in range(3)]
    conversation.auto_assign()
    assert [owner(c) for c in chats] == ["agent_002", "agent_002", None]


def test_the_agent_with_more_room_wins(app):
    Agent.update(skills="uk").where(Agent.agent_id == "agent_001").execute()
    sarah, emma = online("agent_001", "agent_003")
    conversation.take(waiting("uk"), emma)
    chat = waiting("uk")
    conversation.auto_assign()
    assert owner(chat) == "agent_001"


def test_longest_waiting_and_requeued_first_when_room_is_short(app):
    us, = online("agent_002")
    Agent.update(max_chats=2).where(Agent.id == us.id).execute()
    newer, older, returned = waiting("us", 1), waiting("us", 5), waiting("us", 0, priority=1)
    conversation.auto_assign()
    assert (owner(returned), owner(older), owner(newer)) == ("agent_002", "agent_002", None)


def test_general_agents_take_a_skill_nobody_online_has(app):
    online("agent_001", "agent_003")
    chat = waiting("us")
    conversation.auto_assign()
    assert owner(chat) == "agent_001"


def test_a_dropped_agents_chats_go_back_to_the_head_of_the_queue(app):
    emma, = online("agent_003", seconds_ago=5)
    old = waiting("uk", minutes_ago=10)
    mine = waiting("uk")
    conversation.take(mine, emma)
    conversation.requeue_dropped(grace_seconds=3)
    chat = ChatSession.get_by_id(mine.id)
    assert chat.status == "waiting" and chat.agent is None
    assert [c.id for c in ChatSession.waiting()] == [mine.id, old.id]
    assert "disconnected" in list(chat.visible_messages())[-1].text
    assert AgentSession.select().where(AgentSession.action == "requeue").get().agent.agent_id == "agent_003"


def test_a_connected_agent_keeps_their_chats(app):
    emma, = online("agent_003", seconds_ago=1)
    chat = waiting("uk")
    conversation.take(chat, emma)
    conversation.requeue_dropped(grace_seconds=3)
    assert owner(chat) == "agent_003"


def fake_assess(text, history=()):
    """A bot that knows one US university and hands off on "human"."""
    human = "human" in text.lower()
    return Decision(handoff=human, reason="requested" if human else None, reply="A bot answer.",
                    confidence=0.9, skill="us" if "harvard" in text.lower() else "general")


@pytest.mark.parametrize("handoff", [
    lambda chat: conversation.visitor_message(chat, "Can I talk to a human?"),
    lambda chat: conversation.request_human(chat),
])
def test_the_visitors_earlier_question_decides_the_skill(app, monkeypatch, handoff):
    monkeypatch.setattr(conversation, "assess", fake_assess)
    chat = ChatSession.create()
    conversation.visitor_message(chat, "How do I apply to Harvard?")
    conversation.visitor_message(chat, "And the deadlines?")
    handoff(chat)
    assert ChatSession.get_by_id(chat.id).status == "waiting" and ChatSession.get_by_id(chat.id).skill == "us"


def test_the_handoff_message_itself_decides_first(app, monkeypatch):
    monkeypatch.setattr(conversation, "assess", fake_assess)
    chat = ChatSession.create()
    conversation.visitor_message(chat, "A human please, about Harvard")
    assert ChatSession.get_by_id(chat.id).skill == "us"


def test_queue_position_the_visitor_sees_matches_the_queue(visitor, app):
    first = waiting("uk", minutes_ago=4)
    visitor.post("/chat/handoff")
    last = waiting("uk")
    mine = ChatSession.get(ChatSession.status == "waiting", ChatSession.id.not_in([first.id, last.id]))
    expected = [c.id for c in ChatSession.waiting()].index(mine.id) + 1
    assert expected == 2 and 'data-position="2"' in visitor.get("/").text
    conversation.close(first)
    assert 'data-position="1"' in visitor.get("/").text


def test_return_to_bot_then_the_bot_answers_and_the_next_handoff_works(visitor, agent):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    assert agent.post(f"/agent/sessions/{chat.id}/release").status_code == 200
    visitor.say("What IELTS score do I need?")
    assert [m.sender for m in chat.visible_messages()][-2:] == ["visitor", "bot"]
    visitor.post("/chat/handoff")
    assert ChatSession.get_by_id(chat.id).status == "waiting"
    assert agent.post(f"/agent/sessions/{chat.id}/take").status_code == 200


@pytest.mark.parametrize("status, minutes, closed", [("assigned", 16, True), ("assigned", 14, False),
                                                     ("waiting", 16, True), ("bot", 16, False), ("bot", 25 * 60, True)])
def test_quiet_chats_close_by_themselves(app, status, minutes, closed):
    chat = ChatSession.create(status=status, last_visitor_at=now() - timedelta(minutes=minutes))
    conversation.close_idle(inactive_minutes=15, bot_hours=24)
    chat = ChatSession.get_by_id(chat.id)
    assert (chat.status == "closed") is closed
    if closed:
        assert "closed" in list(chat.visible_messages())[-1].text


def test_auto_close_is_told_to_both_sides(app):
    emma, = online("agent_003")
    chat = waiting("uk")
    conversation.take(chat, emma)
    ChatSession.update(last_visitor_at=now() - timedelta(minutes=2)).where(ChatSession.id == chat.id).execute()
    outcome = conversation.close_idle(inactive_minutes=1, bot_hours=24)
    assert f"agent:{emma.id}" in outcome.topics and f"session:{chat.id}" in outcome.topics
    last = Message.select().where(Message.session == chat).order_by(Message.id.desc()).get()
    assert not last.internal and "no new messages" in last.text


def test_disabled_agents_chats_are_requeued(app):
    emma, = online("agent_003")
    chat = waiting("uk")
    conversation.take(chat, emma)
    Agent.update(active=False).where(Agent.id == emma.id).execute()
    conversation.requeue_dropped(grace_seconds=60)
    assert ChatSession.get_by_id(chat.id).status == "waiting"


def test_a_waiting_chat_is_assigned_at_once_without_waiting_for_the_sweep(settings):
    app = create_app(replace(settings, auto_assign=True))
    with TestClient(app) as client:
        browser = Browser(client)
        browser.get("/")
        online("agent_003")
        browser.post("/chat/handoff")
        deadline = time.time() + 30  # the sweep runs hourly here: assigned before then means assigned at once
        while ChatSession.get().status != "assigned" and time.time() < deadline:
            time.sleep(0.05)
    assert owner(ChatSession.get()) == "agent_003"


@pytest.mark.parametrize("act", [
    lambda chat, agent: conversation.close(chat, agent),
    lambda chat, agent: conversation.return_to_bot(chat.id, agent),
    lambda chat, agent: conversation.transfer(chat.id, agent, skill="us"),
])
def test_freeing_an_agent_wakes_the_router(app, act):
    emma, = online("agent_003")
    chat = waiting("uk")
    conversation.take(chat, emma)
    assert ROUTING in act(chat, emma).topics


@pytest.mark.parametrize("skill, others, expected", [("us", ("agent_001",), "agent_001"), ("us", (), None),
                                                     ("uk", ("agent_001",), "agent_001")])
def test_a_chat_sent_to_a_skill_queue_never_bounces_back_to_its_sender(app, skill, others, expected):
    emma, *_ = online("agent_003", *others)
    chat = waiting("uk")
    conversation.take(chat, emma)
    conversation.transfer(chat.id, emma, skill=skill, note="for a colleague")
    conversation.auto_assign()
    assert owner(chat) == expected
