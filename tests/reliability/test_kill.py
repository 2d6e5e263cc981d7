"""SIGKILL in the middle of a load of POSTs: every acknowledged message is there after the restart."""
import signal
import threading
import time

import httpx

from tests.live import LiveBrowser
from tests.reliability.conftest import rows


def stored_keys(server) -> list[str]:
    return [k for (k,) in rows(server, "SELECT client_key FROM message WHERE sender = 'visitor'")]


def test_acknowledged_equals_stored_after_sigkill_mid_load(server):
    visitors = [LiveBrowser(server.url) for _ in range(6)]
    acknowledged: set[str] = set()
    unanswered: dict[str, LiveBrowser] = {}
    stop = threading.Event()

    def load(n: int, visitor: LiveBrowser) -> None:
        for i in range(100_000):
            key = f"v{n}-{i}"
            try:
                response = visitor.say(f"Question {key} about tuition fees", key=key)
            except httpx.HTTPError:
                unanswered[key] = visitor  # sent, perhaps stored, never answered: the client will retry it
                return
            assert response.status_code == 201
            acknowledged.add(key)
            if stop.is_set():
                return

    threads = [threading.Thread(target=load, args=(n, v)) for n, v in enumerate(visitors)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120  # however slow the machine, the kill comes mid-load, after 100 acknowledgements
    while len(acknowledged) <= 100 and time.monotonic() < deadline:
        time.sleep(0.05)
    server.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(10)

    after_kill = stored_keys(server)
    assert len(acknowledged) > 100 and acknowledged <= set(after_kill)
    server.start()
    for key, visitor in unanswered.items():  # a retry with the same key is stored at most once
        assert visitor.say(f"Question {key} about tuition fees", key=key).status_code in (200, 201)
        acknowledged.add(key)
    stored = stored_keys(server)
    assert len(stored) == len(set(stored)) == len(acknowledged) and set(stored) == acknowledged
