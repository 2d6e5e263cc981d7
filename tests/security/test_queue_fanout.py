"""Queue news costs one read per change, not one per waiting visitor; page views store nothing; the agents'
queue list is bounded."""
from __future__ import annotations

import asyncio
import queue
import re
import threading
import time

import pytest

from starlette.requests import Request

import routes.agent
import routes.chat
from models import Agent, ChatSession, now
from realtime import QUEUE, Hub, Listener
from routes.common import Board
from tests.live import LiveBrowser
from tests.security.conftest import serve

OPEN = {"HANDOFF_ADDRESS_RATE": "100000", "HANDOFF_AUTO_ASSIGN": "0", "HANDOFF_DEFAULT_MAX_CHATS": "50"}


def test_a_thousand_cookieless_page_views_store_no_chat(app, visitor):
    for _ in range(1000):
        visitor.client.cookies.clear()
        assert visitor.client.get("/").status_code == 200
    assert ChatSession.select().count() == 0


def waiting(count: int) -> list[ChatSession]:
    return [ChatSession.create(status="waiting", queued_at=now()) for _ in range(count)]


def test_every_waiting_stream_shares_one_read_per_queue_change(app, visitor, monkeypatch):
    chats, reads, read = waiting(200), [], routes.chat.queue_board
    monkeypatch.setattr(routes.chat, "queue_board", lambda settings: reads.append(1) or read(settings))

    async def run():
        hub = Hub()
        board = routes.chat.QueueBoard(hub, app.state.settings, fresh=3600)
        first = await asyncio.gather(*(board.read() for _ in chats))
        ChatSession.update(status="closed").where(ChatSession.id == chats[0].id).execute()
        hub.notify(QUEUE)
        second = await asyncio.gather(*(board.read() for _ in chats))
        return first, second

    first, second = asyncio.run(run())
    assert len(reads) == 2  # 400 status lines, one read per change
    assert [first[0]["positions"][c.id] for c in chats] == list(range(1, 201))
    assert chats[0].id not in second[0]["positions"] and second[0]["positions"][chats[1].id] == 1


def test_a_queue_change_wakes_only_the_visitors_whose_place_it_moves(app):
    chats = waiting(200)

    async def run():
        hub = Hub()
        board = routes.chat.QueueBoard(hub, app.state.settings, fresh=3600)
        listeners = {chat.id: Listener() for chat in chats}
        for chat_id, listener in listeners.items():
            board.watch(chat_id, listener)
        reader = asyncio.create_task(board.run())
        await asyncio.sleep(0)  # it listens for queue news from here on

        async def woken_by(change, read_first: bool = False) -> set[int]:
            change()
            if read_first:  # news heard, and a stream refreshing on its own reads the new board before the task does
                hub.heard[QUEUE] = time.time()
                await board.read()
            hub.notify(QUEUE)
            for _ in range(500):  # the board's task reads the queue, then wakes whom it moved
                await asyncio.sleep(0.01)
                if board.read_at > hub.heard[QUEUE]:
                    break
            await asyncio.sleep(0.05)
            found = {chat_id for chat_id, listener in listeners.items() if listener.woke}
            for listener in listeners.values():
                listener.woke = False
            return found

        await woken_by(lambda: None)  # the first read wakes everyone: nothing was shown from a board before
        joined = await woken_by(lambda: waiting(1))
        taken = await woken_by(lambda: ChatSession.update(status="assigned").where(ChatSession.id == chats[0].id)
                               .execute())
        next_taken = await woken_by(lambda: ChatSession.update(status="assigned")
                                    .where(ChatSession.id == chats[1].id).execute(), read_first=True)
        reader.cancel()
        return joined, taken, next_taken

    joined, taken, next_taken = asyncio.run(run())
    assert joined == set()  # a newcomer at the back moves nobody
    assert taken == {chat.id for chat in chats}  # the head taken: the head's own stream and every place behind it
    assert next_taken == {chat.id for chat in chats[1:]}


def test_dashboards_share_one_read_per_queue_change_and_render_only_the_lists_it_changed(app, agent):
    reads = []

    async def run():
        hub = Hub()
        boards = Board(hub, 3600, lambda: reads.append(1) or routes.agent.desk_board(60.0))
        me = Agent.get(Agent.agent_id == "agent_001")
        request = Request({"type": "http", "app": app, "session": {}, "headers": [], "query_string": b""})
        shown = [{} for _ in range(50)]

        async def look() -> list[list]:
            together = await asyncio.gather(*(boards.read() for _ in shown))
            return [routes.agent.list_events(request, me, [], board, was) for board, was in zip(together, shown)]

        first = await look()
        hub.notify(QUEUE)  # news that changed nothing any list shows
        again = await look()
        waiting(1)
        hub.notify(QUEUE)
        return first, again, await look()

    first, again, joined = asyncio.run(run())
    assert len(reads) == 3  # 50 dashboards, one read per change
    assert all(len(events) == 3 for events in first)
    assert all(events == [] for events in again)
    assert all(len(events) == 1 and 'class="queue-row"' in events[0].data for events in joined)


def test_the_agents_queue_shows_its_head_and_the_count(app, agent):
    waiting(60)
    page = agent.get("/agent/dashboard").text
    assert page.count('class="queue-row"') == 50 and "The first 50 of 60 waiting." in page


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path):
    server, _ = serve(request, tmp_path, **OPEN)
    yield server
    server.stop()


def shows(stream, text: str, timeout: float = 30) -> bool:
    """Whether a status event with `text` arrives before the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = stream.events.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            return False
        if text in event.get("data", ""):
            return True
    return False


def queued(live, count: int) -> list:
    """The live streams of `count` visitors who asked for a human, in their order in the queue."""
    visitors = []
    for _ in range(count):
        visitor = LiveBrowser(live.url)
        assert visitor.post("/chat/handoff").status_code == 204
        visitors.append(visitor)
    return [visitor.stream("/chat/events") for visitor in visitors]


def test_each_waiting_visitor_sees_their_new_place_when_the_head_is_taken(live):
    streams = queued(live, 12)
    assert all(shows(stream, f'data-position="{n}"') for n, stream in enumerate(streams, start=1))
    sarah = LiveBrowser.agent(live.url)
    head = re.search(r'class="queue-row" data-session-id="(\d+)"', sarah.http.get("/agent/dashboard").text).group(1)
    assert sarah.post(f"/agent/sessions/{head}/take").status_code == 200
    assert shows(streams[0], 'data-status="assigned"')
    assert all(shows(stream, f'data-position="{n}"') for n, stream in enumerate(streams[1:], start=1))


def test_a_visitor_taken_while_the_queue_keeps_changing_keeps_their_stream(live):
    """A stream that left the queue may still be woken by queue news already on its way: it reads its own chat."""
    streams = queued(live, 15)
    sarah = LiveBrowser.agent(live.url)
    done = threading.Event()

    def newcomers() -> None:  # the queue changes all along
        while not done.is_set():
            LiveBrowser(live.url).post("/chat/handoff")

    churn = [threading.Thread(target=newcomers) for _ in range(3)]
    for thread in churn:
        thread.start()
    try:
        ids = [int(row) for row in re.findall(r'class="queue-row" data-session-id="(\d+)"',
                                              sarah.http.get("/agent/dashboard").text)]
        taken = [chat_id for chat_id in sorted(ids)[:15]
                 if sarah.post(f"/agent/sessions/{chat_id}/take").status_code == 200]
    finally:
        done.set()
        for thread in churn:
            thread.join()
    assert len(taken) == 15
    assert all(shows(stream, 'data-status="assigned"') for stream in streams)
    assert not any(stream.ended.is_set() for stream in streams)
