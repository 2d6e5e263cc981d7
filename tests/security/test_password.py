"""Changing the password: needs the current one, at least 10 characters, and signs out every other browser."""
import dataclasses

import pytest
from starlette.testclient import TestClient

from models import Agent, check_password
from tests.conftest import PASSWORD, Browser, login

NEW = "a-much-longer-passphrase"


def change(browser, current=PASSWORD, new=NEW, confirm=None):
    data = {"current_password": current, "new_password": new, "confirm_password": new if confirm is None else confirm}
    return browser.post("/agent/password", data, follow_redirects=False)


def stored_hash() -> str:
    return Agent.get(Agent.agent_id == "agent_001").password_hash


@pytest.mark.parametrize("current, new, confirm, problem", [
    ("wrong password", NEW, NEW, "current password is not right"),
    (PASSWORD, "short-9ch", "short-9ch", "at least 10 characters"),
    (PASSWORD, NEW, NEW + "x", "not the same"),
    (PASSWORD, PASSWORD, PASSWORD, "different from the current one"),
    (PASSWORD, "x" * 257, "x" * 257, "at most 256 characters"),
])
def test_a_bad_change_is_refused_and_changes_nothing(agent, current, new, confirm, problem):
    before = stored_hash()
    response = change(agent, current, new, confirm)
    assert response.status_code == 400 and problem in response.text and stored_hash() == before


def test_a_change_keeps_this_browser_and_signs_out_the_others(app, agent):
    elsewhere = login(app, "agent_001")
    response = change(agent)
    assert response.status_code == 200 and "has been changed" in response.text
    assert check_password(NEW, stored_hash()) and not check_password(PASSWORD, stored_hash())
    assert elsewhere.client.get("/agent/dashboard", follow_redirects=False).status_code == 303
    assert agent.get("/agent/dashboard").status_code == 200
    assert agent.post("/agent/status", {"status": "away"}).status_code == 200


def test_the_old_password_no_longer_signs_in(app, agent):
    change(agent)
    browser = Browser(TestClient(app))
    browser.get("/agent/login")
    old = browser.post("/agent/login", {"agent_id": "agent_001", "password": PASSWORD}, follow_redirects=False)
    new = browser.post("/agent/login", {"agent_id": "agent_001", "password": NEW}, follow_redirects=False)
    assert (old.status_code, new.status_code) == (400, 303)


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, login_delay_seconds=600)


def test_guessing_the_current_password_is_slowed(agent):
    assert [change(agent, f"guess-{n}").status_code for n in range(3)] == [400] * 3
    refused = change(agent)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 500
    assert check_password(PASSWORD, stored_hash())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_visitor_cannot_reach_it(visitor, method):
    response = visitor.client.request(method, "/agent/password", headers={"X-CSRF-Token": visitor.token},
                                      data={"new_password": NEW} if method == "POST" else None, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/agent/login"


def test_the_dashboard_links_to_it(agent):
    assert 'href="/agent/password"' in agent.get("/agent/dashboard").text
    assert 'autocomplete="new-password"' in agent.get("/agent/password").text
