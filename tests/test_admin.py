"""The admin role: agents and canned responses, managed from the dashboard, each change in the audit log."""
import re

import pytest
from starlette.testclient import TestClient

import conversation
from models import Agent, AuditLog, CannedResponse, ChatSession
from tests.conftest import PASSWORD, Browser

NEW = {"name": "Aisha Rahman", "skills": ["uk", "general"], "max_chats": "3", "role": "agent"}
CANNED = {"shortcut": "ielts", "title": "IELTS scores", "text": "Most UK master's courses ask for IELTS 6.5."}


def sign_in(app, agent_id: str, password: str = PASSWORD) -> tuple[Browser, int]:
    browser = Browser(TestClient(app))
    browser.get("/agent/login")
    response = browser.post("/agent/login", {"agent_id": agent_id, "password": password}, follow_redirects=False)
    return browser, response.status_code


def shown_password(html: str) -> str:
    return re.search(r"password (?:is|for \w+:) (\S+) —", html).group(1)


ADMIN_ROUTES = [("get", "/agent/admin"), ("get", "/agent/admin/canned"), ("get", "/agent/admin/activity"),
                ("post", "/agent/admin/agents"), ("post", "/agent/admin/agents/agent_003"),
                ("post", "/agent/admin/agents/agent_003/password"), ("post", "/agent/admin/canned"),
                ("post", "/agent/admin/canned/1"), ("post", "/agent/admin/canned/1/delete")]


@pytest.mark.parametrize("method, path", ADMIN_ROUTES)
def test_admin_pages_are_for_admins_only(other_agent, visitor, method, path):
    before = (Agent.select().count(), Agent.by_agent_id("agent_003").password_hash)
    response = other_agent.post(path, {**NEW, "name": "x"}) if method == "post" else other_agent.get(path)
    assert response.status_code == 403
    assert getattr(visitor.client, method)(path, follow_redirects=False).status_code in (303, 403)
    assert (Agent.select().count(), Agent.by_agent_id("agent_003").password_hash) == before


def test_only_admins_see_the_admin_link(agent, other_agent):
    assert 'href="/agent/admin"' in agent.get("/agent/dashboard").text
    assert 'href="/agent/admin"' not in other_agent.get("/agent/dashboard").text


def test_add_an_agent_who_can_then_sign_in(app, agent):
    response = agent.post("/agent/admin/agents", NEW)
    assert response.status_code == 201 and "agent_005" in response.text
    added = Agent.by_agent_id("agent_005")
    assert (added.name, added.skill_list, added.max_chats, added.role) == ("Aisha Rahman", ["general", "uk"], 3, "agent")
    assert sign_in(app, "agent_005", shown_password(response.text))[1] == 303
    assert AuditLog.get(AuditLog.action == "agent_add").agent.agent_id == "agent_001"
    # reloading the page the form answered (an address for the form alone) shows the list, not "Method Not Allowed"
    reload = agent.client.get("/agent/admin/agents", follow_redirects=False)
    assert (reload.status_code, reload.headers["location"]) == (303, "/agent/admin")


@pytest.mark.parametrize("change, problem", [
    ({"skills": []}, "at least one skill"), ({"max_chats": "0"}, "from 1 to 20"), ({"max_chats": "lots"}, "from 1 to 20"),
    ({"name": ""}, "name of 1 to 80"), ({"role": "owner"}, "role"), ({"agent_id": "agent_002"}, "already an agent"),
    ({"agent_id": "Bad Id"}, "lowercase"), ({"email": "nope"}, "email address"),
])
def test_adding_checks_the_form(agent, change, problem):
    response = agent.post("/agent/admin/agents", {**NEW, **change})
    assert response.status_code == 400 and problem in response.text and Agent.select().count() == 4


def test_change_skills_and_limit(agent):
    response = agent.post("/agent/admin/agents/agent_004", {**NEW, "name": "David Kumar", "skills": ["tech", "us"],
                                                            "max_chats": "6", "active": "on"})
    david = Agent.by_agent_id("agent_004")
    assert response.status_code == 200 and (david.skill_list, david.max_chats) == (["us", "tech"], 6)
    assert "skills us,tech" in AuditLog.get(AuditLog.action == "agent_update").detail


def test_disable_signs_out_requeues_and_blocks_sign_in(app, agent, other_agent, visitor):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    other_agent.post(f"/agent/sessions/{chat.id}/take")
    form = {**NEW, "name": "Michael Chen", "skills": ["us"]}  # no "active": the box is unticked
    assert agent.post("/agent/admin/agents/agent_002", form).status_code == 200
    assert other_agent.client.get("/agent/dashboard", follow_redirects=False).status_code == 303
    assert ChatSession.get_by_id(chat.id).status == "waiting" and ChatSession.get_by_id(chat.id).priority == 1
    assert sign_in(app, "agent_002")[1] == 400
    agent.post("/agent/admin/agents/agent_002", {**form, "active": "on"})
    assert sign_in(app, "agent_002")[1] == 303


@pytest.mark.parametrize("change", [{}, {"active": "on", "role": "agent"}])
def test_an_admin_cannot_lock_themselves_out(agent, change):
    form = {**NEW, "name": "Sarah Johnson", "role": "admin", **change}
    response = agent.post("/agent/admin/agents/agent_001", form)
    me = Agent.by_agent_id("agent_001")
    assert response.status_code == 400 and me.active and me.is_admin


def test_reset_password(app, agent, other_agent):
    response = agent.post("/agent/admin/agents/agent_002/password")
    assert response.status_code == 200
    assert other_agent.client.get("/agent/dashboard", follow_redirects=False).status_code == 303
    assert sign_in(app, "agent_002")[1] == 400
    assert sign_in(app, "agent_002", shown_password(response.text))[1] == 303
    assert AuditLog.get(AuditLog.action == "password_reset").subject == "agent_002"


def test_canned_responses_reach_every_dashboard(agent, other_agent):
    assert agent.post("/agent/admin/canned", CANNED, follow_redirects=False).status_code == 303
    html = other_agent.get("/agent/dashboard").text
    assert '<option value="ielts" label="IELTS scores">Most UK' in html
    assert '<option value="hold" label="Please hold">' in html  # shipped with a new installation
    canned = CannedResponse.get(shortcut="ielts")
    agent.post(f"/agent/admin/canned/{canned.id}", {**CANNED, "text": "IELTS 7.0 for law."})
    assert "IELTS 7.0 for law." in other_agent.get("/agent/dashboard").text
    agent.post(f"/agent/admin/canned/{canned.id}/delete")
    assert not CannedResponse.select().where(CannedResponse.shortcut == "ielts").exists()
    assert [a.action for a in AuditLog.select().where(AuditLog.action.startswith("canned"))] == [
        "canned_add", "canned_update", "canned_delete"]


@pytest.mark.parametrize("change, problem", [
    ({"shortcut": "IELTS score"}, "lowercase"), ({"shortcut": ""}, "lowercase"), ({"title": ""}, "title"),
    ({"text": ""}, "1 to 2000"), ({"text": "x" * 2001}, "1 to 2000"),
])
def test_canned_form_is_checked(agent, change, problem):
    response = agent.post("/agent/admin/canned", {**CANNED, **change})
    assert response.status_code == 400 and problem in response.text and CannedResponse.select().count() == 3  # the shipped ones


def test_shortcuts_are_unique(agent):
    agent.post("/agent/admin/canned", CANNED)
    response = agent.post("/agent/admin/canned", {**CANNED, "shortcut": "/IELTS"})
    assert response.status_code == 400 and "taken" in response.text and CannedResponse.select().count() == 4


def test_sign_ins_presence_and_admin_changes_are_logged(app, agent, other_agent):
    other_agent.post("/agent/status", {"status": "away"})
    other_agent.post("/agent/logout")
    agent.post("/agent/admin/agents/agent_003/password")
    log = [(e.agent.agent_id, e.action, e.detail) for e in AuditLog.select().order_by(AuditLog.id)]
    assert log[-4:] == [("agent_002", "sign_in", None), ("agent_002", "status", "away"),
                        ("agent_002", "sign_out", None), ("agent_001", "password_reset", None)]
    assert all(e.created_at for e in AuditLog.select())
    page = agent.get("/agent/admin/activity").text
    assert "password reset" in page and "sign out" in page


def test_activity_lists_chat_actions_with_who(agent, visitor):
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    conversation.close(chat, Agent.by_agent_id("agent_001"), "done")
    page = agent.get("/agent/admin/activity").text
    assert f"agent_001</strong> take visitor #{chat.id}" in page and f"close visitor #{chat.id}" in page
