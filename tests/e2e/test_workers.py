"""Two uvicorn workers on PostgreSQL and Redis: every stream gets every message, whichever worker took it.

Needs HANDOFF_TEST_DATABASE_URL and HANDOFF_TEST_REDIS_URL (skipped without them). Each test gets a
database and a Redis prefix of its own. Pings are slow here (30 s), so only a wake-up can deliver in time.
"""
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import PASSWORD, Server, csrf_of

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
               "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"]
QUICK = 20.0  # seconds to wait for what only a wake-up through Redis delivers this soon: the pings come at 30 s


@pytest.fixture
def redis_url():
    url = os.environ.get("HANDOFF_TEST_REDIS_URL")
    if not url:
        pytest.skip("HANDOFF_TEST_REDIS_URL is not set")
    return url


@pytest.fixture
def cluster(tmp_path, postgres_url, redis_url):
    server = Server(tmp_path, HANDOFF_DATABASE_URL=postgres_url, HANDOFF_REDIS_URL=redis_url,
                    HANDOFF_REDIS_PREFIX=f"handoff-test-{uuid.uuid4().hex[:8]}:", HANDOFF_PING_SECONDS="30",
                    HANDOFF_MAX_STREAMS_PER_VISITOR="50", HANDOFF_VISITOR_RATE_SECONDS="3600",
                    HANDOFF_SWEEP_SECONDS="0.5", HANDOFF_PRESENCE_GRACE_SECONDS="3", HANDOFF_LOGIN_DELAY_SECONDS="600")
    server.start(workers=2)
    deadline, answered = time.monotonic() + 30, set()
    while len(answered) < 2 and time.monotonic() < deadline:  # the second worker may still be starting
        with httpx.Client(base_url=server.url) as client:
            answered.add(server.worker_of(client.get("/healthz")))
        time.sleep(0.05)
    yield server
    server.stop()


class Person:
    """A browser's cookie and CSRF token; `post` opens a new connection each time, so it lands on any worker."""

    def __init__(self, url: str, agent_id: str | None = None) -> None:
        self.url = url
        with httpx.Client(base_url=url, timeout=10) as first:
            if agent_id:
                first.headers["X-CSRF-Token"] = csrf_of(first.get("/agent/login").text)
                first.post("/agent/login", data={"agent_id": agent_id, "password": PASSWORD})
                self.token = csrf_of(first.get("/agent/dashboard").text)
            else:
                self.token = csrf_of(first.get("/").text)
            self.cookies = dict(first.cookies)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, cookies=self.cookies, headers={"X-CSRF-Token": self.token},
                            timeout=10, **kwargs)

    def post(self, path: str, data: dict | None = None) -> httpx.Response:
        with self.client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
            response = client.post(path, data=data or {})
            self.cookies.update(response.cookies)  # a visitor's first message begins their chat, kept in the cookie
            return response

    def get(self, path: str) -> httpx.Response:
        with self.client() as client:
            return client.get(path)


class Stream(threading.Thread):
    """One SSE connection of its own, noting each event's id, data and arrival time."""

    def __init__(self, person: Person, path: str, wait: bool = True) -> None:
        super().__init__(daemon=True)
        self.person, self.path = person, path
        self.events: list[tuple[int | None, str, float]] = []
        self.ready = threading.Event()
        self.start()
        if wait:
            self.opened()

    def opened(self) -> "Stream":
        assert self.ready.wait(10), "the stream did not open"
        return self

    def run(self) -> None:
        try:
            with self.person.client() as client, client.stream("GET", self.path,
                                                               timeout=httpx.Timeout(10, read=120)) as response:
                self.response = response
                current: dict = {}
                for line in response.iter_lines():
                    if line.startswith(":"):
                        self.ready.set()
                    elif line.startswith(("id:", "data:")):
                        key, _, value = line.partition(":")
                        current[key] = current.get(key, "") + value.strip()
                    elif not line and current:
                        self.events.append((int(current["id"]) if "id" in current else None,
                                            current.get("data", ""), time.monotonic()))
                        current = {}
        except (httpx.HTTPError, OSError):
            pass

    def messages(self, count: int, timeout: float) -> list[tuple[int, str, float]]:
        """The first `count` events with an id, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.messages_now()) < count:
            time.sleep(0.02)
        return self.messages_now()[:count]

    def messages_now(self) -> list[tuple[int, str, float]]:
        return [event for event in self.events if event[0] is not None]

    def text(self) -> str:
        return " ".join(data for _, data, _ in self.events)

    def holding(self, part: str, timeout: float) -> str:
        """The stream's text once it holds `part`, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        while part not in self.text() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.text()

    def close(self) -> None:
        self.response.extensions["network_stream"].get_extra_info("socket").shutdown(socket.SHUT_RDWR)


def spread_streams(server: Server, person: Person, path: str, per_worker: int = 2) -> list[Stream]:
    """Open streams until each of the two workers holds at least `per_worker` of them."""
    streams: list[Stream] = []
    while len(streams) < 30:
        # Connections opened together land on both workers; one at a time, an idle pair may hand all to one.
        batch = [Stream(person, path, wait=False) for _ in range(3)]
        streams += [stream.opened() for stream in batch]
        held = [len([s for s in streams if server.worker_of(s.response) == pid]) for pid in server.workers()]
        if len(held) == 2 and min(held) >= per_worker:
            return streams
    pytest.fail(f"streams never reached both workers: {server.workers()}")


def pinned(server: Server, person: Person) -> dict[int, httpx.Client]:
    """A keep-alive client on each worker, by pid. A worker busy for a moment (installing an edited knowledge base)
    leaves every new connection to the other, so this keeps trying for a while rather than a number of times."""
    found: dict[int, httpx.Client] = {}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        client = person.client()
        pid = server.worker_of(client.get("/healthz"))
        if pid in found:
            client.close()
        else:
            found[pid] = client
        if len(found) == 2:
            return found
        time.sleep(0.05)
    pytest.fail("requests never reached both workers")


def test_every_stream_on_either_worker_gets_every_message(cluster):
    visitor = Person(cluster.url)
    texts = ["What IELTS score do I need for Canada?", "And for Australia?", "Tuition in Germany?"]
    assert visitor.post("/chat/messages", {"text": texts[0]}).status_code == 201  # the chat, and its streams, begin
    streams = spread_streams(cluster, visitor, "/chat/events?after=0")
    for text in texts[1:]:
        assert visitor.post("/chat/messages", {"text": text}).status_code == 201
    got = [stream.messages(6, QUICK) for stream in streams]
    ids = [i for i, _, _ in got[0]]
    assert len(ids) == 6 and ids == sorted(set(ids))
    assert all([i for i, _, _ in events] == ids for events in got)  # each within QUICK, so woken, not pinged


def test_rate_limit_counts_across_workers(cluster):
    visitor = Person(cluster.url)
    assert visitor.post("/chat/messages", {"text": "Question 0"}).status_code == 201  # the chat begins
    clients = list(pinned(cluster, visitor).values())
    codes = [clients[n % 2].post("/chat/messages", data={"text": f"Question {n}"}).status_code for n in range(1, 12)]
    assert codes.count(201) == 9 and codes[-2:] == [429, 429]


def test_login_throttle_counts_across_workers(cluster):
    person = Person(cluster.url)
    clients = list(pinned(cluster, person).values())
    codes = [clients[n % 2].post("/agent/login", data={"agent_id": "agent_003", "password": "wrong"}).status_code
             for n in range(6)]
    assert codes == [400] * 3 + [429] * 3  # three free failures, then a wait (600 s here) on both workers


def test_presence_holds_across_workers(cluster):
    agent = Person(cluster.url, "agent_001")
    agent_stream = Stream(agent, "/agent/events")
    visitor = Person(cluster.url)
    elsewhere = next(c for pid, c in pinned(cluster, visitor).items() if pid != cluster.worker_of(agent_stream.response))
    handoff = elsewhere.post("/chat/handoff")
    assert handoff.status_code == 204
    visitor.cookies.update(handoff.cookies)  # the handoff began the chat
    visitor_stream = Stream(visitor, "/chat/events?after=0")
    assert "Sarah Johnson has joined" in visitor_stream.messages(2, 10)[-1][1]
    agent_stream.close()
    assert "was disconnected" in visitor_stream.messages(3, 10)[-1][1]


def test_login_handoff_take_talk_close_and_rate(cluster):
    visitor, agent = Person(cluster.url), Person(cluster.url, "agent_002")
    assert agent.post("/agent/status", {"status": "away"}).status_code == 200  # no auto-assignment
    agent_stream = Stream(agent, "/agent/events")
    assert visitor.post("/chat/messages", {"text": "What documents do I need for a US F-1 visa?"}).status_code == 201
    visitor_stream = Stream(visitor, "/chat/events?after=0")
    assert visitor.post("/chat/handoff").status_code == 204
    chat_id = re.search(r'data-session-id="(\d+)"', agent.get("/agent/dashboard").text).group(1)
    assert agent.post(f"/agent/sessions/{chat_id}/take").status_code == 200
    assert agent.post(f"/agent/sessions/{chat_id}/messages", {"text": "Hi, Michael here"}).status_code == 201
    assert visitor.post("/chat/messages", {"text": "Thanks, Michael"}).status_code == 201
    assert agent.post(f"/agent/sessions/{chat_id}/close").status_code == 200
    assert visitor.post("/chat/rating", {"score": "5"}).status_code == 200
    texts = [data for _, data, _ in visitor_stream.messages(7, QUICK)]
    for part, at in (("F-1", 0), ("queue", 2), ("Michael Chen has joined", 3), ("Michael here", 4),
                     ("Thanks, Michael", 5), ("ended the chat", 6)):
        assert part in texts[at]
    # the visitor's words reach the counsellor's stream through Redis when the two are on different workers
    assert "Thanks, Michael" in agent_stream.holding("Thanks, Michael", QUICK)
    assert f'data-session-id="{chat_id}"' in agent_stream.text()


class LocalRedis:
    """The local redis-server on port 6379, stopped and started the way CI starts it."""

    @staticmethod
    def answers() -> bool:
        return subprocess.run(["redis-cli", "-p", "6379", "ping"], capture_output=True, text=True).stdout.strip() == "PONG"

    def stop(self) -> None:
        subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], capture_output=True)
        self.wait(False)

    def start(self) -> None:
        if not self.answers():
            subprocess.run(REDIS_START, check=True, capture_output=True)
        self.wait(True)

    def wait(self, up: bool) -> None:
        deadline = time.monotonic() + 10
        while self.answers() != up and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def local_redis(redis_url):
    url = urlsplit(redis_url)
    if url.hostname not in ("127.0.0.1", "localhost") or (url.port or 6379) != 6379 or not shutil.which("redis-server"):
        pytest.skip("restarts only a local redis-server on port 6379")
    redis = LocalRedis()
    try:
        yield redis
    finally:
        redis.start()


def test_a_redis_restart_mid_chat_loses_nothing(cluster, local_redis):
    visitor = Person(cluster.url)
    assert visitor.post("/chat/messages", {"text": "What is a CAS?"}).status_code == 201
    streams = spread_streams(cluster, visitor, "/chat/events?after=0")
    assert all(len(stream.messages(2, QUICK)) == 2 for stream in streams)
    local_redis.stop()
    for text in ("When do I get it?", "Can it expire?"):
        assert visitor.post("/chat/messages", {"text": text}).status_code == 201
    local_redis.start()
    assert all(len(stream.messages(6, 15)) == 6 for stream in streams)
    assert visitor.post("/chat/messages", {"text": "Thanks"}).status_code == 201
    got = [[i for i, _, _ in stream.messages(8, QUICK)] for stream in streams]
    assert len(got[0]) == 8 and got[0] == sorted(set(got[0])) and all(ids == got[0] for ids in got)


def test_concurrent_messages_through_both_workers_reach_every_counsellor_stream_once(tmp_path, postgres_url, redis_url):
    """Visitors of four chats write at once, each POST landing on either worker, so the two workers' turns
    commit side by side and their ids interleave. Every counsellor stream, on either worker, gets every
    acknowledged message exactly once, in each chat's order, by wake-ups alone (no ping comes in time)."""
    server = Server(tmp_path, HANDOFF_DATABASE_URL=postgres_url, HANDOFF_REDIS_URL=redis_url,
                    HANDOFF_REDIS_PREFIX=f"handoff-test-{uuid.uuid4().hex[:8]}:", HANDOFF_PING_SECONDS="60",
                    HANDOFF_PRESENCE_GRACE_SECONDS="180", HANDOFF_AUTO_ASSIGN="0", HANDOFF_VISITOR_RATE="100000",
                    HANDOFF_ADDRESS_RATE="1000000")
    server.start(workers=2)
    try:
        agent = Person(server.url, "agent_001")
        visitors = [Person(server.url) for _ in range(4)]
        for visitor in visitors:
            assert visitor.post("/chat/messages", {"text": "What is a CAS?"}).status_code == 201
            assert visitor.post("/chat/handoff").status_code == 204
        # The dashboards open first: a counsellor with none open is away, and the sweeper hands their chats back.
        streams = spread_streams(server, agent, "/agent/events")
        taken, deadline = set(), time.monotonic() + QUICK  # a handoff may reach the queue a moment after its answer
        while len(taken) < 4 and time.monotonic() < deadline:
            for chat_id in set(re.findall(r'data-session-id="(\d+)"', agent.get("/agent/dashboard").text)) - taken:
                if agent.post(f"/agent/sessions/{chat_id}/take").status_code == 200:
                    taken.add(chat_id)
        assert len(taken) == 4
        # Every dashboard shows the four chats before their visitors write: one that learns of a chat later
        # shows what was already written in the chat's whole panel, not as events of their own.
        for stream in streams:
            for chat_id in taken:
                assert f'id="chat-{chat_id}"' in stream.holding(f'id="chat-{chat_id}"', QUICK)
        acknowledged: dict[int, str] = {}
        lock = threading.Lock()

        def write(n: int, visitor: Person) -> None:
            for k in range(12):
                text = f"burst {n}-{k}"
                response = visitor.post("/chat/messages", {"text": text, "client_key": f"burst-{n}-{k}"})
                assert response.status_code == 201
                with lock:
                    acknowledged[int(response.headers["x-message-id"])] = text

        writers = [threading.Thread(target=write, args=(n, v)) for n, v in enumerate(visitors)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert len(acknowledged) == 48
        deadline = time.monotonic() + QUICK
        while time.monotonic() < deadline and not all(
                set(acknowledged) <= {i for i, _, _ in s.messages_now()} for s in streams):
            time.sleep(0.05)
        for stream in streams:
            got = [(i, data) for i, data, _ in stream.messages_now() if i in acknowledged]
            assert sorted(i for i, _ in got) == sorted(acknowledged)  # each one, once
            for n in range(4):
                ids = [i for i, data in got if f"burst {n}-" in data]
                assert ids == sorted(ids)
    finally:
        server.stop()
