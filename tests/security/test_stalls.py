"""The worst messages a visitor can send, within the limits, never hold up the event loop: on SQLite and on
PostgreSQL + Redis workers, each worker's own loop-lag probe read after the flood."""
from __future__ import annotations

import random
import string
import threading

import httpx
import pytest

from tests.conftest import Server
from tests.live import LiveBrowser
from tests.security.conftest import serve

TOKEN = "probe-token"


def worst_message(seed: int, size: int = 2000) -> str:
    """Short made-up words: the most tokens, n-grams and knowledge-base lookups a message of this size can bring."""
    pick = random.Random(seed)
    words = ("".join(pick.choice(string.ascii_lowercase) for _ in range(pick.randint(2, 4))) for _ in range(size))
    return " ".join(words)[:size]


def loop_figures(server: Server) -> dict[int, dict]:
    """Every worker's loop figures, by pid: fresh connections until each worker has answered one."""
    workers, found = set(server.workers()), {}
    for _ in range(200):
        with httpx.Client(base_url=server.url) as http:
            response = http.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
            found[server.worker_of(response)] = response.json()["loop"]
        if set(found) >= workers:
            break
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def server(request, tmp_path):
    server, _ = serve(request, tmp_path, HANDOFF_API_TOKEN=TOKEN)
    yield server
    server.stop()


def test_crafted_messages_from_many_visitors_at_once_never_stall_the_loop(server):
    visitors = [LiveBrowser(server.url) for _ in range(12)]
    codes: list[int] = []

    def flood(n: int, visitor: LiveBrowser) -> None:
        codes.extend(visitor.say(worst_message(n * 100 + m)).status_code for m in range(8))

    threads = [threading.Thread(target=flood, args=(n, v)) for n, v in enumerate(visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures = loop_figures(server)
    assert codes.count(201) == len(codes) == 96  # every message was stored and answered
    assert set(figures) == set(server.workers())  # every worker's probe was read
    assert all(f["ticks"] > 0 and f["stalls"] == 0 for f in figures.values()), figures
