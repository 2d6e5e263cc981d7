"""Analytics for a period: figures computed from the stored chats and their closing records.

A chat belongs to the period it began in (local days in HANDOFF_TIMEZONE). Counts cover every chat
begun in the period; times (wait, first response, handle) and outcomes cover those already closed,
from the SessionAnalytics row written when each closed.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from statistics import median
from typing import Iterable, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import Agent, ChatSession, Message

PERIODS = {"today": ("Today", 1), "7d": ("Last 7 days", 7), "30d": ("Last 30 days", 30), "custom": ("Custom", 0)}
MAX_DAYS = 366
OUTCOMES = {"bot_resolved": "Resolved by the bot", "human_resolved": "Resolved by a counsellor",
            "abandoned": "Left while waiting", "open": "Still open"}
REASONS = {"requested": "Asked for a human", "frustration": "Frustration", "repeat": "Repeated question",
           "complex": "Complex case", "urgent": "Urgent", "fallback": "Bot had no answer",
           "low_confidence": "Bot unsure"}


class PeriodError(ValueError):
    """A period the page cannot show, with a readable reason."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@dataclass(frozen=True)
class Period:
    key: str  # today | 7d | 30d | custom
    first: date  # local days, both included
    last: date
    tz: str = "UTC"

    def _utc(self, day: date) -> datetime:
        local = datetime.combine(day, time(0), tzinfo=zone(self.tz))
        return local.astimezone(timezone.utc).replace(tzinfo=None)

    @property
    def start(self) -> datetime:
        return self._utc(self.first)

    @property
    def end(self) -> datetime:
        return self._utc(self.last + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        def day(d: date, year: bool) -> str:
            return f"{d.day} {d:%b}" + (f" {d.year}" if year else "")
        if self.first == self.last:
            return day(self.first, True)
        return f"{day(self.first, self.first.year != self.last.year)} – {day(self.last, True)}"

    def local_hour(self, stamp: datetime) -> int:
        return stamp.replace(tzinfo=timezone.utc).astimezone(zone(self.tz)).hour

    def query(self) -> dict[str, str]:
        """The URL parameters that choose this period again."""
        if self.key == "custom":
            return {"period": "custom", "from": self.first.isoformat(), "to": self.last.isoformat()}
        return {"period": self.key}


def local_today(tz: str) -> date:
    return datetime.now(zone(tz)).date()


def period_from(params: Mapping[str, str], tz: str = "UTC", today: date | None = None) -> Period:
    """The period asked for by ?period=today|7d|30d or ?period=custom&from=YYYY-MM-DD&to=YYYY-MM-DD (7d by default)."""
    today = today or local_today(tz)
    key = params.get("period") or ("custom" if params.get("from") or params.get("to") else "7d")
    if key not in PERIODS:
        raise PeriodError("Choose today, the last 7 days, the last 30 days or custom dates.")
    if key != "custom":
        return Period(key, today - timedelta(days=PERIODS[key][1] - 1), today, tz)
    try:
        first = date.fromisoformat(params.get("from") or "")
        last = date.fromisoformat(params.get("to") or params.get("from") or "")
    except ValueError:
        raise PeriodError("Enter custom dates as YYYY-MM-DD.") from None
    if last < first:
        raise PeriodError("The end date must not be before the start date.")
    if first.year < 1970 or last.year > 2999:  # far dates overflow when shifted to UTC
        raise PeriodError("Choose dates from 1970 to 2999.")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"Choose at most {MAX_DAYS} days.")
    return Period("custom", first, last, tz)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `share` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Times:
    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Iterable[float | None]) -> "Times":
        present = [v for v in values if v is not None]
        return cls(len(present), median(present) if present else None, percentile(present, 0.9))

    def as_dict(self) -> dict:
        return {"count": self.count, "median": self.median, "p90": self.p90}


@dataclass
class AgentFigures:
    agent_id: str
    name: str
    chats: int
    closed: int
    wait: Times
    first_response: Times
    handle: Times
    ratings: list[int]

    @property
    def csat(self) -> float | None:
        return sum(self.ratings) / len(self.ratings) if self.ratings else None

    def as_dict(self) -> dict:
        return {"agent_id": self.agent_id, "name": self.name, "chats": self.chats, "closed": self.closed,
                "wait_seconds": self.wait.as_dict(), "first_response_seconds": self.first_response.as_dict(),
                "handle_seconds": self.handle.as_dict(),
                "csat": {"average": self.csat, "count": len(self.ratings)}}


@dataclass
class Report:
    period: Period
    agent_id: str | None  # the one agent these figures are limited to, if any
    conversations: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    escalated: int = 0
    reasons: list[tuple[str, int]] = field(default_factory=list)
    wait: Times = field(default_factory=Times)
    first_response: Times = field(default_factory=Times)
    handle: Times = field(default_factory=Times)
    ratings: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 6), 0))
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    agents: list[AgentFigures] = field(default_factory=list)

    @property
    def closed(self) -> int:
        return self.conversations - self.outcomes["open"]

    @property
    def bot_share(self) -> float | None:
        return self.outcomes["bot_resolved"] / self.closed if self.closed else None

    @property
    def handoff_rate(self) -> float | None:
        return self.escalated / self.conversations if self.conversations else None

    @property
    def rated(self) -> int:
        return sum(self.ratings.values())

    @property
    def csat(self) -> float | None:
        return sum(score * n for score, n in self.ratings.items()) / self.rated if self.rated else None

    def as_dict(self) -> dict:
        """Every figure on the page, for the JSON API and the CSV."""
        return {
            "period": {"key": self.period.key, "from": self.period.first.isoformat(),
                       "to": self.period.last.isoformat(), "timezone": self.period.tz},
            "agent": self.agent_id,
            "conversations": self.conversations, "closed": self.closed, "outcomes": dict(self.outcomes),
            "bot_resolved_share": self.bot_share, "escalated": self.escalated, "handoff_rate": self.handoff_rate,
            "abandoned": self.outcomes["abandoned"], "handoff_reasons": dict(self.reasons),
            "wait_seconds": self.wait.as_dict(), "first_response_seconds": self.first_response.as_dict(),
            "handle_seconds": self.handle.as_dict(),
            "csat": {"average": self.csat, "count": self.rated,
                     "distribution": {str(score): n for score, n in self.ratings.items()}},
            "chats_by_hour": list(self.hours),
            "agents": [a.as_dict() for a in self.agents],
        }


def build(rows: list[dict], period: Period, agents: list[Agent], agent_id: str | None = None) -> Report:
    """The report for rows from ChatSession.created_between, with a line per agent in `agents`."""
    report = Report(period, agent_id, conversations=len(rows))
    closed = [r for r in rows if r["outcome"]]
    report.outcomes.update(Counter(r["outcome"] for r in closed))
    report.outcomes["open"] = len(rows) - len(closed)
    escalated = [r for r in rows if r["escalated_at"]]
    report.escalated = len(escalated)
    reasons = Counter(r["reason"] or "unknown" for r in escalated)
    report.reasons = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
    report.wait, report.first_response, report.handle = times(closed)
    for r in rows:
        if r["rating"] in report.ratings:
            report.ratings[r["rating"]] += 1
        report.hours[period.local_hour(r["created_at"])] += 1
    by_agent: dict[int, list[dict]] = {}
    for r in rows:
        by_agent.setdefault(r["agent"], []).append(r)
    for agent in agents:
        mine = by_agent.get(agent.id, [])
        done = [r for r in mine if r["outcome"]]
        report.agents.append(AgentFigures(agent.agent_id, agent.name, len(mine), len(done), *times(done),
                                          [r["rating"] for r in mine if r["rating"] in report.ratings]))
    return report


def times(closed: list[dict]) -> tuple[Times, Times, Times]:
    return (Times.of(r["wait_seconds"] for r in closed), Times.of(r["first_response_seconds"] for r in closed),
            Times.of(r["handle_seconds"] for r in closed))


def report(period: Period, agent: Agent | None = None) -> Report:
    """The figures for a period, limited to one agent's chats when given (admins pass None to see all)."""
    rows = list(ChatSession.created_between(period.start, period.end, agent))
    if agent is not None:
        agents = [agent]
    else:
        seen = {r["agent"] for r in rows}
        agents = [a for a in Agent.select().order_by(Agent.agent_id) if a.active or a.id in seen]
    return build(rows, period, agents, agent.agent_id if agent else None)


def duration(seconds: float | None) -> str:
    """45s, 3m 20s, 2h 05m; a dash when there is nothing to measure."""
    if seconds is None:
        return "–"
    whole = int(round(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def percent(share: float | None) -> str:
    return "–" if share is None else f"{share * 100:.0f}%"


def share(part: int, whole: int) -> str:
    return percent(part / whole if whole else None)


def average(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def flatten(value, prefix: str = "") -> list[tuple[str, object]]:
    """Nested figures as (dotted.name, value) rows; agents keyed by agent_id, hours by two digits."""
    if isinstance(value, dict):
        return [row for key, item in value.items() for row in flatten(item, f"{prefix}{key}.")]
    if isinstance(value, list):
        keys = [item["agent_id"] if isinstance(item, dict) else f"{i:02d}" for i, item in enumerate(value)]
        return [row for key, item in zip(keys, value) for row in flatten(item, f"{prefix}{key}.")]
    return [(prefix.rstrip("."), value)]


def safe_cell(value) -> object:
    """A spreadsheet shows text, never runs it: cells that could start a formula get a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


TRANSCRIPT_COLUMNS = ["session_id", "session_created_at", "session_status", "reason", "session_agent",
                      "message_id", "created_at", "sender", "author", "internal", "text"]


def transcript_rows(period: Period, agent: Agent | None = None) -> Iterable[list]:
    """One row per message of the chats begun in the period, internal notes marked."""
    agent_ids = {a.id: a.agent_id for a in Agent.select(Agent.id, Agent.agent_id)}
    for m in Message.for_export(period.start, period.end, agent).iterator():
        chat = m.session
        yield [chat.id, chat.created_at.isoformat(timespec="seconds"), chat.status, chat.reason,
               agent_ids.get(chat.agent_id), m.id, m.created_at.isoformat(timespec="seconds"),
               m.sender, agent_ids.get(m.agent_id), "yes" if m.internal else "no", m.text]
