"""Real servers the tests deliver to: an HTTP webhook receiver and an SMTP server (aiosmtpd), each in a thread."""
from __future__ import annotations

import json
import threading
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

from tests.conftest import free_port


def eventually(check, timeout: float = 10.0, step: float = 0.05):
    """Poll until check() is truthy; its value, or an AssertionError after the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"not true within {timeout}s")


class HookReceiver:
    """Records every POST (headers, body, the status it answered) and answers the scripted statuses, then 200.

    Given `hold`, it counts each POST in `arrived` and answers only once `hold` is set (or after a minute).
    """

    def __init__(self, statuses: list[int] | None = None, port: int = 0, hold: threading.Event | None = None) -> None:
        self.attempts: list[tuple[dict, bytes, int]] = []
        self.arrived = 0
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.arrived += 1
                if hold is not None:
                    hold.wait(60)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.attempts.append(({k.lower(): v for k, v in self.headers.items()}, body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> list[dict]:
        return [json.loads(body) for _, body, status in self.attempts if status < 300]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[dict]:
        return eventually(lambda: len(self.delivered()) >= count and self.delivered(), timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def body_of(message: EmailMessage) -> str:
    """The text as written: SMTP carries CRLF line ends."""
    return message.get_content().replace("\r\n", "\n")


class MailReceiver:
    """An SMTP server that keeps each message; the first `refuse` messages get a temporary 451 refusal."""

    def __init__(self, refuse: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.refused = 0
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:
                if receiver.refused < refuse:
                    receiver.refused += 1
                    return "451 4.3.0 Try again later"
                receiver.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        return eventually(lambda: len(self.messages) >= count and self.messages, timeout)

    def close(self) -> None:
        self.controller.stop()
