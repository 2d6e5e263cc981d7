"""A reader that connects and never reads: dropped after the send timeout, holding nothing, the server unbothered."""
import re
import socket
import time

import httpx
import pytest

from tests.conftest import Server
from tests.live import LiveBrowser
from tests.reliability.conftest import LOAD, rss_kb

QUOTES = '"' * 1990  # each quote is escaped to 5 bytes, so every event is about 10 KB


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path, **LOAD, HANDOFF_SEND_TIMEOUT_SECONDS="2", HANDOFF_MAX_STREAMS_PER_VISITOR="1",
                    HANDOFF_API_TOKEN="ops-token").start()
    yield server
    server.stop()


def streams(server) -> int:
    return httpx.get(server.url + "/healthz", timeout=5, headers={"Authorization": "Bearer ops-token"}).json()["streams"]


def stall(server, browser: LiveBrowser, path: str) -> socket.socket:
    """Open the stream on a raw socket with a tiny receive window, and never read from it."""
    cookie = "; ".join(f"{name}={value}" for name, value in browser.http.cookies.items())
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n".encode())
    return sock


def test_a_stalled_reader_is_dropped_and_the_server_stays_responsive(server):
    visitor, other = LiveBrowser(server.url), LiveBrowser(server.url)
    visitor.say("Hello")
    baseline, memory = streams(server), rss_kb(server)
    stalled = stall(server, visitor, "/chat/events")
    live = other.stream("/chat/events")
    time.sleep(0.5)
    assert streams(server) == baseline + 2
    slowest = 0.0
    for n in range(700):  # about 7 MB for the stalled stream: more than the kernel will buffer
        assert visitor.say(f"{n} {QUOTES}").status_code == 201
        if n % 100 == 0:
            start = time.monotonic()
            assert other.say(f"still here {n}").status_code == 201
            while f"still here {n}" not in live.take(1, timeout=5)[0]["data"]:
                pass  # the bot's answer to the previous one
            slowest = max(slowest, time.monotonic() - start)
    deadline = time.monotonic() + 10
    while streams(server) > baseline + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert streams(server) == baseline + 1 and slowest < 1.0
    assert rss_kb(server) - memory < 30_000
    assert visitor.stream("/chat/events").status == 200  # the visitor's one allowed stream was released
    log = open(server.log.name).read()
    assert "Traceback" not in log
    stalled.close()
    live.close()


def test_a_stalled_agent_dashboard_is_dropped_too(server):
    visitor = LiveBrowser(server.url)
    visitor.post("/chat/handoff")
    agent = LiveBrowser.agent(server.url)
    chat_id = int(re.search(r'data-session-id="(\d+)"', agent.http.get("/agent/dashboard").text).group(1))
    agent.post(f"/agent/sessions/{chat_id}/take")
    baseline = streams(server)
    stalled = stall(server, agent, "/agent/events")
    time.sleep(0.5)
    assert streams(server) == baseline + 1
    for n in range(700):
        assert visitor.say(f"{n} {QUOTES}").status_code == 201
    deadline = time.monotonic() + 10
    while streams(server) > baseline and time.monotonic() < deadline:
        time.sleep(0.2)
    assert streams(server) == baseline
    stalled.close()
