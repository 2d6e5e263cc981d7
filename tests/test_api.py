"""The JSON API: bearer token, filters, paging, a session with its messages, and the analytics figures."""
import dataclasses
from datetime import datetime

import pytest
from starlette.testclient import TestClient

import analytics
from app import create_app
from models import Message
from tests.analytics_data import make_chat

TOKEN = "s3cret-api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def api(settings):
    with TestClient(create_app(dataclasses.replace(settings, api_token=TOKEN))) as client:
        yield client


@pytest.fixture
def chats(api):
    """Six chats, one a day from 1 March 2025: bot, waiting, then assigned, closed by turns."""
    made = [make_chat(datetime(2025, 3, 1), close=60, rating=5),
            make_chat(datetime(2025, 3, 2), escalate=30, reason="urgent"),
            make_chat(datetime(2025, 3, 3), escalate=30, assign=90, agent="agent_002", reason="complex"),
            make_chat(datetime(2025, 3, 4), escalate=30, assign=90, respond=95, close=400, agent="agent_002"),
            make_chat(datetime(2025, 3, 5), escalate=30, assign=60, agent="agent_003"),
            make_chat(datetime(2025, 3, 6), escalate=30, assign=60, respond=70, close=600, agent="agent_003")]
    return [c.id for c in made]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer "}])
@pytest.mark.parametrize("path", ["/api/sessions", "/api/sessions/1", "/api/analytics"])
def test_the_api_needs_the_token(api, headers, path):
    response = api.get(path, headers=headers)
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")


def test_without_a_configured_token_the_api_is_off(app):
    with TestClient(app) as client:
        for headers in ({}, {"Authorization": "Bearer "}):
            assert client.get("/api/sessions", headers=headers).status_code == 404


def test_sessions_newest_first_without_the_visitors_token(api, chats):
    body = api.get("/api/sessions", headers=AUTH).json()
    assert [s["id"] for s in body["sessions"]] == chats[::-1] and body["next_cursor"] is None
    first = body["sessions"][-1]
    assert first["created_at"] == "2025-03-01T00:00:00Z" and first["status"] == "closed" and first["rating"] == 5
    assert "token" not in first and body["sessions"][0]["agent"] == {"agent_id": "agent_003", "name": "Emma Williams"}


@pytest.mark.parametrize("query, picked", [
    ("status=closed", [0, 3, 5]), ("status=waiting,assigned", [1, 2, 4]), ("agent=agent_002", [2, 3]),
    ("from=2025-03-03", [2, 3, 4, 5]), ("to=2025-03-02", [0, 1]), ("from=2025-03-02T12:00:00Z&to=2025-03-04", [2, 3]),
    ("status=closed&agent=agent_003", [5]),
])
def test_sessions_filters(api, chats, query, picked):
    body = api.get(f"/api/sessions?{query}", headers=AUTH).json()
    assert sorted(s["id"] for s in body["sessions"]) == [chats[i] for i in picked]


def test_paging_with_a_cursor_visits_each_session_once(api, chats):
    seen, url = [], "/api/sessions?limit=4"
    while url:
        body = api.get(url, headers=AUTH).json()
        seen += [s["id"] for s in body["sessions"]]
        url = f"/api/sessions?limit=4&cursor={body['next_cursor']}" if body["next_cursor"] else None
    assert seen == chats[::-1]


@pytest.mark.parametrize("query", ["status=lost", "agent=agent_999", "limit=0", "limit=500", "cursor=x",
                                   "from=yesterday", "to=2025-13-01"])
def test_bad_filters_are_400_with_a_reason(api, query):
    response = api.get(f"/api/sessions?{query}", headers=AUTH)
    assert response.status_code == 400 and response.json()["error"]


def test_a_session_with_its_messages_and_internal_notes_flagged(api, chats):
    chat_id = chats[3]
    Message.create(session=chat_id, sender="agent", text="visa refused before", internal=True)
    body = api.get(f"/api/sessions/{chat_id}", headers=AUTH).json()
    assert [(m["sender"], m["internal"]) for m in body["messages"]] == [
        ("visitor", False), ("agent", False), ("agent", True)]
    assert body["messages"][1]["agent"] == "agent_002" and body["history"][0]["action"] == "take"
    assert body["analytics"]["outcome"] == "human_resolved" and body["analytics"]["wait_seconds"] == 60
    assert api.get("/api/sessions/99999", headers=AUTH).status_code == 404


def test_analytics_has_the_figures_of_the_page(api, chats):
    body = api.get("/api/analytics?period=custom&from=2025-03-01&to=2025-03-07", headers=AUTH).json()
    period = analytics.period_from({"from": "2025-03-01", "to": "2025-03-07"})
    assert body == analytics.report(period).as_dict()
    assert body["conversations"] == 6 and body["outcomes"] == {"bot_resolved": 1, "human_resolved": 2,
                                                               "abandoned": 0, "open": 3}
    assert body["wait_seconds"] == {"count": 2, "median": 45.0, "p90": 60.0}
    only = api.get("/api/analytics?from=2025-03-01&to=2025-03-07&agent=agent_003", headers=AUTH).json()
    assert only["agent"] == "agent_003" and only["conversations"] == 2
    assert api.get("/api/analytics?period=decade", headers=AUTH).status_code == 400
