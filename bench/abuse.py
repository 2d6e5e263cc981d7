"""`/healthz` latency while an attacker, within the published limits, tries each abuse in turn:

    python bench/abuse.py [--seconds 20] [--addresses 25]

One Handoff process on SQLite with its default limits. The attacker comes from several addresses (as a
proxy reports them in X-Forwarded-For, which uvicorn trusts from 127.0.0.1), each kept within its limits:

1. crafted messages: 2,000 characters of made-up words, as many as one address may send;
2. the queue: every address asks for a human as often as it may and keeps a stream open on each chat,
   the queue then changes again and again (more handoffs, a counsellor taking and closing chats), and
   cookie-less page views arrive all along;
3. mail: fresh visitors ask for a human and leave a message with an address list, mailto parameters or the
   victim's own address, quoting a phishing link, as fast as the limits allow, while the queue's wait alerts
   are due every few seconds.

A probe asks `/healthz` every 20 ms throughout, as anyone may (without the API token); each phase prints its
p50 and p99, the event loop's stalls over 50 ms meanwhile (the server's own probe, read with the token) and the
emails an SMTP server on this machine received, by recipient.
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
from aiosmtpd.controller import Controller

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402

PASSWORD = "bench-password"
TOKEN = "bench-token"
VICTIM = "victim@example.org"
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
        # uvicorn drops a connection idle for 5 s: the client lets go of it sooner, never reusing one as it closes.
        self.http = httpx.AsyncClient(base_url=url, headers={"X-Forwarded-For": address}, timeout=60,
                                      limits=httpx.Limits(keepalive_expiry=2))
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


class Mailbox:
    """An SMTP server that keeps every recipient of every email it is sent."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self.controller = Controller(self, hostname="127.0.0.1", port=run.free_port())
        self.controller.start()
        self.url = f"smtp://127.0.0.1:{self.controller.port}"

    async def handle_DATA(self, server, session, envelope) -> str:
        self.received += [address.lower() for address in envelope.rcpt_tos]
        return "250 OK"

    def take(self) -> dict:
        received, self.received = self.received, []
        counts: dict = {}
        for address in received:
            counts[address] = counts.get(address, 0) + 1
        return counts


async def loop_figures(url: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return (await http.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})).json()["loop"]


def report(name: str, samples: list[float], statuses: dict, loop: dict, stalls: int, mails: dict) -> None:
    codes = ", ".join(f"{code}: {count}" for code, count in sorted(statuses.items(), key=str))
    sent = ", ".join(f"{address}: {count}" for address, count in sorted(mails.items()))
    print(f"{name:<18} healthz p50 {percentile(samples, 0.5):7.1f} ms  p99 {percentile(samples, 0.99):7.1f} ms"
          f"  max {max(samples, default=float('nan')):7.1f} ms ({len(samples)} probes); loop stalls over 50 ms: "
          f"{loop['stalls'] - stalls} (worst so far: late {loop['worst_late_ms']} ms, busy {loop['worst_busy_ms']} ms)"
          f"; load average {run.load_average()}\n{'':<18} attacker's answers: {codes or 'none'}"
          f"\n{'':<18} emails received: {sent or 'none'}", flush=True)


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
    visitors, streams = [], []
    for a in range(addresses):
        for _ in range(10):  # the handoff limit per address
            visitor = await Visitor(url, f"198.18.1.{a}").open()
            tally(statuses, await visitor.post("/chat/handoff"))
            visitors.append(visitor)
            opened = asyncio.Event()
            streams.append(asyncio.create_task(visitor.stream(opened)))
            await asyncio.wait_for(opened.wait(), 60)
    agent = httpx.AsyncClient(base_url=url, timeout=60)
    token = CSRF.search((await agent.get("/agent/login")).text).group(1)
    await agent.post("/agent/login", data={"agent_id": "agent_001", "password": PASSWORD},
                     headers={"X-CSRF-Token": token})
    token = CSRF.search((await agent.get("/agent/dashboard")).text).group(1)
    # The dashboard's stream keeps the counsellor present, so the queue's wait alerts are due to them.
    dashboard_open = asyncio.Event()
    dashboard = asyncio.create_task(dashboard_stream(agent, dashboard_open))
    await asyncio.wait_for(dashboard_open.wait(), 60)
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
    statuses["streams still open"] = sum(not stream.done() for stream in streams)
    statuses["page views"] = views
    statuses["chats stored by page views"] = count_chats(database) - before - joined
    for stream in streams + [dashboard]:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    for visitor in visitors:
        await visitor.http.aclose()
    # Signed out, the counsellor can take no chat: left messages are accepted from now on.
    await agent.post("/agent/logout", headers={"X-CSRF-Token": token})
    await agent.aclose()
    return statuses


async def dashboard_stream(agent: httpx.AsyncClient, opened: asyncio.Event) -> None:
    async with agent.stream("GET", "/agent/events", timeout=None) as response:
        opened.set()
        async for _ in response.aiter_lines():
            pass


def count_chats(database: str) -> int:
    with sqlite3.connect(database.split("///", 1)[1]) as connection:
        return connection.execute("SELECT COUNT(*) FROM chatsession").fetchone()[0]


async def mail_abuse(url: str, seconds: float) -> dict:
    """Fresh visitors, ten per address (its handoff limit), each asks for a human and leaves a message with an
    address list, mailto parameters, a forged header or the victim's own address, and a phishing link."""
    statuses: dict = {}
    emails = ["root,victim@example.org", "x@evil.example?cc=a@example.org&bcc=b@example.org&body=hi",
              "Victim <victim@example.org>", "a@example.org\nBcc: b@example.org", VICTIM]
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        visitor = await Visitor(url, f"198.18.4.{n // 10}").open()
        tally(statuses, await visitor.post("/chat/handoff"))
        tally(statuses, await visitor.post("/chat/followup", {"email": emails[n % len(emails)],
                                                              "text": "Sign in at https://evil.example/login"}))
        await visitor.http.aclose()
        n += 1
        await asyncio.sleep(0.2)
    await asyncio.sleep(6)  # the outbox sends within its poll interval (5 s)
    return statuses


async def attack(url: str, seconds: float, addresses: int, database: str, mailbox: Mailbox, only: str) -> None:
    probe = Probe(url)
    task = asyncio.create_task(probe.run())
    stalls = (await loop_figures(url))["stalls"]
    phases = [("quiet", lambda: quiet(seconds / 2)),
              ("1 crafted messages", lambda: crafted_messages(url, seconds)),
              ("2 queue churn", lambda: queue_churn(url, seconds, addresses, database)),
              ("3 mail", lambda: mail_abuse(url, seconds))]
    for name, phase in phases:
        if only and name.split()[0] not in only.split(","):
            continue
        probe.take()
        statuses = await phase()
        samples, loop = probe.take(), await loop_figures(url)
        report(name, samples, statuses, loop, stalls, mailbox.take())
        stalls = loop["stalls"]
    task.cancel()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--addresses", type=int, default=25)
    parser.add_argument("--only", default="", help="phases to run, e.g. 2 or quiet,1 (all when empty)")
    args = parser.parse_args()
    run.raise_nofile()
    database = f"sqlite:///{tempfile.mkdtemp(prefix='handoff-abuse-')}/abuse.db"
    mailbox = Mailbox()
    # The published limits as shipped; wait alerts due after 6 s of waiting, so the queue's alerts fall in the run.
    server = run.Server("app:app", {"HANDOFF_DATABASE_URL": database, "HANDOFF_SECRET_KEY": run.SECRET,
                                    "HANDOFF_AGENT_PASSWORD": PASSWORD, "HANDOFF_AUTO_ASSIGN": "0",
                                    "HANDOFF_API_TOKEN": TOKEN, "HANDOFF_SMTP_URL": mailbox.url,
                                    "HANDOFF_WAIT_ALERT_MINUTES": "0.1"})
    print(f"server pid {server.process.pid}", flush=True)
    try:
        with sqlite3.connect(database.split("///", 1)[1]) as connection:  # counsellors with an inbox, for alerts
            connection.execute("UPDATE agent SET email = agent_id || '@staff.example'")
        asyncio.run(attack(server.url, args.seconds, args.addresses, database, mailbox, args.only))
    finally:
        server.stop()
        mailbox.controller.stop()


if __name__ == "__main__":
    main()
