"""Several app processes on one PostgreSQL and Redis, as several hosts would run: a chat moves between them,
and no acknowledged message is lost or stored twice when the database's connections drop, PostgreSQL
restarts or a worker dies.

Needs HANDOFF_TEST_DATABASE_URL and HANDOFF_TEST_REDIS_URL (skipped without them). Ending every connection
the app holds (`pg_terminate_backend`) works on any server; the real restart needs a local cluster that
`pg_ctlcluster` can stop and start (as root), and is skipped elsewhere.
"""
import os
import re
import shutil
import signal
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from settings import Settings
from tests.conftest import Server
from tests.live import LiveBrowser

QUICK = 20.0  # pings come at 30 s: only a wake-up delivers this soon


@pytest.fixture
def hosts(tmp_path, postgres_url):
    redis_url = os.environ.get("HANDOFF_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    env = dict(HANDOFF_DATABASE_URL=postgres_url, HANDOFF_REDIS_URL=redis_url,
               HANDOFF_REDIS_PREFIX=f"handoff-test-{uuid.uuid4().hex[:8]}:", HANDOFF_PING_SECONDS="30",
               HANDOFF_VISITOR_RATE="100000", HANDOFF_ADDRESS_RATE="1000000", HANDOFF_AUTO_ASSIGN="0")
    servers = [Server(tmp_path, **env) for _ in range(2)]
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def seen(stream, parts: list[str], timeout: float = QUICK) -> str:
    """The stream's data until every part has shown up (or time ran out)."""
    text, deadline = "", time.monotonic() + timeout
    while not all(part in text for part in parts) and time.monotonic() < deadline:
        text += "".join(event.get("data", "") for event in stream.take(1, 0.2, with_id=False))
    return text


def on(url: str, browser: LiveBrowser) -> LiveBrowser:
    """The same browser (its cookies, its CSRF token) talking to another host."""
    moved = LiveBrowser.__new__(LiveBrowser)
    moved.url, moved.token = url, browser.token
    moved.http = httpx.Client(base_url=url, timeout=15, cookies=browser.http.cookies)
    return moved


def handed_over(visitor: LiveBrowser, agent: LiveBrowser) -> int:
    assert visitor.say("I need a counsellor for my Canadian study permit").status_code == 201
    assert visitor.post("/chat/handoff").status_code == 204
    chat_id = max(int(n) for n in re.findall(r'data-session-id="(\d+)"', agent.http.get("/agent/dashboard").text))
    assert agent.post(f"/agent/sessions/{chat_id}/take").status_code == 200
    return chat_id


def test_a_chat_moves_between_two_app_processes_and_both_ends_see_everything(hosts):
    a, b = (server.start() for server in hosts)
    visitor_a, agent_b = LiveBrowser(a.url), LiveBrowser.agent(b.url, "agent_002")
    chat_id = handed_over(visitor_a, agent_b)
    visitor_stream, agent_stream = visitor_a.stream("/chat/events"), agent_b.stream("/agent/events")
    assert visitor_a.say("Hello from the first host").status_code == 201
    assert agent_b.post(f"/agent/sessions/{chat_id}/messages", {"text": "Hi, the second host here"}).status_code == 201
    visitor_b, agent_a = on(b.url, visitor_a), on(a.url, agent_b)  # each one's next request lands on the other
    assert visitor_b.say("Now I am on the second host").status_code == 201
    assert agent_a.post(f"/agent/sessions/{chat_id}/messages", {"text": "And I on the first"}).status_code == 201
    text = seen(visitor_stream, ["Hi, the second host here", "And I on the first"])
    assert "Hi, the second host here" in text and "And I on the first" in text
    text = seen(agent_stream, ["Hello from the first host", "Now I am on the second host"])
    assert "Hello from the first host" in text and "Now I am on the second host" in text
    visitor_stream.close()
    agent_stream.close()


def load(browsers: list, say, stop: threading.Event, acknowledged: set, refused: list,
         prefix: str = "mv") -> list[threading.Thread]:
    """Each browser posts keyed messages until `stop`; a refused or unanswered one is sent again with its key."""
    def run(n, browser):
        i = 0
        while not stop.is_set():
            key = f"{prefix}{n}-{i}"
            for _ in range(100):
                try:
                    status = say(browser, key).status_code
                except httpx.HTTPError:
                    status = None
                if status in (200, 201):
                    acknowledged.add(key)
                    break
                refused.append(status)
                time.sleep(0.1)
            i += 1

    threads = [threading.Thread(target=run, args=(n, browser)) for n, browser in enumerate(browsers)]
    for thread in threads:
        thread.start()
    return threads


def stored_keys(url: str) -> list[str]:
    with psycopg.connect(url) as connection:
        return [key for (key,) in connection.execute(
            "SELECT client_key FROM message WHERE client_key LIKE 'm%' ORDER BY id").fetchall()]


def test_no_message_is_lost_or_stored_twice_when_the_databases_connections_are_cut(hosts, postgres_url):
    server = hosts[0].start(workers=2)
    agent = LiveBrowser.agent(server.url, "agent_002")
    visitors = [LiveBrowser(server.url) for _ in range(4)]
    chats = [handed_over(visitor, agent) for visitor in visitors[:2]]  # two with a counsellor, two with the bot
    stop, acknowledged, refused = threading.Event(), set(), []
    threads = load(visitors, lambda browser, key: browser.say(f"Question {key}", key=key), stop, acknowledged, refused)
    threads += load([agent], lambda browser, key: browser.post(
        f"/agent/sessions/{chats[int(key.split('-')[1]) % 2]}/messages",
        {"text": f"Answer {key}", "client_key": key}), stop, acknowledged, refused, prefix="ma")
    cuts = 0
    deadline = time.monotonic() + 60
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        while cuts < 4 and time.monotonic() < deadline:
            time.sleep(1)
            ended = admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                  "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()[0]
            cuts += bool(ended)
    time.sleep(1)
    stop.set()
    for thread in threads:
        thread.join(60)
    stored = stored_keys(postgres_url)
    assert cuts == 4 and len(acknowledged) > 40
    assert len(stored) == len(set(stored)) and set(stored) == acknowledged


def test_no_message_is_lost_or_stored_twice_when_a_worker_is_killed_under_load(hosts, postgres_url):
    server = hosts[0].start(workers=2)
    visitors = [LiveBrowser(server.url) for _ in range(6)]
    stop, acknowledged, refused = threading.Event(), set(), []
    threads = load(visitors, lambda browser, key: browser.say(f"Question {key}", key=key), stop, acknowledged, refused)
    deadline = time.monotonic() + 60
    while len(acknowledged) < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = next(iter(server.workers()))
    os.kill(victim, signal.SIGKILL)
    before = len(acknowledged)
    while len(acknowledged) < before + 50 and time.monotonic() < deadline + 60:  # the rest carries on
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(60)
    stored = stored_keys(postgres_url)
    assert len(acknowledged) >= before + 50
    assert len(stored) == len(set(stored)) and set(stored) == acknowledged


class PostgresCluster:
    """The local PostgreSQL cluster behind HANDOFF_TEST_DATABASE_URL, stopped and started for real."""

    def __init__(self, url: str) -> None:
        self.url = url
        port = str(urlsplit(url).port or 5432)
        listed = subprocess.run(["pg_lsclusters", "--no-header"], capture_output=True, text=True).stdout.split("\n")
        found = [line.split()[:2] for line in listed if len(line.split()) > 2 and line.split()[2] == port]
        self.cluster = found[0] if found else None

    def ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", *self.cluster, action], check=True, capture_output=True, timeout=120)

    def answers(self) -> bool:
        try:
            psycopg.connect(self.url, connect_timeout=2).close()
            return True
        except psycopg.Error:
            return False

    def wait_up(self, timeout: float = 120) -> bool:
        deadline = time.monotonic() + timeout
        while not self.answers() and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.answers()


@pytest.fixture
def postgres_cluster(postgres_url):
    base = os.environ["HANDOFF_TEST_DATABASE_URL"]
    if os.geteuid() != 0 or not shutil.which("pg_ctlcluster"):
        pytest.skip("restarting PostgreSQL needs root and Debian's pg_ctlcluster")
    if urlsplit(base).hostname not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip("restarts only a PostgreSQL on this machine")
    cluster = PostgresCluster(base)
    if cluster.cluster is None:
        pytest.skip("no local PostgreSQL cluster listens on the test database's port")
    try:
        yield cluster
    finally:  # whatever happened, the next tests find PostgreSQL up
        if not cluster.answers():
            cluster.ctl("start")
        assert cluster.wait_up(), "PostgreSQL did not come back"


class Following(threading.Thread):
    """A stream read as a browser's EventSource reads it: when it ends, it opens again from the last id."""

    def __init__(self, browser: LiveBrowser, path: str = "/chat/events?after=0") -> None:
        super().__init__(daemon=True)
        self.browser, self.path, self.events, self.last_id, self.done = browser, path, [], None, threading.Event()
        self.start()

    def run(self) -> None:
        while not self.done.is_set():
            headers = {"Last-Event-ID": str(self.last_id)} if self.last_id is not None else {}
            try:
                with httpx.Client(base_url=self.browser.url, cookies=self.browser.http.cookies,
                                  timeout=httpx.Timeout(10, read=60)) as http, \
                        http.stream("GET", self.path, headers=headers) as response:
                    current: dict = {}
                    for line in response.iter_lines():
                        if self.done.is_set():
                            return
                        if line.startswith("id:"):
                            current["id"] = int(line[3:].strip())
                        elif line.startswith("data:"):
                            current["data"] = current.get("data", "") + line[5:]
                        elif not line and current:
                            if "id" in current:
                                self.events.append((current["id"], current.get("data", "")))
                                self.last_id = current["id"]
                            current = {}
            except (httpx.HTTPError, OSError):
                pass
            time.sleep(0.5)

    def keys(self) -> list[str]:
        return [key for _, data in self.events for key in re.findall(r"(?:Question|Answer) (m[va]\d+-\d+)\b", data)]


def test_no_message_is_lost_or_stored_twice_through_a_postgresql_restart(hosts, postgres_url, postgres_cluster):
    """Two workers under a steady load of visitor and counsellor messages while PostgreSQL stops and starts
    again: every acknowledged message is stored once and reaches its chat's stream once, and the app carries on."""
    server = hosts[0].start(workers=2)
    agent = LiveBrowser.agent(server.url, "agent_002")
    visitors = [LiveBrowser(server.url) for _ in range(4)]
    chats = [handed_over(visitor, agent) for visitor in visitors[:2]]  # two with a counsellor, two with the bot
    dashboard = Following(agent, "/agent/events")  # without it the counsellor is away, and their chats requeued
    streams = [Following(visitor) for visitor in visitors]
    stop, acknowledged, refused = threading.Event(), set(), []
    threads = load(visitors, lambda browser, key: browser.say(f"Question {key}", key=key), stop, acknowledged, refused)
    threads += load([agent], lambda browser, key: browser.post(
        f"/agent/sessions/{chats[int(key.split('-')[1]) % 2]}/messages",
        {"text": f"Answer {key}", "client_key": key}), stop, acknowledged, refused, prefix="ma")
    deadline = time.monotonic() + 60
    while len(acknowledged) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    postgres_cluster.ctl("stop")
    time.sleep(3)  # long enough for every worker to meet the refused connections
    postgres_cluster.ctl("start")
    assert postgres_cluster.wait_up()
    before, failed_before = set(acknowledged), len(refused)

    def senders_since() -> dict[str, int]:  # each sender's messages acknowledged after the restart
        since = [key.split("-")[0] for key in set(acknowledged) - before]
        return {sender: since.count(sender) for sender in ("mv0", "mv1", "mv2", "mv3", "ma0")}
    while min(senders_since().values()) < 5 and time.monotonic() < deadline + 60:  # everyone carries on
        time.sleep(0.05)
    stop.set()
    for thread in threads:
        thread.join(60)
    assert min(senders_since().values()) >= 5, f"acknowledged after the restart: {senders_since()}"
    # Once PostgreSQL answers, each connection a worker held may fail one request (the one that finds it dead);
    # a dead connection handed out again would fail every request of its thread until the thread ended.
    held = 2 * (Settings.threads + 2)
    assert len(refused) - failed_before <= held, f"{len(refused) - failed_before} refused after the restart"
    stored = stored_keys(postgres_url)
    assert len(stored) == len(set(stored)) and set(stored) == acknowledged

    def owner(key: str) -> int:
        return int(key[2:].split("-")[0]) if key.startswith("mv") else int(key.split("-")[1]) % 2
    expected = [sorted(key for key in acknowledged if owner(key) == n) for n in range(4)]
    wait = time.monotonic() + 30
    while time.monotonic() < wait and any(sorted(set(s.keys())) != keys for s, keys in zip(streams, expected)):
        time.sleep(0.2)
    for stream in [*streams, dashboard]:
        stream.done.set()
    for stream, keys in zip(streams, expected):
        got = stream.keys()
        assert len(got) == len(set(got)), "a stream sent a message twice"
        assert sorted(got) == keys, f"missing from a stream: {sorted(set(keys) - set(got))[:5]}"
