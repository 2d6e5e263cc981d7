"""The worst messages a visitor can send, within the limits, never hold up the event loop."""
from __future__ import annotations

import random
import string
import threading

import httpx

from tests.conftest import Server
from tests.live import LiveBrowser

TOKEN = "probe-token"


def worst_message(seed: int, size: int = 2000) -> str:
    """Short made-up words: the most tokens, n-grams and knowledge-base lookups a message of this size can bring."""
    pick = random.Random(seed)
    words = ("".join(pick.choice(string.ascii_lowercase) for _ in range(pick.randint(2, 4))) for _ in range(size))
    return " ".join(words)[:size]


def loop_figures(server: Server) -> dict:
    return httpx.get(server.url + "/healthz", headers={"Authorization": f"Bearer {TOKEN}"}).json()["loop"]


def test_crafted_messages_from_many_visitors_at_once_never_stall_the_loop(tmp_path):
    server = Server(tmp_path, HANDOFF_API_TOKEN=TOKEN).start()
    try:
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
    finally:
        server.stop()
    assert codes.count(201) == len(codes) == 96  # every message was stored and answered
    assert figures["ticks"] > 0 and figures["stalls"] == 0, figures
