"""A restart in the middle of a chat: the visitor and the agent carry on, and the stream resumes where it was."""
import time

from tests.conftest import Server
from tests.live import LiveBrowser
from tests.reliability.conftest import LOAD, rows, visible_ids


def test_visitor_and_agent_carry_on_after_a_restart(server):
    visitor = LiveBrowser(server.url)
    visitor.say("What is a CAS for a UK student visa?")
    visitor.post("/chat/handoff")
    agent = LiveBrowser.agent(server.url)
    [(chat_id,)] = rows(server, "SELECT id FROM chatsession")
    assert agent.post(f"/agent/sessions/{chat_id}/take").status_code == 200
    assert agent.post(f"/agent/sessions/{chat_id}/messages", {"text": "Hi, I'm Sarah."}).status_code == 201
    stream = visitor.stream("/chat/events?after=0")
    before = stream.take(len(visible_ids(server, chat_id)))

    server.stop()
    assert stream.ended.wait(5)
    server.start()

    assert visitor.say("Are you still there?").status_code == 201
    assert agent.post(f"/agent/sessions/{chat_id}/messages", {"text": "Yes, still here."}).status_code == 201
    resumed = visitor.stream("/chat/events", headers={"Last-Event-ID": str(before[-1]["id"])}).take(2)
    assert [e["id"] for e in before + resumed] == visible_ids(server, chat_id)
    assert "Are you still there?" in resumed[0]["data"] and "Yes, still here." in resumed[1]["data"]
    assert "Yes, still here." in agent.http.get("/agent/dashboard").text


def test_an_open_agent_stream_picks_up_after_a_restart(server):
    visitor = LiveBrowser(server.url)
    visitor.post("/chat/handoff")
    agent = LiveBrowser.agent(server.url)
    [(chat_id,)] = rows(server, "SELECT id FROM chatsession")
    agent.post(f"/agent/sessions/{chat_id}/take")
    server.stop()
    server.start()
    stream = agent.stream("/agent/events")
    assert "chat-panel" in stream.take(1, with_id=False)[0]["data"]  # the dashboard's first full picture
    assert visitor.say("Hello after the restart").status_code == 201
    assert arrives(stream, "Hello after the restart")
    stream.close()


def test_a_restart_shorter_than_the_grace_period_leaves_the_counsellors_chats_with_them(tmp_path):
    server = Server(tmp_path, HANDOFF_SWEEP_SECONDS="0.3", **LOAD).start()
    try:
        visitor = LiveBrowser(server.url)
        visitor.post("/chat/handoff")
        agent = LiveBrowser.agent(server.url)
        [(chat_id,)] = rows(server, "SELECT id FROM chatsession")
        stream = agent.stream("/agent/events")  # present: a live dashboard
        stream.take(1, with_id=False)
        agent.post(f"/agent/sessions/{chat_id}/take")
        server.stop()
        assert stream.ended.wait(5)
        time.sleep(11)  # longer than a reload's moments, well within the 60 s grace period
        server.start()
        time.sleep(3)  # several sweeps
        assert rows(server, "SELECT status FROM chatsession WHERE id = ?", chat_id) == [("assigned",)]
        assert not rows(server, "SELECT id FROM message WHERE text LIKE '%was disconnected%'")
    finally:
        server.stop()


def arrives(stream, text: str, timeout: float = 10) -> bool:
    """Whether the text reaches the stream, as its own event or inside a fresh picture of the chats."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(text in event["data"] for event in stream.take(1, deadline - time.monotonic(), with_id=False)):
            return True
    return False
