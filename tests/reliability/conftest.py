"""A real uvicorn on SQLite with the visitor limits lifted, and ways to look at it from outside."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import Server

# No visitor limits, and no routing: each test takes its chats itself, so none is handed out behind its back.
LOAD = {"HANDOFF_VISITOR_RATE": "100000", "HANDOFF_ADDRESS_RATE": "1000000", "HANDOFF_AUTO_ASSIGN": "0"}


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path, **LOAD).start()
    yield server
    server.stop()


def database(server: Server) -> Path:
    return Path(server.env["HANDOFF_DATABASE_URL"].split("///", 1)[1])


def rows(server: Server, sql: str, *params) -> list[tuple]:
    """Read the server's database directly, as another process would (works while it is down)."""
    with sqlite3.connect(database(server), timeout=10) as con:
        return con.execute(sql, params).fetchall()


def visible_ids(server: Server, chat_id: int) -> list[int]:
    return [i for (i,) in rows(server, "SELECT id FROM message WHERE session_id = ? AND internal = 0 ORDER BY id",
                                  chat_id)]


def rss_kb(server: Server) -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{server.process.pid}/status").read_text()).group(1))
