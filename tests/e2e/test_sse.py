"""The visitor's stream against a real uvicorn: stored, delivered, replayed after Last-Event-ID, never duplicated."""
import re
import sqlite3
import threading
from contextlib import contextmanager

import httpx

from tests.conftest import csrf_of


class Visitor:
    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=10)
        self.token = csrf_of(self.http.get("/").text)

    def say(self, text: str, key: str | None = None) -> httpx.Response:
        data = {"text": text, **({"client_key": key} if key else {})}
        return self.http.post("/chat/messages", data=data, headers={"X-CSRF-Token": self.token})

    def events(self, count: int, headers: dict | None = None, after: int | None = None, timeout: float = 10,
               opened: threading.Event | None = None):
        """The first `count` events with an id, as (id, html); `opened` is set once the server is listening."""
        url = "/chat/events" + (f"?after={after}" if after is not None else "")
        found, current = [], {}
        with self.http.stream("GET", url, headers=headers or {}, timeout=timeout) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            for line in response.iter_lines():
                if line.startswith(":") and opened is not None:
                    opened.set()  # the stream's first comment comes once it listens for news
                elif line.startswith("id:"):
                    current["id"] = int(line[3:].strip())
                elif line.startswith("data:"):
                    current["data"] = current.get("data", "") + line[5:].strip()
                elif line == "" and current:
                    if "id" in current:
                        found.append((current["id"], current["data"]))
                        if len(found) == count:
                            return found
                    current = {}
        return found

    @contextmanager
    def reading(self, count: int):
        """The first `count` events of a fresh stream, read in the background; the stream is open on entry."""
        got, opened = [], threading.Event()
        reader = threading.Thread(target=lambda: got.extend(self.events(count, opened=opened)))
        reader.start()
        assert opened.wait(30), "the stream did not open"
        yield got
        reader.join(30)


def test_messages_arrive_live_in_order_each_once(live_server):
    visitor = Visitor(live_server.url)
    assert visitor.say("What is the IELTS score for Canada?").status_code == 201  # the chat begins here
    got = []
    reader = threading.Thread(target=lambda: got.extend(visitor.events(4, after=0)))
    reader.start()
    assert visitor.say("And for Australia?").status_code == 201
    reader.join(15)
    ids = [i for i, _ in got]
    assert len(ids) == 4 and ids == sorted(set(ids))
    assert [re.search(r'data-sender="(\w+)"', html).group(1) for _, html in got] == ["visitor", "bot"] * 2


def test_last_event_id_replays_only_what_was_missed(live_server):
    visitor = Visitor(live_server.url)
    for text in ("Tuition in the Netherlands?", "Scholarships in Germany?", "Work rights in the UK?"):
        visitor.say(text)
    everything = visitor.events(6, after=0)
    resumed = visitor.events(4, headers={"Last-Event-ID": str(everything[1][0])}, after=0)
    assert resumed == everything[2:]


def test_fresh_connection_starts_at_the_latest(live_server):
    visitor = Visitor(live_server.url)
    visitor.say("Hello")
    with visitor.reading(2) as got:
        visitor.say("What documents do I need for an F-1 visa?")
    assert "F-1" in got[0][1] and len(got) == 2


def test_restart_mid_chat_loses_nothing(live_server):
    visitor = Visitor(live_server.url)
    visitor.say("What is a CAS?", key="k1")
    before = visitor.events(2, after=0)
    live_server.stop()
    live_server.start()
    assert visitor.say("And when do I get it?", key="k2").status_code == 201
    after = visitor.events(4, after=0)
    assert after[:2] == before and len({i for i, _ in after}) == 4


def test_a_message_whose_wake_up_was_lost_still_comes_first(live_server):
    """Another process stored a message and nobody woke the stream: the next message handed to the stream does
    not follow on from what it sent, so it reads the database and sends both, in order."""
    visitor = Visitor(live_server.url)
    visitor.say("Hello")
    database = live_server.env["HANDOFF_DATABASE_URL"].split("///", 1)[1]
    with visitor.reading(3) as got:
        with sqlite3.connect(database, timeout=30) as con:
            con.execute("INSERT INTO message (session_id, sender, text, created_at, internal) "
                        "SELECT id, 'system', 'Written elsewhere', datetime('now'), 0 FROM chatsession")
        visitor.say("What documents do I need for an F-1 visa?")
    assert [i for i, _ in got] == sorted(i for i, _ in got) and len(got) == 3
    assert "Written elsewhere" in got[0][1] and "F-1" in got[1][1]
