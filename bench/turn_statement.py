"""One turn's messages as one statement: the PL/pgSQL function (writes.sql) against a plain CTE doing the
same for the simplest case (visitors' messages to chats with a counsellor, no checks but a closed chat).

    python bench/turn_statement.py postgresql://postgres@127.0.0.1:5432/postgres

Prints the time per message (one client, on a fresh database), for turns of 1, 10 and 50 messages.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A data-modifying CTE sees one snapshot: two messages to one chat in the same turn get the same "newest id
# before", and the order its locks are taken in is the planner's. Timed here for its cost only.
CTE = """
WITH items AS (SELECT * FROM jsonb_to_recordset(%s::jsonb) AS x(n int, chat bigint, text text, key text, at timestamp)),
locks AS (SELECT i.n, pg_advisory_xact_lock(i.chat) FROM (SELECT * FROM items ORDER BY chat, n) i),
chats AS (SELECT c.id, c.status FROM chatsession c JOIN items i ON c.id = i.chat WHERE (SELECT count(*) FROM locks) >= 0),
newest AS (SELECT i.n, (SELECT max(m.id) FROM message m WHERE m.session_id = i.chat) AS after FROM items i),
added AS (INSERT INTO message (session_id, sender, text, created_at, client_key, internal)
          SELECT i.chat, 'visitor', i.text, i.at, i.key, false FROM items i JOIN chats c ON c.id = i.chat
          WHERE c.status <> 'closed' ORDER BY i.n ON CONFLICT DO NOTHING RETURNING id, session_id),
touched AS (UPDATE chatsession SET last_visitor_at = now(), visitor_typing_at = NULL
            WHERE id IN (SELECT session_id FROM added))
SELECT a.id, n.after FROM added a JOIN items i ON i.chat = a.session_id JOIN newest n ON n.n = i.n"""


def main() -> None:
    base = sys.argv[1]
    name = f"handoff_turn_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(base)._replace(path="/" + name))
    try:
        from app import create_app
        from settings import Settings
        import models
        create_app(Settings(database_url=url, secret_key="bench", agent_password="bench-password",
                            sweep_seconds=3600, auto_assign=False))
        agent = models.Agent.by_agent_id("agent_001")
        chats = [models.ChatSession.create(status="assigned", agent=agent).id for _ in range(200)]
        models.db.obj.close_all()
        with psycopg.connect(url, autocommit=True) as connection:
            for size in (1, 10, 50):
                found = {}
                for label, sql in (("function", "SELECT handoff_turn(%s::jsonb)"), ("cte", CTE)):
                    best = float("inf")
                    for _ in range(3):
                        started = time.perf_counter()
                        for turn in range(100):
                            items = [dict(n=i, kind="visitor", chat=chats[(turn * size + i) % len(chats)],
                                          text=f"turn {turn} message {i}", key=None, at="2026-01-01T12:00:00")
                                     for i in range(size)]
                            connection.execute(sql, (json.dumps(items),), prepare=True).fetchall()
                        best = min(best, (time.perf_counter() - started) / 100 / size)
                    found[label] = best
                print(f"{size} per turn: " + ", ".join(f"{label} {seconds * 1e6:.0f} µs per message"
                                                       for label, seconds in found.items()), flush=True)
    finally:
        with psycopg.connect(base, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
