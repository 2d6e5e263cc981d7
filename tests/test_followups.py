"""With nobody to answer, the visitor is told so and can leave an email and a message for the "Follow up" list."""
import calendar
import html
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from starlette.testclient import TestClient

import conversation
import office_hours
from app import create_app
from models import Agent, AgentSession, ChatSession, FollowUp, now
from tests.conftest import Browser

GOOD = {"email": "priya@example.com", "text": "Please email me the UK visa checklist."}


def closed_today(settings):
    """Office hours that open only tomorrow."""
    tomorrow = office_hours.DAYS[(datetime.now(timezone.utc).weekday() + 1) % 7]
    return replace(settings, office_hours=f"{tomorrow} 00:00-24:00", timezone="UTC")


def waiting_visitor(visitor) -> ChatSession:
    visitor.post("/chat/handoff")
    return ChatSession.get()


def test_nobody_online_is_told_with_a_form(visitor):
    waiting_visitor(visitor)
    page = visitor.get("/").text
    assert "No counsellor is online right now" in page and 'hx-post="/chat/followup"' in page
    assert 'data-position="1"' in page


def test_no_form_while_an_agent_is_online(visitor, agent):
    Agent.by_agent_id("agent_001").touch()  # online is a dashboard open, not only signed in
    waiting_visitor(visitor)
    assert "/chat/followup" not in visitor.get("/").text
    Agent.update(status="away").where(Agent.agent_id == "agent_001").execute()
    assert "/chat/followup" in visitor.get("/").text


def test_outside_office_hours_even_with_agents_online(settings):
    day = (datetime.now(timezone.utc).weekday() + 1) % 7
    tomorrow = office_hours.DAYS[day]
    app = create_app(replace(settings, office_hours=f"{tomorrow} 00:00-24:00", timezone="UTC"))
    with TestClient(app) as client:
        browser = Browser(client)
        browser.get("/")
        Agent.update(last_seen_at=now()).execute()
        browser.post("/chat/handoff")
        page = browser.get("/").text
    assert "out of the office" in page and "/chat/followup" in page
    assert f"We're open {calendar.day_name[day]} 0:00–24:00 UTC time; it's " in html.unescape(page)


@pytest.mark.parametrize("form, problem", [
    ({"email": "not-an-email", "text": "hi"}, "email address like"),
    ({"email": "a@b", "text": "hi"}, "email address like"),
    ({"email": "priya@example.com", "text": "   "}, "write a message"),
    ({"email": "priya@example.com", "text": "x" * 2001}, "at most 2000"),
])
def test_the_form_is_checked_and_keeps_what_was_typed(visitor, form, problem):
    waiting_visitor(visitor)
    response = visitor.post("/chat/followup", form)
    assert response.status_code == 400 and problem in response.text and form["email"] in response.text
    assert FollowUp.select().count() == 0 and ChatSession.get().status == "waiting"


def test_a_followup_is_stored_and_the_bot_takes_the_chat_back(visitor):
    chat = waiting_visitor(visitor)
    response = visitor.post("/chat/followup", GOOD)
    assert response.status_code == 201 and "chatting with the EduConsult assistant" in response.text
    followup = FollowUp.get()
    assert (followup.email, followup.text, followup.reason, followup.session_id) == (
        GOOD["email"], GOOD["text"], "offline", chat.id)
    chat = ChatSession.get_by_id(chat.id)
    assert chat.status == "bot" and chat.visitor_email == GOOD["email"] and chat.id not in ChatSession.waiting_ids()
    assert "reply to priya@example.com" in visitor.get("/").text
    assert AgentSession.get().action == "followup"


def test_only_while_waiting(visitor):
    visitor.say("Hello")
    assert visitor.post("/chat/followup", GOOD).status_code == 409
    assert FollowUp.select().count() == 0


def test_the_followup_event_is_there_for_email_delivery(app, settings):
    chat = ChatSession.create(status="waiting")
    outcome = conversation.leave_followup(chat, GOOD["email"], GOOD["text"], closed_today(settings))
    assert outcome.events == [("followup", chat.id)]
    assert FollowUp.latest(chat.id).reason == "closed"


def test_agents_see_the_list_and_mark_done(visitor, agent, other_agent):
    waiting_visitor(visitor)
    Agent.update(last_seen_at=None).execute()
    visitor.post("/chat/followup", GOOD)
    followup = FollowUp.get()
    html = agent.get("/agent/dashboard").text
    assert f'data-followup-id="{followup.id}"' in html and GOOD["text"] in html
    response = agent.post(f"/agent/followups/{followup.id}/done")
    assert response.status_code == 200 and "data-followup-id" not in response.text
    assert other_agent.post(f"/agent/followups/{followup.id}/done").status_code == 409
    followup = FollowUp.get()
    assert followup.done_by.agent_id == "agent_001" and followup.done_at is not None
    entry = AgentSession.select().where(AgentSession.action == "followup_done").get()
    assert entry.agent.agent_id == "agent_001"
    assert "data-followup-id" not in other_agent.get("/agent/dashboard").text


def test_marking_done_needs_an_agent(visitor, settings):
    chat = ChatSession.create(status="waiting")
    conversation.leave_followup(chat, GOOD["email"], GOOD["text"], settings)
    assert visitor.post(f"/agent/followups/{FollowUp.get().id}/done").status_code == 401
    assert FollowUp.get().done_at is None


@pytest.mark.parametrize("email", ["root,victim@example.org", "x@evil.example?cc=a@example.org&bcc=b@example.org",
                                   "a?cc=b@example.org", "Priya <priya@example.com>", "priya@example.com\nBcc: x@y.org"])
def test_one_plain_address_only(visitor, email):
    waiting_visitor(visitor)
    response = visitor.post("/chat/followup", {**GOOD, "email": email})
    assert response.status_code == 400 and "email address like" in response.text
    assert FollowUp.select().count() == 0


def test_refused_while_a_counsellor_can_take_the_chat_even_posted_directly(visitor, agent):
    waiting_visitor(visitor)
    Agent.by_agent_id("agent_001").touch()  # their dashboard is open
    response = visitor.post("/chat/followup", GOOD)
    assert response.status_code == 409 and "available now" in response.text
    assert FollowUp.select().count() == 0 and ChatSession.get().status == "waiting"


def test_a_stored_address_becomes_a_link_only_when_valid(visitor, agent):
    FollowUp.create(email="x@evil.example?cc=a@example.org&body=hi", text="old row")
    FollowUp.create(email="li+visa@example.com", text="good row")
    page = agent.get("/agent/dashboard").text
    assert 'href="mailto:li%2Bvisa@example.com"' in page and "mailto:x@evil" not in page and "cc=" not in page.split(
        "mailto:")[1].split('"')[0]
