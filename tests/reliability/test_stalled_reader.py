"""A reader that connects and never reads: dropped after the send timeout, holding nothing, the server unbothered."""
import re
import socket
import time
from pathlib import Path

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


def until(check, seconds: float = 60) -> bool:
    """Poll check() for up to `seconds`; whether it came true."""
    deadline = time.monotonic() + seconds
    while not check() and time.monotonic() < deadline:
        time.sleep(0.2)
    return check()


def unsent(server, sock: socket.socket) -> int:
    """Bytes the server's kernel holds for this client, unread (Linux /proc/net/tcp, the tx_queue column)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        cols = line.split()
        if (int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16)) == (server.port,
                                                                                          sock.getsockname()[1]):
            return int(cols[4].split(":")[0], 16)
    return 0


def test_a_stalled_reader_is_dropped_and_the_server_stays_responsive(tmp_path):
    # The stalled stream is held for 20 s once its send waits: the others are checked as soon as it does.
    server = Server(tmp_path, **LOAD, HANDOFF_SEND_TIMEOUT_SECONDS="20", HANDOFF_MAX_STREAMS_PER_VISITOR="1",
                    HANDOFF_API_TOKEN="ops-token").start()
    try:
        visitor, other = LiveBrowser(server.url), LiveBrowser(server.url)
        visitor.say("Hello")
        other.say("Hello")
        baseline, memory = streams(server), rss_kb(server)
        stalled = stall(server, visitor, "/chat/events")
        live = other.stream("/chat/events")
        assert until(lambda: streams(server) == baseline + 2)
        sizes, checked = [0], False
        for n in range(700):  # about 7 MB for the stalled stream: more than the kernel will buffer
            assert visitor.say(f"{n} {QUOTES}").status_code == 201
            sizes.append(unsent(server, stalled))
            if not checked and len(sizes) > 10 and sizes[-1] == sizes[-11] > 0:
                # the kernel's buffer stopped growing 100 KB ago: the stalled stream's send now waits
                checked = other.say("still here").status_code == 201
                while "still here" not in live.take(1, timeout=30)[0]["data"]:
                    pass  # the bot's answer to the first one
                assert streams(server) == baseline + 2  # answered while the stalled stream was held, not after
        assert checked
        assert until(lambda: streams(server) == baseline + 1)
        assert rss_kb(server) - memory < 30_000
        assert visitor.stream("/chat/events").status == 200  # the visitor's one allowed stream was released
        assert "Traceback" not in open(server.log.name).read()
        stalled.close()
        live.close()
    finally:
        server.stop()


def test_a_stalled_agent_dashboard_is_dropped_too(server):
    visitor = LiveBrowser(server.url)
    visitor.post("/chat/handoff")
    agent = LiveBrowser.agent(server.url)
    chat_id = int(re.search(r'data-session-id="(\d+)"', agent.http.get("/agent/dashboard").text).group(1))
    agent.post(f"/agent/sessions/{chat_id}/take")
    baseline = streams(server)
    stalled = stall(server, agent, "/agent/events")
    assert until(lambda: streams(server) == baseline + 1)
    for n in range(700):
        assert visitor.say(f"{n} {QUOTES}").status_code == 201
    assert until(lambda: streams(server) == baseline)
    stalled.close()
