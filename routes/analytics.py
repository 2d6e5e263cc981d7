"""Analytics for support leads: the page with server-drawn charts, and CSV of its figures and of transcripts."""
from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

import analytics
from analytics import OUTCOMES, PERIODS, REASONS, PeriodError, Report
from models import Agent
from routes.agent import requires_agent
from routes.common import render


class ScopeError(ValueError):
    """An agent filter that names nobody."""


def scope(request: Request) -> Agent | None:
    """Whose chats: an agent sees only their own; an admin sees everyone's, or one counsellor's with ?agent=."""
    agent: Agent = request.state.agent
    if not agent.is_admin:
        return agent
    wanted = request.query_params.get("agent")
    if not wanted:
        return None
    chosen = Agent.by_agent_id(wanted)
    if chosen is None:
        raise ScopeError("There is no counsellor with that ID.")
    return chosen


def load(request: Request, figures: bool = True):
    """(period, scope, report) for the request; raises PeriodError or ScopeError."""
    period = analytics.period_from(request.query_params, request.app.state.settings.timezone)
    who = scope(request)
    return period, who, analytics.report(period, who) if figures else None


def page_context(request: Request) -> dict:
    agent: Agent = request.state.agent
    wanted = request.query_params.get("agent", "") if agent.is_admin else ""
    keep = {"agent": wanted} if wanted else {}  # links to other periods stay on the chosen counsellor
    context = {"agent": agent, "error": None, "report": None, "chosen": wanted, "scope_name": agent.name,
               "presets": [(key, label) for key, (label, _) in PERIODS.items() if key != "custom"],
               "choices": list(Agent.select().order_by(Agent.agent_id)) if agent.is_admin else [],
               "duration": analytics.duration, "percent": analytics.percent, "share": analytics.share,
               "average": analytics.average,
               "link": lambda path, **params: f"{path}?{urlencode({**params, **keep})}"}
    today = analytics.local_today(request.app.state.settings.timezone)
    context["dates"] = (request.query_params.get("from") or today.isoformat(),
                        request.query_params.get("to") or today.isoformat())
    try:
        period, who, report = load(request)
    except (PeriodError, ScopeError) as error:
        context["error"] = str(error)
        return context
    context["dates"] = (period.first.isoformat(), period.last.isoformat())
    context["report"] = report
    context["scope_name"] = who.name if who else ""
    shown = [key for key in OUTCOMES if not (report.agent_id and key == "bot_resolved")]
    context["outcome_rows"] = [(key, OUTCOMES[key], report.outcomes[key]) for key in shown]
    context["reason_rows"] = [(key, REASONS.get(key, key.replace("_", " ").capitalize()), n)
                              for key, n in report.reasons]
    context["rating_rows"] = [(str(score), f"{score} star{'s' if score > 1 else ''}", report.ratings[score])
                              for score in range(5, 0, -1)]
    return context


@requires_agent(page=True)
async def analytics_page(request: Request):
    context = await run_in_threadpool(page_context, request)
    return render(request, "analytics/page.html", status_code=400 if context["error"] else 200, **context)


def csv_text(rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([analytics.safe_cell(cell) for cell in row])
    return buffer.getvalue()


def csv_response(text: str, name: str) -> Response:
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def figures_csv(report: Report) -> str:
    return csv_text([("figure", "value"), *analytics.flatten(report.as_dict())])


def _file_name(kind: str, report_or_period) -> str:
    period = getattr(report_or_period, "period", report_or_period)
    return f"handoff-{kind}-{period.first.isoformat()}-to-{period.last.isoformat()}.csv"


@requires_agent(page=True)
async def analytics_csv(request: Request):
    try:
        _, _, report = await run_in_threadpool(load, request)
    except (PeriodError, ScopeError) as error:
        return PlainTextResponse(str(error), status_code=400)
    return csv_response(figures_csv(report), _file_name("analytics", report))


@requires_agent(page=True)
async def analytics_transcripts_csv(request: Request):
    def build() -> tuple[str, object]:
        period, who, _ = load(request, figures=False)
        return csv_text([analytics.TRANSCRIPT_COLUMNS, *analytics.transcript_rows(period, who)]), period

    try:
        text, period = await run_in_threadpool(build)
    except (PeriodError, ScopeError) as error:
        return PlainTextResponse(str(error), status_code=400)
    return csv_response(text, _file_name("transcripts", period))


routes = [
    Route("/agent/analytics", analytics_page, name="analytics_page"),
    Route("/agent/analytics.csv", analytics_csv, name="analytics_csv"),
    Route("/agent/analytics/transcripts.csv", analytics_transcripts_csv, name="analytics_transcripts_csv"),
]
