"""Email: wait alerts for on-duty agents and follow-up mail for visitors, queued in the outbox, sent over SMTP."""
from __future__ import annotations

import re
import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, quote, unquote, urlsplit

from email_validator import EmailNotValidError, validate_email

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


def wait_alerts(minutes: float, idle_hours: float, interval_minutes: float = 15.0) -> int:
    """Email each on-duty agent, at most once per `interval_minutes`, one digest of the chats that have waited
    more than `minutes` since their last digest; how many digests."""
    if "email" not in Outbox.channels:
        return 0
    stamp = now()
    overdue = list(ChatSession.waiting().where(ChatSession.queued_at < stamp - timedelta(minutes=minutes)))
    if not overdue:
        return 0
    sent, since = 0, stamp - timedelta(minutes=interval_minutes)
    for agent in on_duty(idle_hours):
        # Chats that became overdue after this agent's last digest: the news, not the same list again.
        news = [chat for chat in overdue if agent.alerted_at is None
                or chat.queued_at + timedelta(minutes=minutes) > agent.alerted_at]
        if not news or (agent.alerted_at is not None and agent.alerted_at > since):
            continue
        with db.atomic():
            # Every worker runs this: only the one that marks the agent sends their digest.
            won = (Agent.update(alerted_at=stamp)
                   .where(Agent.id == agent.id, Agent.alerted_at.is_null() | (Agent.alerted_at <= since)).execute())
            if not won:
                continue
            subject, body = digest_text(news, len(overdue))
            queue(agent.email, subject, body, "wait_alert")
            (ChatSession.update(wait_alerted_at=stamp)
             .where(ChatSession.id.in_([chat.id for chat in news]), ChatSession.wait_alerted_at.is_null()).execute())
            sent += 1
    return sent


DIGEST_CHATS = 10
PREVIEW_CHARS = 80
_LINK = re.compile(r"\S*(?:://|www\.|\.[a-z]{2,}/)\S*", re.IGNORECASE)


def preview(text: str) -> str:
    """A visitor's words as a short, quoted hint: the first line, links left out, cut to PREVIEW_CHARS."""
    line = _LINK.sub("[link]", (text.strip().splitlines() or [""])[0])
    return line if len(line) <= PREVIEW_CHARS else line[:PREVIEW_CHARS - 1].rstrip() + "…"


def digest_text(chats: list[ChatSession], queued: int) -> tuple[str, str]:
    """One email about several waiting chats: who waits, for how long, on what, and a short preview each."""
    stamp = now()
    lines = [f"{len(chats)} visitor(s) have waited longer than expected for a counsellor. Chats in the queue "
             f"now: {queued}.", ""]
    for chat in chats[:DIGEST_CHATS]:
        waited = max(1, round((stamp - chat.queued_at).total_seconds() / 60))
        last = (Message.select(Message.text).where(Message.session == chat, Message.sender == "visitor")
                .order_by(Message.id.desc()).first())
        lines.append(f"- Chat #{chat.id}, waiting {waited} min, {SKILL_NAMES.get(chat.skill, chat.skill)}, "
                     f"asked: {chat.reason or 'unknown'}")
        if last:
            lines.append(f'  "{preview(last.text)}"')
    if len(chats) > DIGEST_CHATS:
        lines.append(f"- and {len(chats) - DIGEST_CHATS} more")
    lines.append("\nOpen the Handoff dashboard to take them.")
    return f"{len(chats)} visitor(s) waiting for a counsellor", "\n".join(lines) + SIGNATURE


_LOCAL = re.compile(r"^[A-Za-z0-9._+'-]{1,64}$")


def valid_address(text: str) -> str | None:
    """One plain email address, normalised, or None: no lists, no display names, no URL parts; its local part
    holds only the characters ordinary addresses use."""
    try:
        found = validate_email(text, check_deliverability=False, allow_smtputf8=False, allow_quoted_local=False,
                               allow_domain_literal=False, allow_display_name=False)
    except EmailNotValidError:
        return None
    return found.normalized if _LOCAL.match(found.local_part) else None


def mailto(text: str) -> str:
    """A mailto: link to one validated address, encoded so nothing in it becomes a header; "" when invalid."""
    address = valid_address(text or "")
    return f"mailto:{quote(address, safe='@')}" if address else ""


def receipt_allowed(email: str, per_email: int, per_day: int) -> bool:
    """Receipts go out at most `per_email` times a day to one address and `per_day` times a day in all; the
    follow-up being written counts."""
    day = now() - timedelta(days=1)
    recent = FollowUp.select().where(FollowUp.created_at >= day)
    return recent.where(FollowUp.email == email).count() <= per_email and recent.count() <= per_day


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
