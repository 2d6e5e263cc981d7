"""Email: wait alerts for on-duty agents and follow-up mail for visitors, queued in the outbox, sent over SMTP."""
from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

from models import SKILL_NAMES, Agent, ChatSession, FollowUp, Message, Outbox, db, now

SIGNATURE = "\n\n-- \nEduConsult study-abroad counselling"


def queue(to: str, subject: str, body: str, event: str) -> Outbox | None:
    """Queue one email, inside the caller's transaction; None when no SMTP server is configured."""
    return Outbox.add("email", event, {"to": to, "subject": subject, "body": body})


def on_duty(idle_hours: float) -> list[Agent]:
    """Agents who can be alerted: active, with an email address, signed in and seen within idle_hours."""
    seen = now() - timedelta(hours=idle_hours)
    return list(Agent.select().where(Agent.active == True, Agent.email.is_null(False), Agent.email != "",  # noqa: E712
                                     Agent.last_seen_at >= seen).order_by(Agent.id))


def wait_alerts(minutes: float, idle_hours: float) -> int:
    """Email on-duty agents once about each chat queued for more than `minutes`; how many chats."""
    if "email" not in Outbox.channels:
        return 0
    cutoff = now() - timedelta(minutes=minutes)
    alerted = 0
    for chat in list(ChatSession.select().where(ChatSession.status == "waiting", ChatSession.queued_at < cutoff,
                                                ChatSession.wait_alerted_at.is_null())):
        with db.atomic():
            # Every worker runs this: only the one that marks the chat sends the alert.
            won = (ChatSession.update(wait_alerted_at=now())
                   .where(ChatSession.id == chat.id, ChatSession.status == "waiting",
                          ChatSession.wait_alerted_at.is_null()).execute())
            if not won:
                continue
            subject, body = wait_alert_text(chat)
            for agent in on_duty(idle_hours):
                queue(agent.email, subject, body, "wait_alert")
            alerted += 1
    return alerted


def wait_alert_text(chat: ChatSession) -> tuple[str, str]:
    waited = max(1, round((now() - chat.queued_at).total_seconds() / 60))
    last = (Message.select().where(Message.session == chat, Message.sender == "visitor")
            .order_by(Message.id.desc()).first())
    queued = ChatSession.waiting().count()
    lines = [f"A visitor has been waiting {waited} minutes for a counsellor (chat #{chat.id}).",
             f"Topic: {SKILL_NAMES.get(chat.skill, chat.skill)}. Why they asked: {chat.reason or 'unknown'}.",
             f"Chats in the queue now: {queued}."]
    if last:
        lines.append(f"\nTheir last message:\n> {last.text[:500]}")
    lines.append("\nOpen the Handoff dashboard to take the chat.")
    return f"A visitor has waited {waited} minutes for a counsellor", "\n".join(lines) + SIGNATURE


def followup_receipt(followup: FollowUp) -> Outbox | None:
    """Tell the visitor their message was kept and a counsellor will reply to this address."""
    body = ("Hello,\n\nThank you for writing to EduConsult. No counsellor could answer just then, so we have "
            "kept your message and a counsellor will reply to this address.\n\nYour message:\n> "
            + followup.text.replace("\n", "\n> "))
    return queue(followup.email, "We have your message", body + SIGNATURE, "followup")


def followup_reply(followup: FollowUp, agent: Agent, text: str) -> Outbox | None:
    """A counsellor's answer to a left message, sent to the visitor's address."""
    body = (f"Hello,\n\n{text}\n\n{agent.name}\nEduConsult counsellor\n\nYou wrote:\n> "
            + followup.text.replace("\n", "\n> "))
    return queue(followup.email, "Re: your message to EduConsult", body + SIGNATURE, "followup_reply")


def send(smtp_url: str, mail_from: str, payload: dict, timeout: float = 10.0) -> None:
    """Send one queued email; raises on failure so the outbox retries it.

    smtp://user:pass@host:587?starttls=1 upgrades with STARTTLS; smtps://host:465 is TLS from the start.
    """
    url = urlsplit(smtp_url)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = mail_from, payload["to"], payload["subject"]
    message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid(domain="handoff")
    message.set_content(payload["body"])
    if url.scheme == "smtps":
        client = smtplib.SMTP_SSL(url.hostname, url.port or 465, timeout=timeout, context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(url.hostname, url.port or 25, timeout=timeout)
    with client:
        if url.scheme != "smtps" and parse_qs(url.query).get("starttls", ["0"])[0] in ("1", "true", "yes"):
            client.starttls(context=ssl.create_default_context())
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)
