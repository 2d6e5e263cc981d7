"""Email through a real SMTP server: wait alerts to on-duty agents, follow-up mail to visitors, retries."""
import dataclasses
import json
import socket
from datetime import timedelta

import pytest
from starlette.testclient import TestClient

import conversation
from delivery import mail
from app import create_app
from models import Agent, ChatSession, FollowUp, Message, Outbox, now
from tests.conftest import Browser
from tests.receivers import MailReceiver, body_of, eventually


@pytest.fixture
def smtp():
    server = MailReceiver()
    yield server
    server.close()


def mailing(settings, url: str, **changes):
    return create_app(dataclasses.replace(settings, smtp_url=url, mail_from="EduConsult <help@educonsult.test>",
                                          **{"outbox_poll_seconds": 0.05, "outbox_retry_seconds": 0.05, **changes}))


def on_duty(agent_id: str, email: str | None, seen_minutes_ago: float | None) -> None:
    seen = None if seen_minutes_ago is None else now() - timedelta(minutes=seen_minutes_ago)
    Agent.update(email=email, last_seen_at=seen).where(Agent.agent_id == agent_id).execute()


def waiting_for(minutes: float, text: str = "Can someone check my visa documents?") -> ChatSession:
    chat = ChatSession.create()
    Message.create(session=chat, sender="visitor", text=text)
    conversation.request_human(chat)
    ChatSession.update(queued_at=now() - timedelta(minutes=minutes)).where(ChatSession.id == chat.id).execute()
    return chat


def test_send_delivers_a_plain_text_email(smtp):
    mail.send(smtp.url, "EduConsult <help@educonsult.test>",
              {"to": "visitor@example.com", "subject": "Hello", "body": "Line one\nLine two – ünïcode"})
    message = smtp.wait_for(1)[0]
    assert (message["To"], message["Subject"], message["From"]) == (
        "visitor@example.com", "Hello", "EduConsult <help@educonsult.test>")
    assert body_of(message).strip() == "Line one\nLine two – ünïcode" and message["Message-ID"]


def test_agents_on_duty_hear_once_about_a_long_wait(settings, smtp):
    with TestClient(mailing(settings, smtp.url, wait_alert_minutes=5)):
        on_duty("agent_001", "sarah@educonsult.test", 2)
        on_duty("agent_002", "michael@educonsult.test", None)  # signed out
        on_duty("agent_003", None, 2)  # no address
        on_duty("agent_004", "david@educonsult.test", 60 * 24)  # gone since yesterday
        long = waiting_for(7, "My visa interview is tomorrow!")
        waiting_for(2)
        message = smtp.wait_for(1)[0]
        mail.queue("ops@example.com", "Marker", "Body", "test")  # the round that sends it looks for long waits first
        smtp.wait_for(2)
    assert [m["Subject"] for m in smtp.messages][1:] == ["Marker"] and message["To"] == "sarah@educonsult.test"
    assert message["Subject"] == "1 visitor(s) waiting for a counsellor"
    assert "waiting 7 min" in body_of(message) and '"My visa interview is tomorrow!"' in body_of(message)
    assert ChatSession.get_by_id(long.id).wait_alerted_at is not None


def test_a_visitors_left_message_is_confirmed_by_email(settings, smtp):
    with TestClient(mailing(settings, smtp.url)) as client:
        visitor = Browser(client)
        visitor.get("/")
        visitor.post("/chat/handoff")
        chat = ChatSession.get()
        conversation.leave_followup(chat, "maria@example.com", "Please call me about\nthe Toronto offer", settings)
        message = smtp.wait_for(1)[0]
    assert message["To"] == "maria@example.com" and message["Subject"] == "We have your message"
    assert "> Please call me about\n> the Toronto offer" in body_of(message)


def test_a_counsellors_reply_to_a_left_message_is_mailed(settings, smtp):
    with TestClient(mailing(settings, smtp.url)):
        followup = FollowUp.create(email="li@example.com", text="Which UK universities take a 6.0 IELTS?")
        mail.followup_reply(followup, Agent.by_agent_id("agent_003"), "Several do; here is a short list.")
        message = smtp.wait_for(1)[0]
    body = body_of(message)
    assert message["To"] == "li@example.com" and message["Subject"] == "Re: your message to EduConsult"
    assert body.index("Several do") < body.index("Emma Williams") < body.index("> Which UK universities")


def test_a_temporary_smtp_refusal_is_retried(settings):
    smtp = MailReceiver(refuse=2)
    try:
        with TestClient(mailing(settings, smtp.url)):
            mail.queue("ops@example.com", "Test", "Body", "wait_alert")
            smtp.wait_for(1)
            row = eventually(lambda: Outbox.get_or_none(Outbox.delivered_at.is_null(False)))
    finally:
        smtp.close()
    assert smtp.refused == 2 and row.attempts == 3


def test_without_smtp_nothing_is_queued(app):
    on_duty("agent_001", "sarah@educonsult.test", 2)
    waiting_for(30)
    assert mail.wait_alerts(5, 12) == 0 and mail.queue("a@example.com", "s", "b", "test") is None
    assert Outbox.select().count() == 0


def test_an_smtp_server_that_never_answers_never_slows_a_chat(settings):
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes connections, never greets
        silent.settimeout(30)
        url = f"smtp://127.0.0.1:{silent.getsockname()[1]}"
        with TestClient(mailing(settings, url, delivery_timeout_seconds=60)) as client:
            visitor = Browser(client)
            visitor.get("/")
            mail.queue("ops@example.com", "Test", "Body", "wait_alert")
            connection, _ = silent.accept()  # the deliverer now waits for a greeting
            with connection:
                for _ in range(3):
                    assert visitor.say("Hello, is anyone there?").status_code < 300
                row = Outbox.get()
    assert row.attempts == 1 and row.last_error is None and row.delivered_at is None  # still waiting meanwhile


def test_receipts_are_capped_per_address_and_per_day(settings, smtp):
    app = mailing(settings, smtp.url, receipts_per_email=2)
    with TestClient(app):
        for n in range(4):
            chat = ChatSession.create(status="waiting")
            email = "same@example.com" if n < 3 else "other@example.com"
            conversation.leave_followup(chat, email, f"note {n}", app.state.settings)
        receipts = [row.payload for row in Outbox.select().where(Outbox.event == "followup")]
    assert FollowUp.select().count() == 4 and len(receipts) == 3  # the third to the same address is kept, not mailed
    assert sum("same@example.com" in r for r in receipts) == 2


def test_many_long_waits_make_one_short_digest_per_agent_per_interval(settings, smtp):
    phishing = "URGENT: your account is locked, sign in at https://evil.example/login now " + "x" * 300
    mailing(settings, smtp.url)  # not started: the alerts below are the only ones
    on_duty("agent_001", "sarah@educonsult.test", 2)
    on_duty("agent_002", "michael@educonsult.test", 2)
    for _ in range(20):
        waiting_for(7, phishing)
    Outbox.delete().execute()
    assert mail.wait_alerts(5, 12, 15) == 2
    waiting_for(8, "Another long wait")
    assert mail.wait_alerts(5, 12, 15) == 0  # the next digest waits for the interval
    digests = [json.loads(row.payload) for row in Outbox.select().where(Outbox.event == "wait_alert")]
    assert sorted(d["to"] for d in digests) == ["michael@educonsult.test", "sarah@educonsult.test"]
    body = digests[0]["body"]
    assert "20 visitor(s)" in digests[0]["subject"] and "evil.example" not in body and "https://" not in body
    assert max(len(line) for line in body.splitlines() if line.startswith('  "')) <= 2 + 2 + mail.PREVIEW_CHARS
    assert body.count("Chat #") == mail.DIGEST_CHATS and "and 10 more" in body


def test_the_next_interval_brings_only_the_news(settings, smtp):
    mailing(settings, smtp.url)  # not started: the alerts below are the only ones
    on_duty("agent_001", "sarah@educonsult.test", 2)
    waiting_for(30, "First")
    assert mail.wait_alerts(5, 12, 15) == 1
    Agent.update(alerted_at=now() - timedelta(minutes=16)).execute()
    assert mail.wait_alerts(5, 12, 15) == 0  # nothing has become overdue since
    waiting_for(6, "Second")
    assert mail.wait_alerts(5, 12, 15) == 1
    last = json.loads(Outbox.select().where(Outbox.event == "wait_alert").order_by(Outbox.id.desc()).get().payload)
    assert '"Second"' in last["body"] and '"First"' not in last["body"]
