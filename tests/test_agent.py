"""The counsellor's routes."""
import pytest

from models import Agent, AgentSession, ChatSession, Message


def waiting_chat(visitor) -> ChatSession:
    visitor.say("What are the documents for a UK student visa?")
    visitor.post("/chat/handoff")
    return ChatSession.get()


def test_login_rejects_a_wrong_password(app):
    from tests.conftest import Browser
    from starlette.testclient import TestClient
    browser = Browser(TestClient(app))
    browser.get("/agent/login")
    response = browser.post("/agent/login", {"agent_id": "agent_001", "password": "nope"})
    assert response.status_code == 400 and "don&#39;t match" in response.text


@pytest.mark.parametrize("path", ["/agent/dashboard", "/agent/analytics"])
def test_pages_redirect_to_login(visitor, path):
    response = visitor.client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/agent/login"


def test_dashboard_shows_queue_with_reason(visitor, agent):
    chat = waiting_chat(visitor)
    html = agent.get("/agent/dashboard").text
    assert f'data-session-id="{chat.id}"' in html and "requested" in html


def test_take_then_talk_then_close(visitor, agent):
    chat = waiting_chat(visitor)
    response = agent.post(f"/agent/sessions/{chat.id}/take")
    assert response.status_code == 200 and "documents for a UK student visa" in response.text
    assert agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Hi, I'm Sarah"}).status_code == 201
    assert "Sarah Johnson has joined the chat" in visitor.get("/").text
    assert agent.post(f"/agent/sessions/{chat.id}/close", {"note": "sent checklist"}).status_code == 200
    chat = ChatSession.get_by_id(chat.id)
    assert chat.status == "closed" and chat.first_response_at is not None
    assert [h.action for h in AgentSession.select().order_by(AgentSession.id)] == ["take", "close"]


def test_a_chat_belongs_to_one_agent(visitor, agent, other_agent):
    chat = waiting_chat(visitor)
    agent.post(f"/agent/sessions/{chat.id}/take")
    assert other_agent.post(f"/agent/sessions/{chat.id}/take").status_code == 409
    before = Message.select().count()
    for action in ("messages", "notes", "close", "release"):
        assert other_agent.post(f"/agent/sessions/{chat.id}/{action}", {"text": "hijack"}).status_code == 403
    assert Message.select().count() == before and ChatSession.get_by_id(chat.id).agent.agent_id == "agent_001"


def test_internal_notes_never_reach_the_visitor(visitor, agent):
    chat = waiting_chat(visitor)
    agent.post(f"/agent/sessions/{chat.id}/take")
    agent.post(f"/agent/sessions/{chat.id}/notes", {"text": "visa refused in 2023"})
    assert "visa refused in 2023" not in visitor.get("/").text
    assert "visa refused in 2023" in agent.get("/agent/dashboard").text


def test_transfer_to_a_colleague(visitor, agent, other_agent):
    chat = waiting_chat(visitor)
    agent.post(f"/agent/sessions/{chat.id}/take")
    Agent.by_agent_id("agent_002").touch()  # their dashboard is open
    agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002", "note": "US question"})
    assert ChatSession.get_by_id(chat.id).agent.agent_id == "agent_002"
    assert "US question" in other_agent.get("/agent/dashboard").text
    assert other_agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Michael here"}).status_code == 201


def test_logout_ends_the_session(agent):
    agent.post("/agent/logout", follow_redirects=False)
    assert agent.client.get("/agent/dashboard", follow_redirects=False).status_code == 303
    agent.get("/agent/login")
    assert agent.post("/agent/sessions/1/take").status_code == 401


@pytest.mark.parametrize("skill", ["<script>", "uk,us", "", "admin"])
def test_a_transfer_to_an_unknown_team_is_refused_and_changes_nothing(visitor, agent, skill):
    chat = waiting_chat(visitor)
    agent.post(f"/agent/sessions/{chat.id}/take")
    response = agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": f"skill:{skill}"})
    assert response.status_code == 400 and ChatSession.get_by_id(chat.id).status == "assigned"
