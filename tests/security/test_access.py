"""Authorisation: a visitor reaches only their own chat, an agent posts only into their own chats, staff pages need staff."""
import dataclasses
import json
import re
from base64 import b64encode

import itsdangerous
import pytest
from starlette.testclient import TestClient

from models import ChatSession, Message
from tests.conftest import Browser, Server, login
from tests.live import LiveBrowser
from tests.security.conftest import FORM, all_routes, concrete, fingerprint

ACTIONS = ["messages", "notes", "close", "release", "transfer", "typing"]


def second_visitor(app) -> Browser:
    browser = Browser(TestClient(app).__enter__())
    browser.get("/")
    return browser


def test_a_second_visitor_sees_nothing_of_the_first(app, visitor):
    visitor.say("My passport number is X1234567")
    other = second_visitor(app)
    assert other.say("Hello there").status_code == 201
    assert "X1234567" not in other.get("/").text and "Hello there" not in visitor.get("/").text
    sessions = {m.text: m.session_id for m in Message.select().where(Message.sender == "visitor")}
    assert sessions["My passport number is X1234567"] != sessions["Hello there"]


def test_visitor_pages_carry_no_session_ids_or_tokens(visitor):
    visitor.say("Hello")
    chat = ChatSession.get()
    html = visitor.get("/").text
    urls = re.findall(r'(?:href|src|action|hx-post|hx-get|hx-sse:connect)="([^"]*)"', html)
    assert urls and chat.token not in html
    assert not [u for u in urls if re.search(r"/\d", u.split("?")[0])]


@pytest.mark.parametrize("secret", ["another-secret", ""])
def test_a_forged_cookie_naming_another_chat_is_ignored(app, visitor, secret):
    visitor.say("My passport number is X1234567")
    token = ChatSession.get().token
    forged = itsdangerous.TimestampSigner(secret or "test-secret").sign(b64encode(json.dumps({"chat": token}).encode()))
    forged = forged if secret else forged[:-3] + b"AAA"  # right key, tampered signature
    with TestClient(app, cookies={"handoff": forged.decode()}) as client:
        assert "X1234567" not in client.get("/").text
    assert ChatSession.select().count() == 1  # the forged cookie named nothing, and a page view stores no chat


def test_the_visitor_stream_needs_a_chat(app):
    with TestClient(app) as client:
        assert client.get("/chat/events?after=0").status_code == 403


def staff_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every agent and admin route but the sign-in form."""
    routes = []
    for path, methods in all_routes(app):
        if path.startswith("/agent/") and path != "/agent/login":
            routes += [(method, path) for method in sorted(methods - {"HEAD"})]
    return routes


def test_agent_routes_refuse_a_visitor(app, visitor, waiting_chat):
    before = fingerprint()
    for method, path in staff_routes(app):
        response = visitor.client.request(method, concrete(path, waiting_chat.id), follow_redirects=False,
                                          headers={"X-CSRF-Token": visitor.token}, data=FORM if method == "POST" else None)
        assert (method, path, response.status_code) in {(method, path, 401), (method, path, 303)}
        if response.status_code == 303:
            assert response.headers["location"] == "/agent/login"
        assert "X1234567" not in response.text
    assert fingerprint() == before


@pytest.mark.parametrize("chat_id", [1, 2, 999, 2**31])
def test_guessing_a_session_id_as_a_visitor_gets_401(visitor, waiting_chat, chat_id):
    for action in ["take", *ACTIONS]:
        assert visitor.post(f"/agent/sessions/{chat_id}/{action}", FORM).status_code == 401


@pytest.mark.parametrize("action", ACTIONS)
def test_an_agent_cannot_act_on_a_colleagues_chat(assigned_chat, other_agent, action):
    before = fingerprint()
    response = other_agent.post(f"/agent/sessions/{assigned_chat.id}/{action}", FORM)
    assert response.status_code in (403, 409) and fingerprint() == before
    assert ChatSession.get_by_id(assigned_chat.id).agent.agent_id == "agent_001"


def test_an_agent_cannot_take_a_chat_already_taken(assigned_chat, other_agent):
    before = fingerprint()
    assert other_agent.post(f"/agent/sessions/{assigned_chat.id}/take").status_code == 409
    assert fingerprint() == before


@pytest.mark.parametrize("action", ACTIONS)
def test_an_agent_cannot_act_on_a_waiting_chat_without_taking_it(waiting_chat, agent, action):
    before = fingerprint()
    assert agent.post(f"/agent/sessions/{waiting_chat.id}/{action}", FORM).status_code in (403, 409)
    assert fingerprint() == before


def test_a_colleagues_transcript_stays_out_of_my_dashboard(assigned_chat, agent, other_agent):
    agent.post(f"/agent/sessions/{assigned_chat.id}/notes", {"text": "family income 40k"})
    html = other_agent.get("/agent/dashboard").text
    assert "X1234567" not in html and "family income 40k" not in html
    assert "family income 40k" in agent.get("/agent/dashboard").text


def test_admin_pages_need_the_admin_role(app, agent):
    admin_paths = [(m, p) for m, p in staff_routes(app) if p.startswith("/agent/admin")]
    if not admin_paths:
        pytest.skip("the app has no admin pages")
    colleague = login(app, "agent_002")
    before = fingerprint()
    for method, path in admin_paths:
        response = colleague.client.request(method, concrete(path, 1), headers={"X-CSRF-Token": colleague.token},
                                            data=FORM if method == "POST" else None, follow_redirects=False)
        assert (path, response.status_code) == (path, 403)
    assert fingerprint() == before


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer wrong-token", "Basic YXBpOmFwaS10b2tlbg==",
                                           "bearer api-token-x", "api-token"])
def test_the_api_needs_its_token(app, settings, visitor, agent, waiting_chat, authorization, monkeypatch):
    monkeypatch.setattr(app.state, "settings", dataclasses.replace(settings, api_token="api-token"))
    api = [concrete(p, waiting_chat.id) for p, methods in all_routes(app) if p.startswith("/api/")]
    assert api
    for browser in (visitor, agent):  # a browser's cookies are no way in either
        for path in api:
            headers = {"Authorization": authorization} if authorization else {}
            response = browser.client.get(path, headers=headers)
            assert (path, response.status_code) == (path, 401) and "X1234567" not in response.text
    ok = visitor.client.get(api[0], headers={"Authorization": "Bearer api-token"})
    assert ok.status_code == 200


def test_a_colleagues_live_stream_never_carries_my_chat(tmp_path):
    server = Server(tmp_path, HANDOFF_AUTO_ASSIGN="0").start()
    visitor = LiveBrowser(server.url)
    visitor.post("/chat/handoff")
    mine, colleague = LiveBrowser.agent(server.url), LiveBrowser.agent(server.url, "agent_002")
    chat_id = int(re.search(r'data-session-id="(\d+)"', mine.http.get("/agent/dashboard").text).group(1))
    assert mine.post(f"/agent/sessions/{chat_id}/take").status_code == 200
    my_stream, their_stream = mine.stream("/agent/events"), colleague.stream("/agent/events")
    assert my_stream.take(1, with_id=False) and their_stream.take(1, with_id=False)  # first full pictures
    visitor.say("My passport number is X1234567")
    assert "X1234567" in my_stream.take(1)[0]["data"]
    assert not [e for e in their_stream.take(20, timeout=2, with_id=False) if "X1234567" in e["data"]]
    my_stream.close()
    their_stream.close()
    server.stop()
