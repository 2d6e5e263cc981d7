"""Shared fixtures: an app on a temporary database, logged-in clients, and a real uvicorn server."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from unittest import mock
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from starlette.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from settings import Settings  # noqa: E402

PASSWORD = "correct-horse-battery"
SHARED_ADDRESS = {"chat_rate": 100_000, "handoff_rate": 100_000, "max_streams_per_address": 100_000}


def csrf_of(html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', html).group(1)


# HANDOFF_TEST_BACKEND=postgres runs the in-process suite on a fresh PostgreSQL database per test
# (HANDOFF_TEST_DATABASE_URL) and, with HANDOFF_TEST_REDIS_URL, on Redis as several workers would: each of a test's
# clients is a worker of its own (see Workers). The default is SQLite in one process.
ON_POSTGRES = os.environ.get("HANDOFF_TEST_BACKEND", "sqlite") == "postgres"
REDIS_URL = os.environ.get("HANDOFF_TEST_REDIS_URL", "")
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite by nature (its file, WAL or write queue)")


def pytest_collection_modifyitems(config, items):
    """On PostgreSQL, only the tests whose app HANDOFF_TEST_BACKEND chooses (those on the `settings` fixture):
    the others choose their servers themselves, and run the same either way."""
    if not ON_POSTGRES:
        return
    chosen = [item for item in items if "settings" in getattr(item, "fixturenames", ())]
    config.hook.pytest_deselected(items=[item for item in items if item not in chosen])
    items[:] = chosen


@pytest.fixture
def settings(request, tmp_path) -> Settings:
    # Agents pick chats by hand here; tests of auto-assignment turn it on. Every visitor of a test comes from one
    # address, so the per-address limits on new chats, handoffs and streams are the limit tests' own business.
    if ON_POSTGRES:
        database_url = request.getfixturevalue("postgres_url")
        shared = {"redis_url": REDIS_URL, "redis_prefix": request.getfixturevalue("redis_prefix")} if REDIS_URL else {}
    else:
        database_url, shared = f"sqlite:///{tmp_path}/handoff.db", {}
    return Settings(database_url=database_url, secret_key="test-secret", agent_password=PASSWORD, sweep_seconds=3600,
                    auto_assign=False, decide_apart=False, **SHARED_ADDRESS, **shared)


@pytest.fixture
def redis_prefix():
    """Keys of the test's own on the test Redis (removed after), so tests never share a count."""
    prefix = f"handoff-test-{uuid.uuid4().hex[:8]}:"
    yield prefix
    import redis
    with redis.Redis.from_url(REDIS_URL) as client:
        for key in client.scan_iter(prefix + "*"):
            client.delete(key)


class Workers:
    """The app as several uvicorn workers serve it, for a test's clients.

    Each TestClient runs the app's lifespan in an event loop of its own, and an app's Redis client serves one
    loop: so each client that runs the lifespan gets an app of its own, as a worker would, and the apps share
    the database and Redis, not memory. A client without the lifespan (no `with`) gets one that never starts.
    Anything else (the routes, the settings a test changes on `app.state`) is the first worker's, and every
    worker reads those settings.
    """

    def __init__(self, settings: Settings) -> None:
        self.first = create_app(settings)
        self.idle = [self.first]
        self.serving: dict[asyncio.AbstractEventLoop, object] = {}
        self.unstarted = None

    def __getattr__(self, name: str):
        return getattr(self.first, name)

    def another(self):
        with mock.patch("app.init_database"):  # one database, created and upgraded once, as for workers
            return create_app(self.first.state.settings)

    async def __call__(self, scope, receive, send) -> None:
        loop = asyncio.get_running_loop()
        settings = self.first.state.settings
        if scope["type"] == "lifespan":
            worker = self.idle.pop() if self.idle else self.another()
            self.serving[loop] = worker
            try:
                await worker(scope, receive, send)
            finally:
                del self.serving[loop]
                self.idle.append(worker)
            return
        worker = self.serving.get(loop)
        if worker is None:
            worker = self.unstarted = self.unstarted or self.another()
        worker.state.settings = settings
        await worker(scope, receive, send)


@pytest.fixture
def app(settings):
    return Workers(settings) if settings.redis_url else create_app(settings)


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database of its own (dropped after), when HANDOFF_TEST_DATABASE_URL is set."""
    base = os.environ.get("HANDOFF_TEST_DATABASE_URL")
    if not base:
        pytest.skip("HANDOFF_TEST_DATABASE_URL is not set")
    import psycopg
    name = f"handoff_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(base)._replace(path="/" + name))
    import models
    if hasattr(models.db.obj, "close_all"):
        models.db.obj.close_all()
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Browser:
    """A TestClient that remembers the page's CSRF token and sends it with every POST."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.token = ""

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        if "csrf-token" in response.text:
            self.token = csrf_of(response.text)
        return response

    def post(self, url: str, data: dict | None = None, **kwargs):
        headers = {"X-CSRF-Token": self.token, **kwargs.pop("headers", {})}
        return self.client.post(url, data=data or {}, headers=headers, **kwargs)

    def say(self, text: str, **extra):
        return self.post("/chat/messages", {"text": text, **extra})


@pytest.fixture
def visitor(app):
    with TestClient(app) as client:
        browser = Browser(client)
        browser.get("/")
        yield browser


def login(app, agent_id: str = "agent_001") -> Browser:
    browser = Browser(TestClient(app))
    browser.client.__enter__()
    browser.get("/agent/login")
    response = browser.post("/agent/login", {"agent_id": agent_id, "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 303, response.text
    browser.get("/agent/dashboard")
    return browser


@pytest.fixture
def agent(app):
    browser = login(app, "agent_001")
    yield browser
    browser.client.__exit__(None, None, None)


@pytest.fixture
def other_agent(app):
    browser = login(app, "agent_002")
    yield browser
    browser.client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A real `uvicorn app:app` in its own process, restartable on the same database."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "HANDOFF_DATABASE_URL": f"sqlite:///{tmp_path}/live.db",
                    "HANDOFF_SECRET_KEY": "live-secret", "HANDOFF_AGENT_PASSWORD": PASSWORD,
                    "HANDOFF_PING_SECONDS": "2",
                    **{f"HANDOFF_{name.upper()}": str(value) for name, value in SHARED_ADDRESS.items()}, **env}
        self.log = open(tmp_path / f"uvicorn-{self.port}.log", "ab")
        self.process: subprocess.Popen | None = None
        self.several = False  # worker processes under a supervisor, rather than one process serving alone

    def start(self, workers: int = 1) -> "Server":
        self.several = workers > 1
        args = [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--timeout-graceful-shutdown", "3"]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=self.log, stderr=self.log,
                                        start_new_session=True)
        deadline = time.time() + 120  # a busy machine starts uvicorn (and its workers) slowly
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=10).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"uvicorn exited with {self.process.returncode}")
            time.sleep(0.1)
        raise RuntimeError("uvicorn did not start")

    def workers(self) -> dict[int, set[int]]:
        """Each worker's pid and the client ports of the connections it holds (read from Linux /proc)."""
        held: dict[str, int] = {}  # socket inode -> client port, for connections to our port
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] == "01" and int(cols[1].rsplit(":", 1)[1], 16) == self.port:
                    held[cols[9]] = int(cols[2].rsplit(":", 1)[1], 16)
        if not self.several:  # its only children are its bot's decision process and multiprocessing's tracker
            return {self.process.pid: set(held.values())}
        found = {}
        for proc in Path("/proc").iterdir():
            try:
                if not proc.name.isdigit() or int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1]) != self.process.pid:
                    continue
                if b"resource_tracker" in (proc / "cmdline").read_bytes():
                    continue
                fds = list((proc / "fd").iterdir())
            except (OSError, ValueError):
                continue
            inodes = []
            for fd in fds:
                try:
                    inodes.append(os.readlink(fd)[8:-1])
                except OSError:  # closed while we looked (a pool's connection): the worker still counts
                    pass
            found[int(proc.name)] = {held[i] for i in inodes if i in held}
        return found or {self.process.pid: set(held.values())}

    def worker_of(self, response: httpx.Response, seconds: float = 10) -> int:
        """The pid of the worker that holds this response's connection (looked for again while a busy machine has
        not yet shown it in /proc)."""
        port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        deadline = time.monotonic() + seconds
        while True:
            holder = next((pid for pid, ports in self.workers().items() if port in ports), None)
            if holder is not None:
                return holder
            if time.monotonic() > deadline:
                raise LookupError(f"no worker of {self.url} holds the connection from port {port}")
            time.sleep(0.05)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode if self.process else 0


@pytest.fixture
def live_server(tmp_path):
    server = Server(tmp_path).start()
    yield server
    server.stop()
