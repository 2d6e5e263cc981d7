"""Presence on a real uvicorn: the dashboard's live connection keeps an agent online; when it drops, their chats go back."""
import threading
import time

import httpx
import pytest

from tests.conftest import PASSWORD, Server, csrf_of


@pytest.fixture
def server(tmp_path):
    live = Server(tmp_path, HANDOFF_PRESENCE_GRACE_SECONDS="2", HANDOFF_SWEEP_SECONDS="0.3").start()
    yield live
    live.stop()


def client(url: str) -> tuple[httpx.Client, str]:
    http = httpx.Client(base_url=url, timeout=10)
    return http, csrf_of(http.get("/").text)


def wait_for(check, seconds: float = 30) -> bool:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_dropped_agents_chat_returns_to_the_queue_and_the_visitor_is_told(server):
    visitor, token = client(server.url)
    visitor.post("/chat/messages", data={"text": "I want to talk to a human about UK visas"},
                 headers={"X-CSRF-Token": token})
    agent, token = client(server.url)
    agent.get("/agent/login")
    agent.post("/agent/login", data={"agent_id": "agent_003", "password": PASSWORD}, headers={"X-CSRF-Token": token})
    stop = threading.Event()

    def dashboard_open():
        with agent.stream("GET", "/agent/events") as stream:
            for _ in stream.iter_lines():
                if stop.is_set():
                    return

    reader = threading.Thread(target=dashboard_open, daemon=True)
    reader.start()
    assert wait_for(lambda: "chatting with <strong>Emma Williams" in visitor.get("/").text)
    time.sleep(3)  # longer than the grace: a connected agent keeps the chat
    assert "chatting with <strong>Emma Williams" in visitor.get("/").text
    stop.set()
    reader.join(5)
    assert wait_for(lambda: "Emma Williams was disconnected" in visitor.get("/").text)
    page = visitor.get("/").text
    assert 'data-position="1"' in page and "No counsellor is online right now" in page
    time.sleep(1)
    assert 'data-position="1"' in visitor.get("/").text  # never handed back to the offline agent


def test_an_agent_reading_another_staff_page_keeps_their_chats_and_sees_them_counted(server):
    visitor, token = client(server.url)
    visitor.post("/chat/messages", data={"text": "I want to talk to a human about UK visas"},
                 headers={"X-CSRF-Token": token})
    agent, token = client(server.url)
    agent.post("/agent/login", data={"agent_id": "agent_003", "password": PASSWORD}, headers={"X-CSRF-Token": token})

    def keep_open(path: str, lines: list) -> threading.Event:
        stop = threading.Event()

        def read():
            with agent.stream("GET", path) as stream:
                for line in stream.iter_lines():
                    lines.append(line)
                    if stop.is_set():
                        return
        threading.Thread(target=read, daemon=True).start()
        return stop

    dashboard = keep_open("/agent/events", [])
    assert wait_for(lambda: "chatting with <strong>Emma Williams" in visitor.get("/").text)
    assert 'hx-sse:connect="/agent/desk-events"' in agent.get("/agent/analytics").text
    counted: list[str] = []
    elsewhere = keep_open("/agent/desk-events", counted)
    dashboard.set()
    assert wait_for(lambda: any("(1 chat)" in line for line in counted))
    time.sleep(3)  # longer than the grace, with no dashboard open
    assert "chatting with <strong>Emma Williams" in visitor.get("/").text
    elsewhere.set()
    assert wait_for(lambda: "Emma Williams was disconnected" in visitor.get("/").text)
