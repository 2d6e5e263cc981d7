"""The analytics page, its CSV exports and the figures behind them, on a week of chats with known times."""
import csv
import io
import re
from datetime import date, datetime, timedelta

import pytest

import analytics
from models import AgentSession, ChatSession, Message, SessionAnalytics
from tests.analytics_data import make_chat
from tests.conftest import login

WEEK = "period=custom&from=2025-03-03&to=2025-03-09"
HOURS = {f"hour.{h:02d}": "0" for h in range(24)} | {"hour.08": "1", "hour.09": "2", "hour.10": "2",
                                                     "hour.14": "2", "hour.20": "1", "hour.23": "1"}
EXPECTED = {
    "conversations": "9", "closed": "7", "open": "2", "bot_share": "43%", "bot_resolved": "3",
    "handoff_rate": "56%", "escalated": "5", "abandoned": "1", "abandoned_share": "20%",
    "wait_median": "4m 00s", "wait_p90": "10m 00s", "first_response_median": "1m 00s", "handle_median": "20m 00s",
    "csat": "3.8", "rated": "5",
    "outcome.bot_resolved": "3", "outcome.bot_resolved.share": "33%", "outcome.human_resolved": "3",
    "outcome.human_resolved.share": "33%", "outcome.abandoned": "1", "outcome.abandoned.share": "11%",
    "outcome.open": "2", "outcome.open.share": "22%",
    "reason.requested": "3", "reason.requested.share": "60%", "reason.frustration": "1",
    "reason.frustration.share": "20%", "reason.complex": "1", "reason.complex.share": "20%",
    "wait.median": "4m 00s", "wait.p90": "10m 00s", "wait.count": "3",
    "first_response.median": "1m 00s", "first_response.p90": "2m 00s", "first_response.count": "3",
    "handle.median": "20m 00s", "handle.p90": "30m 00s", "handle.count": "3",
    "rating.5": "2", "rating.5.share": "40%", "rating.4": "1", "rating.4.share": "20%", "rating.3": "1",
    "rating.3.share": "20%", "rating.2": "1", "rating.2.share": "20%", "rating.1": "0", "rating.1.share": "0%",
    **HOURS,
    **{f"agent.{a}.{k}": v for a in ("agent_001", "agent_004") for k, v in
       {"chats": "0", "closed": "0", "wait": "–", "first_response": "–", "handle": "–", "csat": "–",
        "rated": "0"}.items()},
    "agent.agent_002.chats": "3", "agent.agent_002.closed": "2", "agent.agent_002.wait": "3m 00s",
    "agent.agent_002.first_response": "45s", "agent.agent_002.handle": "15m 00s", "agent.agent_002.csat": "4.5",
    "agent.agent_002.rated": "2",
    "agent.agent_003.chats": "1", "agent.agent_003.closed": "1", "agent.agent_003.wait": "10m 00s",
    "agent.agent_003.first_response": "2m 00s", "agent.agent_003.handle": "30m 00s", "agent.agent_003.csat": "2.0",
    "agent.agent_003.rated": "1",
}


def day(d: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, d, hour, minute)


@pytest.fixture
def week(app):
    """Nine chats in the week of 3 March 2025 and two just outside it; times in seconds after each start."""
    make_chat(day(4, 9, 10), close=300, rating=5, close_reason="bot_idle")
    make_chat(day(4, 9, 40), close=120, close_reason="bot_idle")
    make_chat(day(4, 10, 5), escalate=60, assign=180, respond=210, close=780, reason="requested",
              agent="agent_002", rating=4)
    make_chat(day(4, 10, 30), escalate=120, assign=360, respond=420, close=1560, reason="frustration",
              agent="agent_002", rating=5)
    make_chat(day(5, 14, 0), escalate=0, assign=600, respond=720, close=2400, reason="complex",
              agent="agent_003", rating=2)
    make_chat(day(5, 14, 20), escalate=60, close=1200, reason="requested", close_reason="abandoned")
    make_chat(day(6, 23, 50), escalate=60, assign=120, reason="requested", agent="agent_002")
    make_chat(day(8, 20, 15), close=200, rating=3, close_reason="bot_idle")
    make_chat(day(9, 8, 0))
    make_chat(day(2, 12, 0), close=60, rating=1)
    make_chat(day(10, 0, 0), close=60, rating=1)


@pytest.fixture
def sign_in(app):
    """Sign in as any agent; their clients are closed after the test."""
    browsers = []

    def as_agent(agent_id: str):
        browsers.append(login(app, agent_id))
        return browsers[-1]

    yield as_agent
    for browser in browsers:
        browser.client.__exit__(None, None, None)


def figures(html: str) -> dict[str, str]:
    """Every data-figure on the page; a figure shown twice must show the same value."""
    found: dict[str, str] = {}
    for name, value in re.findall(r'data-figure="([^"]+)">([^<]*)<', html):
        assert found.setdefault(name, value) == value, name
    return found


def test_page_shows_every_figure_of_a_known_week(week, agent):
    response = agent.get(f"/agent/analytics?{WEEK}")
    assert response.status_code == 200
    assert figures(response.text) == EXPECTED


def test_charts_are_inline_svg_drawn_from_the_same_figures(week, agent):
    html = agent.get(f"/agent/analytics?{WEEK}").text
    outcomes = html.split('id="outcomes-chart"')[1].split("</svg>")[0]
    assert re.findall(r'class="bar bar-(\w+)"[^>]*data-value="(\d+)"', outcomes) == [
        ("bot_resolved", "3"), ("human_resolved", "3"), ("abandoned", "1"), ("open", "2")]
    hours = html.split('id="hours-chart"')[1].split("</svg>")[0]
    drawn = [int(v) for v in re.findall(r'data-value="(\d+)"', hours)]
    assert drawn == [int(HOURS[f"hour.{h:02d}"]) for h in range(24)]
    assert " style=" not in html and "<script>" not in html  # the CSP allows neither


def test_an_agent_sees_only_their_own_chats(week, sign_in):
    page = sign_in("agent_002").get(f"/agent/analytics?{WEEK}&agent=agent_003").text
    shown = figures(page)
    assert shown["conversations"] == "3" and shown["closed"] == "2" and shown["wait.median"] == "3m 00s"
    assert shown["reason.requested"] == "2" and shown["reason.requested.share"] == "67%"
    assert {k.split(".")[1] for k in shown if k.startswith("agent.")} == {"agent_002"}
    assert "bot_share" not in shown and 'name="agent"' not in page


def test_an_admin_can_look_at_one_counsellor(week, agent):
    shown = figures(agent.get(f"/agent/analytics?{WEEK}&agent=agent_003").text)
    assert shown["conversations"] == "1" and shown["csat"] == "2.0" and shown["handle.median"] == "30m 00s"
    assert agent.get(f"/agent/analytics?{WEEK}&agent=nobody").status_code == 400


def test_a_period_without_chats_shows_an_empty_state(week, agent):
    response = agent.get("/agent/analytics?period=custom&from=2024-01-01&to=2024-01-31")
    assert response.status_code == 200 and "No conversations in this period" in response.text
    assert figures(response.text) == {}


@pytest.mark.parametrize("query, problem", [
    ("period=year", "Choose today"), ("period=custom&from=03/03/2025&to=2025-03-09", "YYYY-MM-DD"),
    ("period=custom&from=2025-03-09&to=2025-03-01", "must not be before"),
    ("period=custom&from=2020-01-01&to=2025-01-01", "at most 366 days"),
])
def test_a_bad_period_is_explained(agent, query, problem):
    response = agent.get(f"/agent/analytics?{query}")
    assert response.status_code == 400 and problem in response.text
    assert agent.get(f"/agent/analytics.csv?{query}").status_code == 400


@pytest.mark.parametrize("path", ["/agent/analytics", "/agent/analytics.csv", "/agent/analytics/transcripts.csv"])
def test_analytics_needs_a_signed_in_agent(visitor, path):
    response = visitor.client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/agent/login"


@pytest.mark.parametrize("params, first, last", [
    ({"period": "today"}, date(2025, 3, 9), date(2025, 3, 9)),
    ({"period": "7d"}, date(2025, 3, 3), date(2025, 3, 9)),
    ({}, date(2025, 3, 3), date(2025, 3, 9)),
    ({"period": "30d"}, date(2025, 2, 8), date(2025, 3, 9)),
    ({"from": "2025-01-01", "to": "2025-01-02"}, date(2025, 1, 1), date(2025, 1, 2)),
])
def test_periods_are_local_days(params, first, last):
    period = analytics.period_from(params, "UTC", today=date(2025, 3, 9))
    assert (period.first, period.last) == (first, last)


def test_a_period_begins_at_local_midnight():
    period = analytics.period_from({"period": "today"}, "Asia/Kolkata", today=date(2025, 3, 9))
    assert (period.start, period.end) == (datetime(2025, 3, 8, 18, 30), datetime(2025, 3, 9, 18, 30))
    assert period.local_hour(datetime(2025, 3, 8, 18, 45)) == 0


@pytest.mark.parametrize("values, median, p90", [
    ([], None, None), ([5], 5, 5), ([1, 2, 3, 4], 2.5, 4), (list(range(1, 21)), 10.5, 18), ([9, 1, 5], 5, 9),
])
def test_median_and_nearest_rank_p90(values, median, p90):
    times = analytics.Times.of(values + [None])
    assert (times.count, times.median, times.p90) == (len(values), median, p90)


@pytest.mark.parametrize("seconds, shown", [(None, "–"), (0, "0s"), (59.4, "59s"), (60, "1m 00s"),
                                            (3599, "59m 59s"), (3600, "1h 00m"), (7380, "2h 03m")])
def test_durations(seconds, shown):
    assert analytics.duration(seconds) == shown


def test_figures_csv_has_the_figures_of_the_page(week, agent):
    response = agent.get(f"/agent/analytics.csv?{WEEK}")
    assert response.headers["content-type"].startswith("text/csv")
    assert "handoff-analytics-2025-03-03-to-2025-03-09.csv" in response.headers["content-disposition"]
    rows = dict(list(csv.reader(io.StringIO(response.text)))[1:])
    assert rows["conversations"] == "9" and rows["outcomes.abandoned"] == "1" and rows["csat.average"] == "3.8"
    assert rows["wait_seconds.median"] == "240.0" and rows["wait_seconds.p90"] == "600.0"
    assert rows["handoff_reasons.requested"] == "3" and rows["chats_by_hour.23"] == "1"
    assert rows["agents.agent_002.handle_seconds.median"] == "900.0" and rows["csat.distribution.5"] == "2"


@pytest.mark.parametrize("cell, safe", [("=SUM(A1:A9)", "'=SUM(A1:A9)"), ("+1", "'+1"), ("-1", "'-1"),
                                        ("@cmd", "'@cmd"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("ok = 1", "ok = 1"),
                                        (-1, -1), (None, "")])
def test_cells_that_could_run_as_formulas_are_quoted(cell, safe):
    assert analytics.safe_cell(cell) == safe


def test_transcripts_csv_has_the_periods_messages_safely(week, agent):
    chat = make_chat(day(7, 11), escalate=60, assign=90, respond=100, agent="agent_001",
                     text='=HYPERLINK("http://evil.example","click")')
    Message.create(session=chat, sender="agent", agent=chat.agent, text="-visa refused", internal=True)
    rows = list(csv.DictReader(io.StringIO(agent.get(f"/agent/analytics/transcripts.csv?{WEEK}").text)))
    assert len({r["session_id"] for r in rows}) == 10 and len(rows) == 10 + 5
    mine = [r for r in rows if r["session_id"] == str(chat.id)]
    assert [r["text"] for r in mine] == ["'=HYPERLINK(\"http://evil.example\",\"click\")", "Hi, I can help.",
                                         "'-visa refused"]
    assert [r["internal"] for r in mine] == ["no", "no", "yes"] and mine[2]["author"] == "agent_001"


def test_an_agents_transcripts_are_only_their_chats(week, sign_in):
    rows = list(csv.DictReader(io.StringIO(sign_in("agent_003").get(f"/agent/analytics/transcripts.csv?{WEEK}").text)))
    assert {r["session_agent"] for r in rows} == {"agent_003"} and len(rows) == 2


def test_waits_and_handle_times_run_from_the_first_counsellor_after_a_transfer(agent):
    chat = make_chat(day(4, 9), escalate=60, assign=120, respond=150, reason="complex", agent="agent_001")
    later = day(4, 9, 10)
    AgentSession.create(session=chat, action="transfer", agent=chat.agent, created_at=later)
    ChatSession.update(assigned_at=later, status="closed", closed_at=day(4, 9, 20)).where(
        ChatSession.id == chat.id).execute()
    figures_ = SessionAnalytics.record(ChatSession.get_by_id(chat.id))
    assert (figures_.wait_seconds, figures_.first_response_seconds, figures_.handle_seconds) == (60, 30, 1080)


def test_a_requeued_chat_the_visitor_left_counts_as_abandoned(agent):
    chat = make_chat(day(4, 9), escalate=60, assign=120, reason="urgent", agent="agent_001")
    ChatSession.update(status="closed", agent=None, closed_at=day(4, 9, 30), close_reason="abandoned").where(
        ChatSession.id == chat.id).execute()
    assert SessionAnalytics.record(ChatSession.get_by_id(chat.id)).outcome == "abandoned"


def test_closing_through_the_app_records_the_figures_the_page_shows(visitor, agent):
    visitor.say("I need to talk to a human about my visa")
    chat = ChatSession.get()
    agent.post(f"/agent/sessions/{chat.id}/take")
    agent.post(f"/agent/sessions/{chat.id}/messages", {"text": "Hello!"})
    agent.post(f"/agent/sessions/{chat.id}/close")
    visitor.post("/chat/rating", {"score": "4"})
    shown = figures(agent.get("/agent/analytics?period=today").text)
    assert shown["conversations"] == "1" and shown["outcome.human_resolved"] == "1" and shown["csat"] == "4.0"
    assert shown["agent.agent_001.chats"] == "1" and shown["wait.count"] == "1"
    assert timedelta(0) <= timedelta(seconds=SessionAnalytics.get().wait_seconds) < timedelta(seconds=30)
