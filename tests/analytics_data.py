"""Chats with known timestamps for the analytics tests and the screenshot, written like the app writes them."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from models import Agent, AgentSession, ChatSession, Message, SessionAnalytics


def make_chat(created: datetime, *, escalate: float | None = None, assign: float | None = None,
              respond: float | None = None, close: float | None = None, reason: str | None = None,
              agent: str | None = None, rating: int | None = None, close_reason: str = "agent",
              text: str = "Hello") -> ChatSession:
    """A chat whose events happen the given numbers of seconds after `created`; closed ones get their figures."""
    def at(seconds):
        return created + timedelta(seconds=seconds) if seconds is not None else None

    who = Agent.by_agent_id(agent) if agent else None
    status = "closed" if close is not None else "assigned" if assign is not None else \
        "waiting" if escalate is not None else "bot"
    chat = ChatSession.create(created_at=created, status=status, escalated_at=at(escalate), queued_at=at(escalate),
                              reason=reason, agent=who, assigned_at=at(assign), first_response_at=at(respond),
                              closed_at=at(close), close_reason=close_reason if close is not None else None,
                              rating=rating, last_visitor_at=created)
    Message.create(session=chat, sender="visitor", text=text, created_at=created)
    if assign is not None:
        AgentSession.create(session=chat, action="take", agent=who, created_at=at(assign))
    if respond is not None:
        Message.create(session=chat, sender="agent", agent=who, text="Hi, I can help.", created_at=at(respond))
    if close is not None:
        SessionAnalytics.record(chat)
    return chat


REASONS = ["requested"] * 5 + ["complex"] * 3 + ["frustration"] * 2 + ["urgent", "repeat", "low_confidence"]
AGENTS = ["agent_001", "agent_002", "agent_003", "agent_004"]


def seed_week(first: date, seed: int = 5) -> int:
    """A plausible week of chats from `first`, the same every time; how many."""
    rng = random.Random(seed)
    count = 0
    for day in range(7):
        busy = 14 if (first + timedelta(days=day)).weekday() < 5 else 6
        for _ in range(busy + rng.randrange(6)):
            hour = min(23, max(0, int(rng.gauss(13, 3.5))))
            created = datetime.combine(first + timedelta(days=day), datetime.min.time()) + timedelta(
                hours=hour, minutes=rng.randrange(60))
            last_day = day == 6 and hour >= 15
            if rng.random() < 0.55:
                make_chat(created, close=None if last_day else rng.randrange(60, 900),
                          rating=rng.choice([None, None, 4, 5]) if not last_day else None, close_reason="bot_idle")
            elif rng.random() < 0.12:
                make_chat(created, escalate=60, close=60 + rng.randrange(300, 900), reason=rng.choice(REASONS),
                          close_reason="abandoned")
            else:
                wait = rng.choice([30, 45, 60, 90, 120, 180, 240, 420, 600])
                respond = wait + 60 + rng.randrange(10, 90)
                close = None if last_day else respond + rng.randrange(240, 1500)
                rating = None if close is None or rng.random() < 0.35 else rng.choices(
                    [1, 2, 3, 4, 5], weights=[3, 5, 12, 35, 45])[0]
                make_chat(created, escalate=60, assign=60 + wait, respond=respond, close=close,
                          reason=rng.choice(REASONS), agent=rng.choice(AGENTS), rating=rating)
            count += 1
    return count
