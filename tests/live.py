"""Clients for a real server: browsers over httpx that send the CSRF token, and SSE streams read in a thread."""
from __future__ import annotations

import queue
import socket
import threading
import time

import httpx

from tests.conftest import PASSWORD, csrf_of


class LiveBrowser:
    """One browser: its cookies, its page's CSRF token."""

    def __init__(self, url: str, page: str = "/") -> None:
        self.url = url
        self.http = httpx.Client(base_url=url, timeout=15)
        self.token = csrf_of(self.http.get(page).text)

    @classmethod
    def agent(cls, url: str, agent_id: str = "agent_001", password: str = PASSWORD) -> "LiveBrowser":
        browser = cls(url, "/agent/login")
        response = browser.post("/agent/login", {"agent_id": agent_id, "password": password})
        assert response.status_code == 303, response.text
        browser.token = csrf_of(browser.http.get("/agent/dashboard").text)
        return browser

    def post(self, path: str, data: dict | None = None, **kwargs) -> httpx.Response:
        return self.http.post(path, data=data or {}, headers={"X-CSRF-Token": self.token}, **kwargs)

    def say(self, text: str, key: str | None = None) -> httpx.Response:
        return self.post("/chat/messages", {"text": text, **({"client_key": key} if key else {})})

    def stream(self, path: str, headers: dict | None = None) -> "Stream":
        return Stream(self, path, headers)


class Stream:
    """An SSE connection read in a background thread; events (dicts of id/data) arrive in `events`."""

    def __init__(self, browser: LiveBrowser, path: str, headers: dict | None = None) -> None:
        self.events: queue.Queue[dict] = queue.Queue()
        self.status: int | None = None
        self.ended = threading.Event()
        self._sock: socket.socket | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(browser, path, headers or {}), daemon=True)
        self._thread.start()
        assert self._opened.wait(10), "the stream did not open"

    def _read(self, browser: LiveBrowser, path: str, headers: dict) -> None:
        try:
            with httpx.Client(base_url=browser.url, cookies=browser.http.cookies, timeout=None) as http:
                with http.stream("GET", path, headers=headers) as response:
                    self.status = response.status_code
                    self._sock = response.extensions["network_stream"].get_extra_info("socket")
                    self._opened.set()
                    current: dict = {}
                    for line in response.iter_lines():
                        if line.startswith(":"):
                            self._opened.set()
                        elif line.startswith("id:"):
                            current["id"] = int(line[3:].strip())
                        elif line.startswith("data:"):
                            current["data"] = current.get("data", "") + line[5:].lstrip(" ") + "\n"
                        elif line == "" and current:
                            self.events.put(current)
                            current = {}
        except (httpx.HTTPError, OSError):
            pass
        finally:
            self._opened.set()
            self.ended.set()

    def take(self, count: int, timeout: float = 10, with_id: bool = True) -> list[dict]:
        """The next `count` events (only those with an id, by default), or fewer when time runs out."""
        found, deadline = [], time.monotonic() + timeout
        while len(found) < count and time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if "id" in event or not with_id:
                found.append(event)
        return found

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
