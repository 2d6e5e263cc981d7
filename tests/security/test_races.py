"""Check-then-act races: 20 requests at once against a real server, on SQLite and on PostgreSQL + Redis workers."""
from __future__ import annotations

import sqlite3
import threading

import pytest

from models import now
from tests.conftest import Server
from tests.live import LiveBrowser
from tests.security.conftest import serve

PARALLEL = 20
OPEN = {"HANDOFF_VISITOR_RATE_SECONDS": "1", "HANDOFF_ADDRESS_RATE": "100000", "HANDOFF_AUTO_ASSIGN": "0",
        "HANDOFF_DEFAULT_MAX_CHATS": "10"}
LIMIT = 10  # each agent's open chats


class Live:
    """A server and a way to read its database."""

    def __init__(self, server: Server, database_url: str) -> None:
        self.server, self.url, self.database_url = server, server.url, database_url

    def query(self, sql: str, *params) -> list[tuple]:
        if self.database_url.startswith("sqlite"):
            with sqlite3.connect(self.database_url.split("///", 1)[1]) as connection:
                return connection.execute(sql, params).fetchall()
        import psycopg
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql.replace("?", "%s"), params).fetchall()

    def present(self, agent_id: str) -> None:
        """The agent's dashboard was just seen, as its live stream would record."""
        seen = now()
        if self.database_url.startswith("sqlite"):
            with sqlite3.connect(self.database_url.split("///", 1)[1]) as connection:
                connection.execute("UPDATE agent SET last_seen_at = ? WHERE agent_id = ?", (str(seen), agent_id))
            return
        import psycopg
        with psycopg.connect(self.database_url) as connection:
            connection.execute("UPDATE agent SET last_seen_at = %s WHERE agent_id = %s", (seen, agent_id))

    def waiting_chat(self) -> tuple[LiveBrowser, int]:
        visitor = LiveBrowser(self.url)
        assert visitor.say("Hello, I need help with my application").status_code == 201
        assert visitor.post("/chat/handoff").status_code == 204
        return visitor, self.query("SELECT id FROM chatsession WHERE status = 'waiting' ORDER BY id DESC")[0][0]


@pytest.fixture(params=["sqlite", "postgresql"])
def live(request, tmp_path):
    server, url = serve(request, tmp_path, **OPEN)
    yield Live(server, url)
    server.stop()


def at_once(calls) -> list[int]:
    """Run every call in its own thread, released together; their status codes in order."""
    gate, codes = threading.Barrier(len(calls)), [0] * len(calls)

    def run(n, call):
        gate.wait()
        codes[n] = call().status_code

    threads = [threading.Thread(target=run, args=(n, call)) for n, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return codes


def test_a_transfer_and_a_close_sent_at_once_never_both_succeed(live):
    michael, emma = LiveBrowser.agent(live.url, "agent_002"), LiveBrowser.agent(live.url, "agent_003")
    chats = [live.waiting_chat()[1] for _ in range(PARALLEL // 2)]
    for chat in chats:
        assert michael.post(f"/agent/sessions/{chat}/take").status_code == 200
    live.present("agent_003")
    calls = []
    for chat in chats:
        calls += [lambda c=chat: michael.post(f"/agent/sessions/{c}/transfer", {"agent_id": "agent_003"}),
                  lambda c=chat: michael.post(f"/agent/sessions/{c}/close")]
    codes = at_once(calls)
    assert [sorted(codes[n:n + 2]) for n in range(0, PARALLEL, 2)] == [[200, 403]] * len(chats)
    assert emma.http.get("/agent/dashboard").status_code == 200
    closed_by_other = live.query(
        "SELECT c.id FROM chatsession c JOIN agentsession a ON a.session_id = c.id "
        "WHERE a.action = 'close' AND c.agent_id <> a.agent_id")
    assert closed_by_other == []


def test_concurrent_takes_stop_at_the_agents_limit(live):
    chats = [live.waiting_chat()[1] for _ in range(PARALLEL)]
    michael = LiveBrowser.agent(live.url, "agent_002")
    codes = at_once([lambda c=chat: michael.post(f"/agent/sessions/{c}/take") for chat in chats])
    assert codes.count(200) == LIMIT and codes.count(409) == PARALLEL - LIMIT
    assert live.query("SELECT COUNT(*) FROM chatsession c JOIN agent a ON c.agent_id = a.id "
                      "WHERE a.agent_id = 'agent_002' AND c.status = 'assigned'") == [(LIMIT,)]


def test_twenty_ratings_at_once_count_once(live):
    visitor, chat = live.waiting_chat()
    sarah = LiveBrowser.agent(live.url, "agent_001")
    assert sarah.post(f"/agent/sessions/{chat}/take").status_code == 200
    assert sarah.post(f"/agent/sessions/{chat}/close").status_code == 200
    codes = at_once([lambda n=n: visitor.post("/chat/rating", {"score": str(n % 5 + 1)}) for n in range(PARALLEL)])
    assert codes.count(200) == 1 and codes.count(409) == PARALLEL - 1
    first = codes.index(200) % 5 + 1
    assert live.query("SELECT rating FROM chatsession WHERE id = ?", chat) == [(first,)]
    assert live.query("SELECT rating FROM sessionanalytics WHERE session_id = ?", chat) == [(first,)]


def test_a_chat_the_visitor_left_cannot_be_rated_with_its_old_cookie(live):
    visitor, chat = live.waiting_chat()
    sarah = LiveBrowser.agent(live.url, "agent_001")
    assert sarah.post(f"/agent/sessions/{chat}/take").status_code == 200
    old_cookie = visitor.http.cookies.get("handoff")
    assert visitor.post("/chat/new").status_code == 303
    visitor.http.cookies.set("handoff", old_cookie)
    refused = visitor.post("/chat/rating", {"score": "1"})
    assert refused.status_code in (403, 409)
    assert live.query("SELECT rating FROM chatsession WHERE id = ?", chat) == [(None,)]


def test_twenty_transfers_at_once_move_the_chat_once(live):
    _, chat = live.waiting_chat()
    michael = LiveBrowser.agent(live.url, "agent_002")
    assert michael.post(f"/agent/sessions/{chat}/take").status_code == 200
    for colleague in ("agent_001", "agent_003", "agent_004"):
        live.present(colleague)
    targets = ["agent_001", "agent_003", "agent_004", "skill:uk"] * (PARALLEL // 4)
    codes = at_once([lambda t=t: michael.post(f"/agent/sessions/{chat}/transfer", {"agent_id": t}) for t in targets])
    assert codes.count(200) == 1 and codes.count(403) == PARALLEL - 1
    assert live.query("SELECT COUNT(*) FROM agentsession WHERE session_id = ? AND action = 'transfer'", chat) == [(1,)]
