"""A small HTTP/1.1 client on asyncio streams: keep-alive requests and SSE streams, cheap enough for 10,000 of them.

The load generator shares two cores with the server, so it avoids a general-purpose client's cost per request.
"""
from __future__ import annotations

import asyncio
import time
from urllib.parse import urlencode


class Connection:
    """One keep-alive connection; requests go one at a time."""

    def __init__(self, host: str, port: int, cookie: str = "", headers: dict[str, str] | None = None) -> None:
        self.host, self.port = host, port
        self.base = f"Host: {host}:{port}\r\n" + (f"Cookie: {cookie}\r\n" if cookie else "")
        self.base += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.turn = asyncio.Lock()  # a request waits for the one before it, as a browser's would on one connection

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)

    async def request(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, bytes]:
        """(status, lower-cased headers, body); reconnects once if the server closed an idle connection."""
        body = urlencode(form).encode() if form is not None else b""
        head = f"{method} {path} HTTP/1.1\r\n{self.base}"
        if form is not None:
            head += f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        payload = head.encode() + b"\r\n" + body
        async with self.turn:
            return await self._send(payload)

    async def _send(self, payload: bytes) -> tuple[int, dict, bytes]:
        for attempt in (1, 2):
            if self.writer is None or self.writer.is_closing():
                await self.open()
            try:
                self.writer.write(payload)
                return await read_response(self.reader)
            except (ConnectionError, asyncio.IncompleteReadError):
                self.writer = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def read_head(reader: asyncio.StreamReader) -> tuple[int, dict]:
    raw = await reader.readuntil(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    return status, headers


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict, bytes]:
    status, headers = await read_head(reader)
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding") == "chunked":
        body = b"".join([chunk async for chunk in chunks(reader)])
    else:
        body = await reader.read()
    return status, headers, body


async def chunks(reader: asyncio.StreamReader):
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            await reader.readline()
            return
        data = await reader.readexactly(size)
        await reader.readexactly(2)
        yield data


class EventStream:
    """One SSE connection; calls `on_event(id, data, arrival)` for every event."""

    def __init__(self, host: str, port: int, path: str, cookie: str = "", on_event=None) -> None:
        self.host, self.port, self.path, self.cookie = host, port, path, cookie
        self.on_event = on_event or (lambda *a: None)
        self.connected = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.error: BaseException | None = None

    async def open(self) -> None:
        reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        head = (f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAccept: text/event-stream\r\n"
                + (f"Cookie: {self.cookie}\r\n" if self.cookie else "") + "\r\n")
        self.writer.write(head.encode())
        status, headers = await read_head(reader)
        if status != 200:
            raise RuntimeError(f"stream {self.path} answered {status}")
        self.task = asyncio.create_task(self._read(reader, headers.get("transfer-encoding") == "chunked"))

    async def _read(self, reader: asyncio.StreamReader, chunked: bool) -> None:
        buffer = b""
        try:
            source = chunks(reader) if chunked else _raw(reader)
            async for data in source:
                buffer += data
                while b"\n\n" in buffer or b"\r\n\r\n" in buffer:
                    buffer = buffer.replace(b"\r\n", b"\n")
                    block, _, buffer = buffer.partition(b"\n\n")
                    self._dispatch(block.decode(), time.perf_counter())
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError) as exc:
            self.error = exc

    def _dispatch(self, block: str, arrival: float) -> None:
        event_id, data = None, []
        for line in block.split("\n"):
            if line.startswith(":"):
                self.connected.set()
            elif line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            self.on_event(event_id, "\n".join(data), arrival)

    def close(self) -> None:
        if self.task:
            self.task.cancel()
        if self.writer:
            self.writer.close()


async def _raw(reader: asyncio.StreamReader):
    while data := await reader.read(65536):
        yield data
