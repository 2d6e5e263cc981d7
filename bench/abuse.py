"""`/healthz` latency while an attacker, within the published limits, tries each abuse in turn:

    python bench/abuse.py [--seconds 20] [--addresses 25]

One Handoff process on SQLite with its default limits. The attacker comes from several addresses (as a
proxy reports them in X-Forwarded-For, which uvicorn trusts from 127.0.0.1), each kept within its limits:

1. crafted messages: 2,000 characters of made-up words, as many as one address may send;
2. the queue: every address asks for a human as often as it may and keeps a stream open on each chat,
   the queue then changes again and again (more handoffs, a counsellor taking and closing chats), and
   cookie-less page views arrive all along;
3. mail: left messages with address lists and mailto parameters, as fast as the limits allow.

A probe asks `/healthz` every 20 ms throughout; each phase prints its p50 and p99.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import re
import sqlite3
import string
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

PASSWORD = "bench-password"
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def crafted(seed: int, size: int = 2000) -> str:
    pick = random.Random(seed)
    words = ("".join(pick.choice(string.ascii_lowercase) for _ in range(pick.randint(2, 4))) for _ in range(size))
    return " ".join(words)[:size]


class Visitor:
    """One browser from one address: its cookies and the page's CSRF token."""

    def __init__(self, url: str, address: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": address}, timeout=60)
        self.token = ""

    async def open(self) -> "Visitor":
        self.token = CSRF.search((await self.http.get("/")).text).group(1)
        return self

    async def post(self, path: str, data: dict | None = None) -> int:
        response = await self.http.post(path, data=data or {}, headers={"X-CSRF-Token": self.token})
        return response.status_code

    async def stream(self, opened: asyncio.Event) -> None:
        """Hold the chat's stream open, reading whatever comes, until cancelled."""
        async with self.http.stream("GET", "/chat/events", timeout=None) as response:
            opened.set()
            async for _ in response.aiter_lines():
                pass


class Probe:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=60)
        self.samples: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.perf_counter()
            await self.http.get("/healthz")
            self.samples.append((time.perf_counter() - start) * 1000)
            await asyncio.sleep(0.02)

    def take(self) -> list[float]:
        samples, self.samples = self.samples, []
        return samples


def report(name: str, samples: list[float], statuses: dict) -> None:
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items(), key=str))
    print(f"{name:<18} healthz p50 {percentile(samples, 0.5):7.1f} ms  p99 {percentile(samples, 0.99):7.1f} ms"
          f"  ({len(samples)} probes; attacker's answers {codes or 'none'})", flush=True)


def tally(statuses: dict, code: int) -> None:
    statuses[code] = statuses.get(code, 0) + 1


async def quiet(seconds: float) -> dict:
    await asyncio.sleep(seconds)
    return {}


async def crafted_messages(url: str, seconds: float) -> dict:
    """One address at its message limit (300 a minute), spread over ten chats (ten per ten seconds each)."""
    visitors = [await Visitor(url, "198.18.0.1").open() for _ in range(10)]
    statuses: dict = {}
    deadline, n = time.monotonic() + seconds, 0

    async def writer(visitor: Visitor, index: int) -> None:
        nonlocal n
        while time.monotonic() < deadline:
            n += 1
            tally(statuses, await visitor.post("/chat/messages", {"text": crafted(index * 10_000 + n)}))
            await asyncio.sleep(2.0)  # ten chats, one message every 2 s each: 5 a second, the address's limit

    await asyncio.gather(*(writer(v, i) for i, v in enumerate(visitors)))
    return statuses


async def queue_churn(url: str, seconds: float, addresses: int, database: str) -> dict:
    """Every address hands off ten chats and holds a stream on each; then the queue moves while the probe runs."""
    statuses: dict = {}
    visitors = []
    for a in range(addresses):
        for _ in range(10):  # the handoff limit per address
            visitor = await Visitor(url, f"198.18.1.{a}").open()
            tally(statuses, await visitor.post("/chat/handoff"))
            visitors.append(visitor)
    opened = [asyncio.Event() for _ in visitors]
    streams = [asyncio.create_task(v.stream(e)) for v, e in zip(visitors, opened)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in opened)), 120)
    agent = httpx.AsyncClient(base_url=url, timeout=60)
    token = CSRF.search((await agent.get("/agent/login")).text).group(1)
    await agent.post("/agent/login", data={"agent_id": "agent_001", "password": PASSWORD},
                     headers={"X-CSRF-Token": token})
    token = CSRF.search((await agent.get("/agent/dashboard")).text).group(1)
    before = count_chats(database)
    deadline, views, joined = time.monotonic() + seconds, 0, 0

    async def counsellor() -> None:
        # Take the head of the queue and close it: every waiting visitor moves up one place.
        while time.monotonic() < deadline:
            page = (await agent.get("/agent/dashboard")).text
            head = re.search(r'class="queue-row" data-session-id="(\d+)"', page)
            if head is None:
                break
            tally(statuses, (await agent.post(f"/agent/sessions/{head.group(1)}/take",
                                              headers={"X-CSRF-Token": token})).status_code)
            tally(statuses, (await agent.post(f"/agent/sessions/{head.group(1)}/close",
                                              headers={"X-CSRF-Token": token})).status_code)
            await asyncio.sleep(0.2)

    async def newcomers() -> None:
        # Fresh addresses join the queue at the back, each within its own limits.
        nonlocal joined
        n = 0
        while time.monotonic() < deadline:
            visitor = await Visitor(url, f"198.18.2.{n // 10}").open()
            code = await visitor.post("/chat/handoff")
            tally(statuses, code)
            joined += code == 204
            await visitor.http.aclose()
            n += 1
            await asyncio.sleep(0.2)

    async def page_views() -> None:
        nonlocal views
        http = httpx.AsyncClient(base_url=url, timeout=60)
        while time.monotonic() < deadline:
            http.cookies.clear()
            await http.get("/", headers={"X-Forwarded-For": f"198.18.3.{views % 250}"})
            views += 1
            await asyncio.sleep(0.01)
        await http.aclose()

    await asyncio.gather(counsellor(), newcomers(), page_views())
    statuses["page views"] = views
    statuses["chats stored by page views"] = count_chats(database) - before - joined
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    for visitor in visitors:
        await visitor.http.aclose()
    await agent.aclose()
    return statuses


def count_chats(database: str) -> int:
    with sqlite3.connect(database.split("///", 1)[1]) as connection:
        return connection.execute("SELECT COUNT(*) FROM chatsession").fetchone()[0]


async def mail_abuse(url: str, seconds: float) -> dict:
    """Left messages that try to add recipients or prefill a mailto link, at the address's message limit."""
    visitors = [await Visitor(url, f"198.18.4.{n}").open() for n in range(5)]
    for visitor in visitors:
        await visitor.post("/chat/handoff")
    statuses: dict = {}
    emails = ["root,victim@example.org", "x@evil.example?cc=a@example.org&bcc=b@example.org&body=hi",
              "Victim <victim@example.org>", "a@example.org\nBcc: b@example.org", "ok@example.org"]
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        visitor = visitors[n % len(visitors)]
        tally(statuses, await visitor.post("/chat/followup", {"email": emails[n % len(emails)],
                                                              "text": "Sign in at https://evil.example/login"}))
        n += 1
        await asyncio.sleep(0.2)
    return statuses


async def attack(url: str, seconds: float, addresses: int, database: str) -> None:
    probe = Probe(url)
    task = asyncio.create_task(probe.run())
    phases = [("quiet", lambda: quiet(seconds / 2)),
              ("1 crafted messages", lambda: crafted_messages(url, seconds)),
              ("2 queue churn", lambda: queue_churn(url, seconds, addresses, database)),
              ("3 mail", lambda: mail_abuse(url, seconds))]
    for name, phase in phases:
        probe.take()
        statuses = await phase()
        report(name, probe.take(), statuses)
    task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--addresses", type=int, default=25)
    args = parser.parse_args()
    run.raise_nofile()
    database = f"sqlite:///{tempfile.mkdtemp(prefix='handoff-abuse-')}/abuse.db"
    server = run.Server("app:app", {"HANDOFF_DATABASE_URL": database, "HANDOFF_SECRET_KEY": run.SECRET,
                                    "HANDOFF_AGENT_PASSWORD": PASSWORD, "HANDOFF_AUTO_ASSIGN": "0"})
    try:
        asyncio.run(attack(server.url, args.seconds, args.addresses, database))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
