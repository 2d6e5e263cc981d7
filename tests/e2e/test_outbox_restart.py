"""A real uvicorn killed while its webhook receiver is down delivers the event once it is started again."""
import signal
import sqlite3

import httpx

from tests.conftest import Server, csrf_of, free_port
from tests.receivers import HookReceiver, eventually
from delivery.webhooks import verify


def test_a_killed_server_delivers_its_queued_webhook_after_a_restart(tmp_path):
    port = free_port()
    server = Server(tmp_path, HANDOFF_WEBHOOK_URL=f"http://127.0.0.1:{port}/hooks", HANDOFF_WEBHOOK_SECRET="k",
                    HANDOFF_OUTBOX_RETRY_SECONDS="0.2", HANDOFF_OUTBOX_POLL_SECONDS="0.1",
                    HANDOFF_DELIVERY_TIMEOUT_SECONDS="2").start()
    receiver = None
    try:
        with httpx.Client(base_url=server.url) as visitor:
            token = csrf_of(visitor.get("/").text)
            assert visitor.post("/chat/handoff", headers={"X-CSRF-Token": token}).status_code == 204
        with sqlite3.connect(tmp_path / "live.db") as db:
            eventually(lambda: db.execute("SELECT attempts FROM outbox WHERE event = 'escalated'").fetchone()[0] > 0)
        server.stop(signal.SIGKILL)
        receiver = HookReceiver(port=port)
        server.start()
        headers, body, _ = eventually(lambda: receiver.attempts and receiver.attempts[0], timeout=20)
    finally:
        server.stop()
        if receiver:
            receiver.close()
    assert headers["x-handoff-event"] == "escalated" and len(receiver.attempts) == 1
    assert verify("k", headers["x-handoff-timestamp"], body, headers["x-handoff-signature"])
