"""Oversized and malformed requests: refused with a 4xx before they can do harm, never a 500, nothing stored."""
import socket

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as examples
from hypothesis import strategies as st

from peewee import fn

from models import Message
from routes.common import plain_text
from tests.security.conftest import all_routes, concrete, fingerprint, unsafe_paths

FUZZ = examples(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
FORM = "application/x-www-form-urlencoded"
MALFORMED = [
    (FORM, b"text=%ff%fe"),
    (FORM, b"text=\xff\xfe\x00abc"),
    (FORM, b"text=%ED%A0%80"),  # an encoded UTF-16 surrogate
    (FORM, b"text=caf\xe9"),  # Latin-1
    (FORM, b"%%%%&&&===%"),
    (FORM, b"text"),
    (FORM, b"=" * 2000),
    (FORM, b"&".join([b"a=1"] * 5000)),
    (FORM, b"text=hi%00there&client_key=%00"),
    (FORM + "; charset=latin-1", b"text=caf\xe9"),
    ("multipart/form-data", b"garbage"),
    ("multipart/form-data; boundary=zz", b"garbage"),
    ("multipart/form-data; boundary=zz", b'--zz\r\nContent-Disposition: form-data; name="text"\r\n\r\n\xff\xfe\r\n--zz--\r\n'),
    ("multipart/form-data; boundary=zz",
     b'--zz\r\nContent-Disposition: form-data; name="text"; filename="a.html"\r\n\r\n<script>\r\n--zz--\r\n'),
    ("multipart/form-data; boundary=zz", b'--zz\r\nContent-Disposition: form-data; name="text"\r\n\r\nunterminated'),
    ("application/json", b'{"text": "hi"}'),
    ("application/json", b'{"text": '),
    ("text/plain", b"text=hi"),
    ("", b"text=hi"),
    ("application/octet-stream", bytes(range(256))),
]
MESSAGE_ROUTES = ["/chat/messages", "/agent/sessions/{id}/messages", "/agent/sessions/{id}/notes"]


@pytest.fixture
def settings(settings):
    return settings.__class__(**{**settings.__dict__, "visitor_rate": 10**6, "address_rate": 10**6,
                                 "login_free_failures": 10**6, "login_address_free_failures": 10**6, "chat_rate": 10**6,
                                 "handoff_rate": 10**6, "typing_rate": 10**6, "api_token": "api-test-token"})


def browser_for(path: str, visitor, agent):
    return agent if path.startswith("/agent/") else visitor


@pytest.mark.parametrize("size", [64 * 1024 + 1, 10 * 1024 * 1024])
def test_a_body_over_64_kb_is_refused_on_every_route_before_any_check(app, visitor, agent, assigned_chat, size):
    before = fingerprint()
    body = b"text=" + b"a" * (size - 5)
    for path in unsafe_paths(app, assigned_chat.id):
        response = browser_for(path, visitor, agent).client.post(path, content=body, headers={"Content-Type": FORM})
        assert (path, response.status_code) == (path, 413)
    assert fingerprint() == before


def test_a_chunked_body_is_cut_off_at_64_kb(visitor):
    chunks = (b"text=" + b"a" * 8192 if n == 0 else b"a" * 8192 for n in range(9))
    response = visitor.client.post("/chat/messages", content=chunks,
                                   headers={"Content-Type": FORM, "X-CSRF-Token": visitor.token})
    assert response.status_code == 413 and Message.select().count() == 0


def test_a_body_just_under_the_limit_is_read(visitor):
    body = f"csrf_token={visitor.token}&text=".encode() + b"a" * 5000
    body += b"&pad=" + b"b" * (64 * 1024 - len(body) - 5)
    response = visitor.client.post("/chat/messages", content=body, headers={"Content-Type": FORM})
    assert len(body) == 64 * 1024 and response.status_code == 400 and "at most 2000 characters" in response.text


def test_the_server_refuses_a_huge_body_without_waiting_for_it(live_server):
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=3) as sock:
        sock.sendall(b"POST /chat/messages HTTP/1.1\r\nHost: x\r\nContent-Type: " + FORM.encode()
                     + b"\r\nContent-Length: 1000000000\r\n\r\ntext=")
        assert sock.recv(200).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("content_type, body", MALFORMED, ids=range(len(MALFORMED)))
def test_a_malformed_body_gets_a_4xx_and_stores_nothing(app, visitor, agent, assigned_chat, content_type, body):
    before = Message.select().count()
    for path in MESSAGE_ROUTES:
        path = path.replace("{id}", str(assigned_chat.id))
        browser = browser_for(path, visitor, agent)
        response = browser.client.post(path, content=body, headers={"Content-Type": content_type,
                                                                     "X-CSRF-Token": browser.token})
        assert 400 <= response.status_code < 500 or "%00" in body.decode("latin-1"), (path, response.status_code)
    stored = [m.text for m in Message.select().order_by(Message.id).offset(before)]
    assert all(text == plain_text(text) and "\x00" not in text for text in stored)


@pytest.mark.parametrize("content_type, body", MALFORMED, ids=range(len(MALFORMED)))
def test_no_malformed_body_breaks_any_route(app, visitor, agent, assigned_chat, content_type, body):
    for path in unsafe_paths(app, assigned_chat.id):
        if path in ("/agent/logout", "/chat/new"):
            continue  # they end the very sessions the other routes are tried with
        browser = browser_for(path, visitor, agent)
        response = browser.client.post(path, content=body, headers={"Content-Type": content_type,
                                                                     "X-CSRF-Token": browser.token})
        assert (path, response.status_code < 500) == (path, True)


@FUZZ
@given(form=st.dictionaries(st.sampled_from(["text", "client_key", "csrf_token", "score", "x"]) | st.text(max_size=12),
                            st.text(max_size=300), max_size=5))
def test_fuzzed_form_data_never_breaks_posting_a_message(visitor, form):
    last = Message.select(fn.MAX(Message.id)).scalar() or 0
    response = visitor.client.post("/chat/messages", data=form, headers={"X-CSRF-Token": visitor.token})
    assert response.status_code in (200, 201, 400, 403, 409)
    added = [m.text for m in Message.select().where(Message.id > last, Message.sender == "visitor")]
    if response.status_code == 201:
        assert added == [plain_text(form.get("text"))]
    else:
        assert added == []


@FUZZ
@given(body=st.binary(max_size=3000), content_type=st.sampled_from([FORM, "multipart/form-data; boundary=zz", "text/plain"]),
       route=st.sampled_from(["/chat/messages", "/chat/rating", "/chat/followup", "messages", "notes", "transfer",
                              "/agent/status", "/agent/login", "/agent/password"]))
def test_fuzzed_bytes_never_break_a_route(visitor, agent, assigned_chat, body, content_type, route):
    path = route if route.startswith("/") else f"/agent/sessions/{assigned_chat.id}/{route}"
    browser = browser_for(path, visitor, agent)
    response = browser.client.post(path, content=body, headers={"Content-Type": content_type,
                                                                 "X-CSRF-Token": browser.token})
    assert response.status_code < 500


def readable_get_paths(app, chat_id: int) -> list[str]:
    """Every GET route but the endless streams."""
    return [concrete(p, chat_id) for p, methods in all_routes(app) if "GET" in methods and not p.endswith("events")]


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["period", "from", "to", "agent", "limit", "cursor", "status", "after",
                                              "q"]), st.text(max_size=30), max_size=4))
def test_fuzzed_query_strings_never_break_a_page(app, agent, assigned_chat, query):
    for path in readable_get_paths(app, assigned_chat.id):
        response = agent.client.get(path, params=query, headers={"Authorization": "Bearer api-test-token"},
                                    follow_redirects=False)
        assert (path, response.status_code < 500) == (path, True)


@pytest.mark.parametrize("path", ["/agent/sessions/99999999999999999999999/take", "/api/sessions/99999999999999999999999",
                                  "/api/sessions?cursor=%C2%B2", "/api/sessions?limit=%C2%B2", "/agent/analytics?from=9999-12-31",
                                  "/api/sessions?to=9999-12-31", "/api/sessions?from=0001-01-01T00:00:00%2B14:00",
                                  "/agent/admin/agents/%00", "/api/sessions?agent=%00"])
def test_out_of_range_ids_and_dates_are_a_4xx(agent, path):
    response = agent.client.request("POST" if path.endswith("take") else "GET", path,
                                    headers={"Authorization": "Bearer api-test-token", "X-CSRF-Token": agent.token})
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize("cookie", ["handoff=\u00ff\u00fe", "handoff=null", "handoff=" + "A" * 4000, 'handoff="unterminated',
                                    "handoff=e30=.AAAA.BBBB", "handoff=; handoff=x"])
def test_a_malformed_cookie_is_a_fresh_visitor(app, cookie):
    from starlette.testclient import TestClient
    with TestClient(app) as client:
        response = client.get("/", headers={"Cookie": cookie.encode("latin-1")})
        assert response.status_code == 200 and 'name="csrf-token"' in response.text
