"""The abuse findings that the in-process tests show on SQLite, again against a real server: one process on
SQLite, or two workers on PostgreSQL + Redis, where limits and throttles must hold across workers."""
from __future__ import annotations

import sqlite3
import time
from datetime import timedelta

import pytest

from models import now
from tests.live import LiveBrowser
from tests.receivers import MailReceiver, body_of, eventually
from tests.security.test_races import Live
from tests.security.conftest import serve

# The limits count in fixed windows: windows this long are never straddled by a test's few requests (four new
# chats across a 600 s boundary were once all let through, as a fixed window does).
LIMITS = {"HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_CHAT_RATE": "3", "HANDOFF_HANDOFF_RATE": "2",
          "HANDOFF_TYPING_RATE": "4", "HANDOFF_API_TOKEN": "ops-token", "HANDOFF_CHAT_RATE_SECONDS": "1000000",
          "HANDOFF_HANDOFF_RATE_SECONDS": "1000000", "HANDOFF_TYPING_RATE_SECONDS": "1000000"}


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path):
    server, url = serve(request, tmp_path, **LIMITS)
    yield Live(server, url)
    server.stop()


def visitor_at(url: str, address: str) -> LiveBrowser:
    browser = LiveBrowser(url)
    browser.http.headers["X-Forwarded-For"] = address  # uvicorn trusts it from 127.0.0.1, as from a proxy
    return browser


def test_page_views_store_nothing_and_new_chats_handoffs_and_typing_are_limited_per_address(live):
    for _ in range(30):
        LiveBrowser(live.url)  # a cookie-less page view each
    assert live.query("SELECT COUNT(*) FROM chatsession") == [(0,)]
    first = [visitor_at(live.url, "192.0.2.30") for _ in range(4)]
    assert [b.say("Hello").status_code for b in first] == [201, 201, 201, 429]
    # Two workers count together: however the requests are spread, the third handoff is refused.
    assert [b.post("/chat/handoff").status_code for b in first[:3]] == [204, 204, 429]
    assert [first[0].post("/chat/typing").status_code for _ in range(5)] == [204] * 4 + [429]
    assert live.query("SELECT COUNT(*) FROM chatsession WHERE status = 'waiting'") == [(2,)]
    assert visitor_at(live.url, "192.0.2.31").say("Hello").status_code == 201


@pytest.mark.parametrize("email", ["root,victim@example.org", "x@evil.example?cc=a@example.org&bcc=b@example.org",
                                   "Victim <victim@example.org>", "a@example.org\nBcc: b@example.org"])
def test_a_left_message_takes_one_plain_address_and_only_while_nobody_can_take_the_chat(live, email):
    visitor = LiveBrowser(live.url)
    assert visitor.post("/chat/handoff").status_code == 204
    form = {"text": "Please write to me", "email": email}
    assert visitor.post("/chat/followup", form).status_code == 400
    counsellor = LiveBrowser.agent(live.url)
    live.present("agent_001")  # their dashboard is open: they can take the chat
    assert visitor.post("/chat/followup", {**form, "email": "li@example.org"}).status_code == 409
    assert live.query("SELECT COUNT(*) FROM followup") == [(0,)]
    counsellor.post("/agent/logout")
    assert visitor.post("/chat/followup", {**form, "email": "li@example.org"}).status_code == 201
    assert live.query("SELECT email FROM followup") == [("li@example.org",)]


def test_failures_on_an_unknown_id_never_slow_a_real_account(live):
    for _ in range(12):
        LiveBrowser(live.url, "/agent/login").post("/agent/login", {"agent_id": "agent_999", "password": "wrong"})
    LiveBrowser.agent(live.url)  # the right password goes in at once


def test_health_says_only_ok_staff_pages_are_not_stored_and_skills_are_checked(live):
    anyone = LiveBrowser(live.url).http.get("/healthz")
    assert anyone.json() == {"status": "ok"}
    operator = LiveBrowser(live.url).http.get("/healthz", headers={"Authorization": "Bearer ops-token"})
    assert "streams" in operator.json() and "loop" in operator.json()
    sarah = LiveBrowser.agent(live.url)
    assert "no-store" in sarah.http.get("/agent/dashboard").headers["cache-control"]
    visitor = LiveBrowser(live.url)
    assert visitor.post("/chat/handoff").status_code == 204
    chat_id = live.query("SELECT id FROM chatsession WHERE status = 'waiting'")[0][0]
    assert sarah.post(f"/agent/sessions/{chat_id}/take").status_code == 200
    refused = sarah.post(f"/agent/sessions/{chat_id}/transfer", {"agent_id": "skill:<script>"})
    assert refused.status_code == 400
    assert live.query("SELECT status FROM chatsession WHERE id = ?", chat_id) == [("assigned",)]


@pytest.fixture(params=["sqlite", "postgresql"])
def mailing(request, tmp_path):
    smtp = MailReceiver()
    server, url = serve(request, tmp_path, HANDOFF_AUTO_ASSIGN="0", HANDOFF_SMTP_URL=smtp.url,
                        HANDOFF_RECEIPTS_PER_EMAIL="2", HANDOFF_WAIT_ALERT_MINUTES="0.05", HANDOFF_SWEEP_SECONDS="1",
                        HANDOFF_OUTBOX_POLL_SECONDS="1")
    yield Live(server, url), smtp
    server.stop()
    smtp.close()


def test_receipts_are_capped_and_every_worker_sends_one_digest_in_all(mailing):
    live, smtp = mailing
    # On duty (seen within the idle hours) but not present: the visitors may leave messages.
    seen = now() - timedelta(minutes=5)
    if live.database_url.startswith("sqlite"):
        with sqlite3.connect(live.database_url.split("///", 1)[1]) as connection:
            connection.execute("UPDATE agent SET email = ?, last_seen_at = ? WHERE agent_id = 'agent_001'",
                               ("sarah@educonsult.test", str(seen)))
    else:
        import psycopg
        with psycopg.connect(live.database_url) as connection:
            connection.execute("UPDATE agent SET email = %s, last_seen_at = %s WHERE agent_id = 'agent_001'",
                               ("sarah@educonsult.test", seen))
    for n in range(4):
        visitor = LiveBrowser(live.url)
        assert visitor.post("/chat/handoff").status_code == 204
        form = {"text": "Sign in at https://evil.example/login", "email": "victim@example.org"}
        assert visitor.post("/chat/followup", form).status_code == 201
    for _ in range(6):
        assert LiveBrowser(live.url).post("/chat/handoff").status_code == 204
    eventually(lambda: any("sarah@educonsult.test" in m["To"] for m in smtp.messages), 60)
    time.sleep(4)  # several sweeps of each worker: none may send a second digest within the interval
    recipients = sorted(m["To"] for m in smtp.messages)
    assert recipients == ["sarah@educonsult.test", "victim@example.org", "victim@example.org"]
    digest = next(body_of(m) for m in smtp.messages if m["To"] == "sarah@educonsult.test")
    assert "evil.example" not in digest and "https://" not in digest
