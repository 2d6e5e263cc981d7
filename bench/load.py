"""The load generator, run as its own process: `python bench/load.py SCENARIO plan.json [options]`, prints JSON.

plan.json (written by bench/run.py): host, port, and for each conversation the visitor's cookie, CSRF token
and agent index; for each agent its cookie. Every message carries a tag `bench-<conversation>-<n>`, found
again in the agent's SSE event, so a delivery is matched to its POST whatever the server's ids.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from client import Connection, EventStream  # noqa: E402

TAG = re.compile(r"bench-(\d+)-(\d+)")
TEXT = "bench-{c}-{n} What are the tuition fees for a master's degree in Germany for international students?"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


class Chats:
    """Every conversation's POST connection, its visitor stream and its agent's stream, with delivery tracking."""

    def __init__(self, plan: dict, count: int) -> None:
        self.plan, self.host, self.port = plan, plan["host"], plan["port"]
        self.conversations = plan["conversations"][:count]
        agents = sorted({c["agent"] for c in self.conversations})
        self.sent: dict[tuple[int, int], float] = {}
        self.latencies: list[tuple[float, float]] = []  # (sent at, seconds)
        self.waiters: dict[tuple[int, int], asyncio.Future] = {}
        self.statuses: dict[int, int] = {}
        self.answered: dict[tuple[int, int], int | str] = {}  # each message's status, or the error of its POST
        self.agent_streams = [EventStream(self.host, self.port, "/agent/events", plan["agents"][a]["cookie"],
                                          self.on_agent_event) for a in agents]
        self.visitor_streams = [EventStream(self.host, self.port, "/chat/events", c["cookie"])
                                for c in self.conversations]
        self.posters = [Connection(self.host, self.port, c["cookie"], {"X-CSRF-Token": c["csrf"]})
                        for c in self.conversations]

    def on_agent_event(self, event_id, data: str, arrival: float) -> None:
        for match in TAG.finditer(data):
            key = (int(match.group(1)), int(match.group(2)))
            sent = self.sent.pop(key, None)
            if sent is not None:
                self.latencies.append((sent, arrival - sent))
                waiter = self.waiters.pop(key, None)
                if waiter and not waiter.done():
                    waiter.set_result(arrival)

    async def open(self) -> float:
        started = time.perf_counter()
        await gather_limited([s.open() for s in self.agent_streams], 50)
        await gather_limited([s.open() for s in self.visitor_streams], 50)
        await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in self.agent_streams + self.visitor_streams)), 120)
        await gather_limited([p.open() for p in self.posters], 100)
        return time.perf_counter() - started

    async def say(self, index: int, n: int) -> None:
        key = (index, n)
        self.sent[key] = time.perf_counter()
        try:  # the key makes a POST sent again after a dropped connection a repeat, not a second message
            status, _, _ = await self.posters[index].request("POST", "/chat/messages",
                                                             {"text": TEXT.format(c=index, n=n),
                                                              "client_key": f"bench-{index}-{n}"})
        except Exception as error:
            status = type(error).__name__
        self.answered[key] = status
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status not in (200, 201):
            self.sent.pop(key, None)

    def close(self) -> None:
        for item in self.agent_streams + self.visitor_streams + self.posters:
            item.close()


async def gather_limited(coroutines, limit: int):
    gate = asyncio.Semaphore(limit)

    async def run(coroutine):
        async with gate:
            return await coroutine

    return await asyncio.gather(*(run(c) for c in coroutines))


async def latency(plan: dict, conversations: int, interval: float, duration: float, warmup: float) -> dict:
    """Each conversation's visitor sends a message every `interval` s (±50%); delivery time to the agent's stream."""
    chats = Chats(plan, conversations)
    open_seconds = await chats.open()
    start = time.perf_counter()

    async def visitor(index: int) -> None:
        n = 0
        await asyncio.sleep(random.uniform(0, interval))
        while time.perf_counter() - start < duration:
            n += 1
            asyncio.create_task(chats.say(index, n))
            await asyncio.sleep(interval * random.uniform(0.5, 1.5))

    await asyncio.gather(*(visitor(i) for i in range(conversations)))
    drained = time.perf_counter() + 30  # a backlog is late, not lost: give the last ones time to arrive
    while chats.sent and time.perf_counter() < drained:
        await asyncio.sleep(0.1)
    measured = [s for at, s in chats.latencies if at - start >= warmup]
    lost = len(chats.sent)
    dropped = sum(1 for s in chats.agent_streams if s.error is not None or (s.task and s.task.done()))
    chats.close()
    return {"scenario": "latency", "conversations": conversations, "interval_s": interval,
            "messages": len(measured), "rate_per_s": round(len(measured) / (duration - warmup), 1),
            "p50_ms": round(percentile(measured, 50) * 1000, 1), "p90_ms": round(percentile(measured, 90) * 1000, 1),
            "p99_ms": round(percentile(measured, 99) * 1000, 1), "max_ms": round(max(measured, default=0) * 1000, 1),
            "undelivered": lost, "undelivered_tags": [f"bench-{c}-{n}:{chats.answered.get((c, n), 'unanswered')}"
                                                      for c, n in sorted(chats.sent)[:50]],
            "agent_streams_ended": dropped, "by_second": timeline(chats.latencies, start),
            "statuses": chats.statuses, "open_s": round(open_seconds, 1)}


def timeline(latencies: list[tuple[float, float]], start: float) -> list[list]:
    """[second of sending, messages, p50 ms, max ms] for each second of the run: a backlog that grows shows as a
    rising p50, a stall as one second's max."""
    seconds: dict[int, list[float]] = {}
    for at, took in latencies:
        seconds.setdefault(int(at - start), []).append(took)
    return [[second, len(found), round(percentile(found, 50) * 1000), round(max(found) * 1000)]
            for second, found in sorted(seconds.items())]


async def throughput(plan: dict, conversations: int, duration: float, warmup: float) -> dict:
    """Closed loop: each visitor sends the next message as soon as the last reached the agent's stream."""
    chats = Chats(plan, conversations)
    await chats.open()
    start = time.perf_counter()
    loop = asyncio.get_running_loop()

    async def visitor(index: int) -> None:
        n = 0
        while time.perf_counter() - start < duration:
            n += 1
            waiter = chats.waiters[(index, n)] = loop.create_future()
            await chats.say(index, n)
            try:
                await asyncio.wait_for(waiter, 10)
            except asyncio.TimeoutError:
                chats.waiters.pop((index, n), None)

    await asyncio.gather(*(visitor(i) for i in range(conversations)))
    window = [s for at, s in chats.latencies if warmup <= at - start <= duration]
    chats.close()
    return {"scenario": "throughput", "conversations": conversations,
            "messages_per_s": round(len(window) / (duration - warmup), 1),
            "p50_ms": round(percentile(window, 50) * 1000, 1), "p99_ms": round(percentile(window, 99) * 1000, 1),
            "statuses": chats.statuses}


QUESTIONS = ["What are the tuition fees for a master's degree in Germany?",
             "How much does a student visa for Canada cost?", "Can I work part-time while studying in Australia?",
             "What IELTS score do UK universities ask for?", "When are the intakes for universities in Ireland?",
             "Do I need a blocked account for Germany?", "How long does a Canadian study permit take?",
             "Are there scholarships for international students in the Netherlands?"]


async def mixed(plan: dict, interval: float, duration: float, warmup: float) -> dict:
    """Every kind of traffic at once, each visitor sending every `interval` s (±50%): chats with a counsellor
    (POST → the counsellor's stream), chats with the bot (POST → the bot's answer on the visitor's stream) and
    visitors waiting in the queue (POST → their own stream). The bare relay has no bot: its "bot" visitors
    are timed to their own stream, like the waiting ones. Besides, every visitor's message is timed to its echo
    on the visitor's own stream, whatever the chat's state."""
    conversations = plan["conversations"]
    kinds = [c.get("kind", "assigned") for c in conversations]
    bare = plan.get("bare", False)
    host, port = plan["host"], plan["port"]
    latencies: dict[str, list[tuple[float, float]]] = {kind: [] for kind in ("assigned", "bot", "waiting")}
    sent: dict[tuple[int, int], float] = {}
    asked: dict[int, list[float]] = {}  # bot chats: when each question still unanswered was sent
    unechoed: dict[tuple[int, int], float] = {}  # every message not yet back on its visitor's own stream
    echoes: list[tuple[float, float]] = []
    statuses: dict[int, int] = {}

    def record(kind: str, at: float, arrival: float) -> None:
        latencies[kind].append((at, arrival - at))

    def on_agent(event_id, data: str, arrival: float) -> None:
        for match in TAG.finditer(data):
            key = (int(match.group(1)), int(match.group(2)))
            if key in sent and kinds[key[0]] == "assigned":
                record("assigned", sent.pop(key), arrival)

    def on_visitor(index: int):
        kind = kinds[index]

        def on_event(event_id, data: str, arrival: float) -> None:
            for match in TAG.finditer(data):
                key = (int(match.group(1)), int(match.group(2)))
                if key[0] == index and key in unechoed:
                    at = unechoed.pop(key)
                    echoes.append((at, arrival - at))
            if kind == "waiting" or (kind == "bot" and bare):
                for match in TAG.finditer(data):
                    key = (int(match.group(1)), int(match.group(2)))
                    if key in sent:
                        record(kind, sent.pop(key), arrival)
            elif kind == "bot" and asked.get(index) and ('data-sender="bot"' in data or 'data-sender="system"' in data):
                record(kind, asked[index].pop(0), arrival)
        return on_event

    agents = sorted({c["agent"] for c, kind in zip(conversations, kinds) if kind == "assigned"})
    agent_streams = [EventStream(host, port, "/agent/events", plan["agents"][a]["cookie"], on_agent) for a in agents]
    visitor_streams = [EventStream(host, port, "/chat/events", c["cookie"], on_visitor(i))
                       for i, c in enumerate(conversations)]
    posters = [Connection(host, port, c["cookie"], {"X-CSRF-Token": c["csrf"]}) for c in conversations]
    await gather_limited([s.open() for s in agent_streams + visitor_streams], 50)
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in agent_streams + visitor_streams)), 120)
    await gather_limited([p.open() for p in posters], 100)
    start = time.perf_counter()

    async def say(index: int, n: int) -> None:
        key, at = (index, n), time.perf_counter()
        unechoed[key] = at
        if kinds[index] == "bot" and not bare:
            asked.setdefault(index, []).append(at)
        else:
            sent[key] = at
        text = f"bench-{index}-{n} " + QUESTIONS[(index + n) % len(QUESTIONS)]
        status, _, _ = await posters[index].request("POST", "/chat/messages", {"text": text})
        statuses[status] = statuses.get(status, 0) + 1

    async def visitor(index: int) -> None:
        n = 0
        await asyncio.sleep(random.uniform(0, interval))
        while time.perf_counter() - start < duration:
            n += 1
            asyncio.create_task(say(index, n))
            await asyncio.sleep(interval * random.uniform(0.5, 1.5))

    await asyncio.gather(*(visitor(i) for i in range(len(conversations))))
    drained = time.perf_counter() + 30
    while (sent or unechoed or any(asked.values())) and time.perf_counter() < drained:
        await asyncio.sleep(0.1)
    for item in agent_streams + visitor_streams + posters:
        item.close()
    result = {"scenario": "mixed", "interval_s": interval, "statuses": statuses,
              "undelivered": len(sent) + sum(len(v) for v in asked.values())}
    for kind, found in latencies.items():
        measured = [s for at, s in found if at - start >= warmup]
        result[kind] = {"visitors": kinds.count(kind), "messages": len(measured),
                        "p50_ms": round(percentile(measured, 50) * 1000, 1),
                        "p99_ms": round(percentile(measured, 99) * 1000, 1)}
    measured = [s for at, s in echoes if at - start >= warmup]
    result["echo"] = {"messages": len(echoes) + len(unechoed), "measured": len(measured),
                      "p50_ms": round(percentile(measured, 50) * 1000, 1),
                      "p90_ms": round(percentile(measured, 90) * 1000, 1),
                      "p99_ms": round(percentile(measured, 99) * 1000, 1),
                      "max_ms": round(max(measured, default=0) * 1000, 1),
                      "over_5s": sum(s > 5 for _, s in echoes), "never": len(unechoed),
                      "timeline": timeline(echoes, start)}
    return result


async def idle(plan: dict, streams: int) -> dict:
    """Open `streams` visitor streams, say so, and hold them until stdin closes."""
    conversations = plan["conversations"][:streams]
    opened = [EventStream(plan["host"], plan["port"], "/chat/events", c["cookie"]) for c in conversations]
    started = time.perf_counter()
    await gather_limited([s.open() for s in opened], 100)
    await asyncio.wait_for(asyncio.gather(*(s.connected.wait() for s in opened)), 300)
    print(json.dumps({"ready": streams, "open_s": round(time.perf_counter() - started, 1)}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    alive = len([s for s in opened if s.error is None and not s.task.done()])
    for s in opened:
        s.close()
    return {"scenario": "idle", "streams": streams, "still_open": alive}


async def page(plan: dict, requests: int) -> dict:
    """Time to first byte of the chat page, for new visitors and for one returning to a chat with history."""
    async def fetch(path: str, cookie: str = "") -> tuple[float, int]:
        reader, writer = await asyncio.open_connection(plan["host"], plan["port"])
        head = f"GET {path} HTTP/1.1\r\nHost: {plan['host']}\r\nConnection: close\r\n"
        head += (f"Cookie: {cookie}\r\n" if cookie else "") + "\r\n"
        started = time.perf_counter()
        writer.write(head.encode())
        await reader.readexactly(1)
        first = time.perf_counter() - started
        rest = await reader.read()
        writer.close()
        body = rest.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in rest else b""
        return first, len(body)

    result = {"scenario": "page"}
    returning = plan["conversations"][0]["cookie"]
    for name, cookie in (("new", ""), ("returning", returning)):
        timings, size = [], 0
        for _ in range(requests):
            first, size = await fetch("/", cookie)
            timings.append(first)
        result[name] = {"ttfb_p50_ms": round(percentile(timings, 50) * 1000, 2),
                        "ttfb_p99_ms": round(percentile(timings, 99) * 1000, 2), "html_bytes": size}
    page_html = (await fetch_body(plan, "/"))
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page_html)
    result["assets"] = {path: len((await fetch_body(plan, path)).encode()) for path in assets}
    result["total_bytes"] = result["new"]["html_bytes"] + sum(result["assets"].values())
    return result


async def fetch_body(plan: dict, path: str) -> str:
    connection = Connection(plan["host"], plan["port"])
    _, _, body = await connection.request("GET", path)
    connection.close()
    return body.decode("utf-8", "replace")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["latency", "throughput", "idle", "page", "mixed"])
    parser.add_argument("plan")
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--interval", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    try:
        import uvloop  # the generator's own loop: cheaper per event, so it stays out of the server's way
        run = uvloop.run
    except ImportError:
        run = asyncio.run
    plan = json.loads(Path(args.plan).read_text())
    if args.scenario == "latency":
        result = latency(plan, args.conversations, args.interval, args.duration, args.warmup)
    elif args.scenario == "throughput":
        result = throughput(plan, args.conversations, args.duration, args.warmup)
    elif args.scenario == "mixed":
        result = mixed(plan, args.interval, args.duration, args.warmup)
    elif args.scenario == "idle":
        result = idle(plan, args.streams)
    else:
        result = page(plan, args.requests)
    print(json.dumps(run(result)), flush=True)


if __name__ == "__main__":
    main()
