"""SIGTERM: open streams end within 3 seconds and the process exits cleanly."""
import re
import signal
import threading
from pathlib import Path

from tests.live import LiveBrowser


def test_sigterm_ends_every_stream_within_3_seconds_and_exits_cleanly(server):
    visitors = [LiveBrowser(server.url) for _ in range(3)]
    for visitor in visitors:
        visitor.say("Hello")  # a chat, and so a stream, begins with a message
    streams = [v.stream("/chat/events") for v in visitors] + [LiveBrowser.agent(server.url).stream("/agent/events")]
    assert all(s.take(1, with_id=False) for s in streams)
    log = Path(server.log.name)
    logged = log.stat().st_size
    exit_code = []
    stopper = threading.Thread(target=lambda: exit_code.append(server.stop(signal.SIGTERM, timeout=60)))
    stopper.start()
    assert all(s.ended.wait(60) for s in streams)
    stopper.join()
    # uvicorn re-raises the SIGTERM it handled once the graceful shutdown is done, as Unix tools do
    assert exit_code[0] in (0, -signal.SIGTERM)
    # Streams that had not ended by themselves would have been cut after the 3-second graceful timeout, logged as
    # "Cancel 4 running task(s), timeout graceful shutdown exceeded".
    assert not re.search(r"ERROR|Traceback|exceeded|Cancel", log.read_bytes()[logged:].decode())
