"""Reconnecting a stream, with Last-Event-ID, with ?after= or with neither: no gap and no duplicate."""
import random
import threading

import pytest

from tests.live import LiveBrowser
from tests.reliability.conftest import rows, visible_ids


@pytest.fixture
def visitor(server) -> LiveBrowser:
    visitor = LiveBrowser(server.url)
    for text in ("Tuition in the Netherlands?", "Scholarships in Germany?", "Work rights in the UK?"):
        assert visitor.say(text).status_code == 201
    return visitor


def chat_id(server) -> int:
    return rows(server, "SELECT id FROM chatsession")[0][0]


@pytest.mark.parametrize("how", ["Last-Event-ID", "?after=", "both: the header wins"])
def test_a_reconnect_resumes_right_after_the_last_event(server, visitor, how):
    everything = visible_ids(server, chat_id(server))
    seen = everything[1]
    headers = {"Last-Event-ID": str(seen)} if how != "?after=" else {}
    path = "/chat/events" + (f"?after={everything[0] if 'both' in how else seen}" if how != "Last-Event-ID" else "")
    stream = visitor.stream(path, headers=headers)
    assert [e["id"] for e in stream.take(len(everything) - 2)] == everything[2:]
    visitor.say("One more question")
    assert [e["id"] for e in stream.take(2)] == visible_ids(server, chat_id(server))[-2:]  # and nothing twice


def test_a_fresh_connection_starts_at_the_latest(server, visitor):
    stream = visitor.stream("/chat/events")
    assert stream.take(1, timeout=1) == []
    visitor.say("One more question")
    assert [e["id"] for e in stream.take(2)] == visible_ids(server, chat_id(server))[-2:]


def test_reconnecting_again_and_again_during_a_burst_misses_nothing(server, visitor):
    visitor.post("/chat/handoff")
    agent = LiveBrowser.agent(server.url)
    agent.post(f"/agent/sessions/{chat_id(server)}/take")
    last = visible_ids(server, chat_id(server))[-1]

    def burst():
        for n in range(80):
            agent.post(f"/agent/sessions/{chat_id(server)}/messages", {"text": f"Step {n} of your application"})

    writer = threading.Thread(target=burst)
    writer.start()
    seen, rng = [], random.Random(7)
    while len(seen) < 80:
        stream = visitor.stream("/chat/events", headers={"Last-Event-ID": str(seen[-1] if seen else last)})
        seen += [e["id"] for e in stream.take(min(rng.randint(1, 6), 80 - len(seen)), timeout=10)]
        stream.close()
    writer.join()
    assert seen == [i for i in visible_ids(server, chat_id(server)) if i > last]


def test_the_stream_sends_a_retry_hint_and_heartbeats(server, visitor):
    lines = []
    with visitor.http.stream("GET", "/chat/events", timeout=60) as response:  # a stream without heartbeats times out
        for line in response.iter_lines():
            lines.append(line)
            if sum(line.startswith(":") for line in lines) >= 3:
                break
    assert "retry: 3000" in lines and lines.count(": ping") == 2  # two heartbeats after the first comment
