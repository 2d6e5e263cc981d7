"""Every chat action lands in AgentSession with who did it, to whom, and when."""
from datetime import timedelta

import pytest

from models import Agent, AgentSession, ChatSession, now


@pytest.mark.parametrize("path, form, action, target", [
    ("take", {}, "take", None),
    ("notes", {"text": "asked about CAS"}, "note", None),
    ("transfer", {"agent_id": "agent_002", "note": "US question"}, "transfer", "agent_002"),
    ("transfer", {"agent_id": "skill:uk", "note": "UK question"}, "transfer", None),
    ("release", {}, "return_to_bot", None),
    ("close", {"note": "sent the checklist"}, "close", None),
])
def test_each_chat_action_is_recorded_with_who_and_when(visitor, agent, path, form, action, target):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    if path != "take":
        agent.post(f"/agent/sessions/{chat.id}/take")
    Agent.by_agent_id("agent_002").touch()  # a transfer goes to someone whose dashboard is open
    assert agent.post(f"/agent/sessions/{chat.id}/{path}", form).status_code in (200, 201)
    entry = AgentSession.select().order_by(AgentSession.id.desc()).get()
    assert (entry.action, entry.agent.agent_id, entry.session_id) == (action, "agent_001", chat.id)
    assert (entry.target_agent.agent_id if entry.target_agent else None) == target
    assert entry.note == (form.get("note") or form.get("text"))
    assert now() - entry.created_at < timedelta(seconds=5)


def test_a_chat_keeps_its_whole_history_in_order(visitor, agent, other_agent):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    Agent.by_agent_id("agent_002").touch()
    agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002"})
    other_agent.post(f"/agent/sessions/{chat.id}/close")
    history = [(h.action, h.agent.agent_id) for h in chat.history.order_by(AgentSession.id)]
    assert history == [("take", "agent_001"), ("transfer", "agent_001"), ("close", "agent_002")]
