"""Handoff: create_app(settings) builds the Starlette app; `uvicorn app:app` serves the default one."""
from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import secrets
import signal
import time
from datetime import timezone
from pathlib import Path

import anyio.to_thread
import jinja2
from itsdangerous import URLSafeTimedSerializer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

import conversation
import i18n
import migrations
import database
import knowledge
import links
import models
import office_hours
import writes
from decisions import Decider
from delivery import mail, outbox
from escalation import COUNTRIES
from escalation.answers import COUNTRY_NAMES, names_place
from escalation.language import detect_sure
from limits import Backoff, Counter, Slots
from realtime import QUEUE, ROUTING, Hub, session_topic
from routes import account, admin, agent, analytics, api, chat, conversations, knowledge as knowledge_routes
from routes.common import Board, error_fragment
from security import CsrfAndBodyLimit, RefuseNul, SecurityHeaders, Sessions, csrf_token
from settings import Settings

ROOT = Path(__file__).parent
log = logging.getLogger("handoff")


def secret_key(settings: Settings) -> str:
    """The configured key, or one kept beside the database so sessions survive restarts."""
    if settings.secret_key:
        return settings.secret_key
    url = settings.database_url
    folder = Path(url.split("///", 1)[1]).resolve().parent if url.startswith("sqlite:///") else Path.cwd()
    path = folder / ".handoff-secret"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class Fragments(jinja2.Environment):
    """Templates load once (no stat() of the file on every render) and keep their globals in one plain dict.

    Jinja chains each template's globals to the environment's, and every render copied that chain key by
    key in Python: most of a small fragment's cost. All globals are set before the first template loads.
    """

    def __init__(self, directory: Path) -> None:
        super().__init__(loader=jinja2.FileSystemLoader(directory), autoescape=jinja2.select_autoescape(),
                         auto_reload=False, extensions=["jinja2.ext.i18n"])
        # Each render brings its language's gettext (i18n.template_context), which fills in values itself.
        self.newstyle_gettext = True
        self.policies["ext.i18n.trimmed"] = True
        self.loaded: dict[str, jinja2.Template] = {}

    def make_globals(self, d):
        return {**self.globals, **(d or {})}

    def get_template(self, name, parent=None, globals=None):
        if globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        if parent is not None:
            name = self.join_path(name, parent)
        template = self.loaded.get(name)
        if template is None:
            template = self.loaded[name] = super().get_template(name)
        return template


def init_database(settings: Settings) -> None:
    models.db.initialize(database.open_database(settings.database_url))
    # Tables, upgrades and the default agents, one worker at a time.
    with migrations.exclusive(models.db.obj):
        migrations.upgrade()
        writes.install(models.db.obj)
        password = settings.agent_password or secrets.token_urlsafe(12)
        first_start = models.Agent.seed_defaults(password, settings.default_max_chats)
        if first_start:
            models.CannedResponse.seed(ROOT / "canned.yaml")
        if first_start and not settings.agent_password:
            log.warning("Created the default agents agent_001..agent_004 with the password: %s "
                        "(set HANDOFF_AGENT_PASSWORD to choose it; this is shown once)", password)
        seeded = knowledge.seed()
        if seeded:
            log.info("knowledge base: %d entries as shipped added or updated", len(seeded))
    knowledge.refresh(force=True)


class LoopProbe:
    """How long the event loop stays busy: a timer due every `every` seconds measures how late it fires, and the
    event loop thread's own CPU time meanwhile. A stall is a late timer during which the loop ran our code for
    more than `limit`: a busy machine that holds the whole process back makes timers late, not stalls."""

    def __init__(self, every: float = 0.02, limit: float = 0.05) -> None:
        self.every, self.limit = every, limit
        self.ticks = self.stalls = 0
        self.worst_late = self.worst_busy = 0.0

    async def run(self) -> None:
        while True:
            start, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.every)
            late, busy = time.perf_counter() - start - self.every, time.thread_time() - cpu
            self.ticks += 1
            self.worst_late, self.worst_busy = max(self.worst_late, late), max(self.worst_busy, busy)
            if late > self.limit and busy > self.limit:
                self.stalls += 1

    def as_dict(self) -> dict:
        return {"ticks": self.ticks, "stalls": self.stalls, "worst_late_ms": round(self.worst_late * 1000, 1),
                "worst_busy_ms": round(self.worst_busy * 1000, 1)}


async def healthz(request):
    """ok or not ok for anyone; the figures (streams, the event loop's stalls) only with the API token."""
    def database_ok() -> bool:
        try:
            models.db.execute_sql("SELECT 1")
            return True
        except Exception:
            return False

    db_ok = await run_in_threadpool(database_ok)
    redis_ok = await request.app.state.hub.ping()
    body = {"status": "ok" if db_ok and redis_ok else "unavailable"}
    if api.has_token(request):
        body.update(database=db_ok, redis=redis_ok if request.app.state.settings.redis_url else None,
                    streams=request.app.state.hub.stream_count, knowledge=knowledge.installed,
                    loop=request.app.state.loop_probe.as_dict(), decisions=request.app.state.decider.as_dict())
    return JSONResponse(body, status_code=200 if db_ok and redis_ok else 503,
                        headers={"Cache-Control": "no-store", **({} if db_ok and redis_ok else {"Retry-After": "5"})})


UNAVAILABLE = "We couldn't save that just now and nothing was stored. Please try again in a few seconds."


async def database_unavailable(request: Request, exc: Exception):
    """A locked, busy or unreachable database: 503 with a retry hint; the transaction was rolled back."""
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    if request.headers.get("hx-request"):
        response = error_fragment(request, UNAVAILABLE, 503)
    else:
        response = PlainTextResponse(UNAVAILABLE, status_code=503)
    response.headers["Retry-After"] = "5"
    return response


async def catch_up(app: Starlette) -> None:
    """The streams' safety net: once a ping interval, wake this process's streams of chats with new messages.

    A wake-up lost on its way (Redis down, a write from another process) is made good here by one query
    per process, instead of every idle stream re-reading its chat. Chats this process heard about after
    their newest message are skipped, so a busy server is not woken all at once. The window overlaps one
    interval, as ids of concurrent transactions may commit out of order.
    """
    settings, hub = app.state.settings, app.state.hub
    before = newest = await run_in_threadpool(models.Message.newest_id)
    while True:
        await asyncio.sleep(settings.ping_seconds)
        try:
            chats, latest = await run_in_threadpool(models.Message.chats_after, before)
        except Exception:
            database.round_failed(log, "catching up")
            continue
        before, newest = newest, latest
        news = {session_topic(chat): at.replace(tzinfo=timezone.utc).timestamp() for chat, at in chats.items()}
        # The window overlaps one interval, so news too fresh to judge now is judged at the next round.
        missed = hub.missed(news, keep=3 * settings.ping_seconds, settle=min(2.0, settings.ping_seconds / 4))
        if missed:
            hub.wake_here(QUEUE, *missed)


def _server_exiting() -> bool:
    """uvicorn has been told to stop: its SIGTERM handler is a method of the server, which then says so."""
    server = getattr(signal.getsignal(signal.SIGTERM), "__self__", None)
    return bool(getattr(server, "should_exit", False))


async def end_streams_on_exit(app: Starlette) -> None:
    """uvicorn waits for every open response before it stops the app, and a stream never ends by itself:
    on SIGTERM the hub closes, so each stream's loop ends and its response completes cleanly."""
    while not _server_exiting():
        await asyncio.sleep(0.2)
    app.state.hub.close()


async def sweep(app: Starlette) -> None:
    """Presence and idle chats on a timer; routing then too, and as soon as a chat or an agent frees up.

    Runs in every worker; each step is idempotent.
    """
    settings: Settings = app.state.settings
    timed = (lambda: conversation.requeue_dropped(settings.presence_grace_seconds),
             lambda: conversation.close_idle(settings.inactivity_close_minutes, settings.bot_close_hours),
             database.checkpoint)
    route = (lambda: conversation.auto_assign(settings.presence_grace_seconds),) if settings.auto_assign else ()
    last = time.monotonic()
    with app.state.hub.listen(ROUTING) as listener:
        while True:
            await listener.wait(max(0.0, settings.sweep_seconds - (time.monotonic() - last)))
            due = time.monotonic() - last >= settings.sweep_seconds
            if due:
                last = time.monotonic()
            try:
                for step in (timed if due else ()) + route:
                    outcome = await run_in_threadpool(step)
                    if outcome is not None:
                        app.state.hub.notify(*outcome.topics)
            except Exception:
                database.round_failed(log, "the sweep")


def static_file(name: str, media_type: str):
    """A file of static/ served at the site's root, where embedding sites and browsers look for it."""
    path = ROOT / "static" / name

    async def endpoint(request: Request) -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})
    return endpoint


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    office_hours.parse(settings.office_hours)  # a typo in the hours stops the start, not a visitor's request
    init_database(settings)
    # Webhooks and emails are queued only where they have somewhere to go.
    models.Outbox.channels = {kind for kind, url in (("webhook", settings.webhook_url),
                                                     ("email", settings.smtp_url)) if url}
    hub = Hub(settings.redis_url, settings.redis_prefix, posted_from=conversation.Posted.from_brief)
    templates = Jinja2Templates(env=Fragments(ROOT / "templates"))
    templates.env.globals["csrf_token"] = lambda request: csrf_token(request.session)
    templates.env.globals["skill_names"] = models.SKILL_NAMES
    templates.env.globals["kb_entry"] = knowledge.served
    templates.env.globals["countries"] = COUNTRIES
    templates.env.globals["country_names"] = COUNTRY_NAMES
    templates.env.globals["names_place"] = names_place
    templates.env.filters["month"] = knowledge.month_name
    templates.env.filters["linkify"] = links.linkify
    templates.env.filters["mailto"] = mail.mailto
    templates.env.globals["language_names"] = i18n.NAMES
    templates.env.globals["local_time"] = i18n.local_time

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await hub.start()
        # The language of messages to a counsellor is read on the event loop (writes.undecided): the detector's
        # models load before the first request, not in its turn, now that the bot decides in another process.
        detect_sure("Bonjour, combien coûte un visa étudiant ?")
        # The first visitor's page and message took the loop ~30 ms to compile templates and read the zones.
        for name in templates.env.list_templates():
            templates.env.get_template(name)
        i18n.load()
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        if hub._redis is not None:
            app.state.limits.redis = app.state.slots.redis = hub._redis
        slotkeeper = asyncio.create_task(app.state.slots.run())
        sweeper = asyncio.create_task(sweep(app))
        catcher = asyncio.create_task(catch_up(app))
        closer = asyncio.create_task(end_streams_on_exit(app))
        reloader = asyncio.create_task(knowledge.follow(hub, settings.sweep_seconds))
        prober = asyncio.create_task(app.state.loop_probe.run())
        board = asyncio.create_task(app.state.queue_board.run())
        deliverer = asyncio.create_task(outbox.run(app)) if models.Outbox.channels else None
        # What exists once started (modules, templates, the knowledge base) lives as long as the process:
        # full collections, which stall every stream while they run, stop walking it. Open streams are
        # long-lived too, and with thousands open a full collection took 100-160 ms: collections run
        # less often (most of a message's objects are freed without the collector anyway).
        gc.freeze()
        gc.set_threshold(10_000, 20, 100)
        try:
            yield
        finally:
            sweeper.cancel()
            catcher.cancel()
            closer.cancel()
            reloader.cancel()
            prober.cancel()
            board.cancel()
            slotkeeper.cancel()
            if deliverer:
                deliverer.cancel()
                await asyncio.gather(deliverer, return_exceptions=True)  # lets it hand back rows cut short
            app.state.decider.stop()
            await hub.stop()
            if not models.db.is_closed():
                models.db.close()

    routes = [
        Route("/healthz", healthz, name="healthz"),
        Route("/widget.js", static_file("widget.js", "text/javascript"), name="widget"),
        Route("/favicon.ico", static_file("favicon.svg", "image/svg+xml"), name="favicon"),
        Mount("/static", StaticFiles(directory=str(ROOT / "static")), name="static"),
        *chat.routes,
        *agent.routes,
        *admin.routes,
        *knowledge_routes.routes,
        *conversations.routes,
        *account.routes,
        *analytics.routes,
        *api.routes,
    ]
    # Inside another site's frame the cookie is a third-party one: browsers send it only with SameSite=None
    # (which needs Secure, so HTTPS) and, where they partition third-party cookies, only when Partitioned.
    embedded = settings.https and bool(settings.embedders)
    middleware = [
        Middleware(SecurityHeaders, https=settings.https, embedders=settings.embedders),
        Middleware(RefuseNul),
        Middleware(Sessions, secret_key=secret_key(settings), session_cookie="handoff",
                   same_site="none" if embedded else "lax", https_only=settings.https, partitioned=embedded,
                   max_age=14 * 24 * 3600),
        Middleware(CsrfAndBodyLimit, max_body=settings.max_body_bytes),
    ]
    app = Starlette(routes=routes, middleware=middleware, lifespan=lifespan,
                    exception_handlers={error: database_unavailable for error in database.UNAVAILABLE})
    app.state.settings = settings
    app.state.hub = hub
    app.state.templates = templates
    app.state.webhook_key = settings.webhook_secret or secret_key(settings)
    app.state.limits = Counter(prefix=settings.redis_prefix + "rl:")
    app.state.sign_ins = Backoff(app.state.limits, settings.login_window_seconds, settings.login_delay_seconds,
                                 settings.login_max_delay_seconds)
    app.state.devices = URLSafeTimedSerializer(secret_key(settings), salt="handoff-device")
    app.state.slots = Slots(prefix=settings.redis_prefix + "streams:")
    app.state.queue_board = chat.QueueBoard(hub, settings, fresh=settings.ping_seconds / 2)
    app.state.desk_board = Board(hub, settings.ping_seconds / 2,
                                 functools.partial(agent.desk_board, settings.presence_grace_seconds))
    app.state.loop_probe = LoopProbe()
    app.state.decider = Decider(settings.database_url, settings.decide_apart)
    return app


def __getattr__(name: str):
    # `uvicorn app:app` builds the default app on first access, so importing create_app
    # (as the tests do) creates no database in the working directory.
    if name == "app":
        globals()["app"] = application = create_app()
        return application
    raise AttributeError(name)
