"""Wake-ups between workers: one Redis PUBLISH per turn against pg_notify, for the worker's own CPU.

    python bench/wake_carrier.py postgresql://postgres@127.0.0.1:5432/postgres redis://127.0.0.1:6379/0

Sends `--turns` wake-ups of about 400 bytes (one turn's line, a message's rows included) and receives them
on a second connection, as another worker would, in this one process: the CPU this process spent per
wake-up, sending and receiving. For pg_notify the sending is a statement of its own here; inside the turn's
statement it would cost the worker no round trip, so its "send" is an upper bound.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import psycopg

PAYLOAD = ("a1b2c3d4e5f6 session:1234 agent:56 ;1234,5000,4999,5001,[[5001,\"visitor\",\"bench-12-345 What are "
           "the tuition fees for a master's degree in Germany for international students?\",\"2026-12-04T17:"
           "20:00.123456\",false,null,null,null,null,null,null,null]]")


async def per_wake_up(events, send, turns: int) -> float:
    """CPU seconds of this process per wake-up: `turns` sends, until the listener has seen each one."""
    async def receive():
        seen = 0
        async for _ in events:
            seen += 1
            if seen == turns:
                return

    listening = asyncio.create_task(receive())
    await asyncio.sleep(0.2)
    started = time.process_time()
    for _ in range(turns):
        await send()
    await listening
    return (time.process_time() - started) / turns


async def redis_carrier(url: str, turns: int) -> float:
    import redis.asyncio as redis
    sender, receiver = redis.from_url(url), redis.from_url(url)
    pubsub = receiver.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("bench-wake")
    spent = await per_wake_up(pubsub.listen(), lambda: sender.publish("bench-wake", PAYLOAD), turns)
    await pubsub.aclose()
    await sender.aclose()
    await receiver.aclose()
    return spent


async def pg_carrier(url: str, turns: int) -> float:
    sender = await psycopg.AsyncConnection.connect(url, autocommit=True)
    receiver = await psycopg.AsyncConnection.connect(url, autocommit=True)
    await receiver.execute("LISTEN bench_wake")
    spent = await per_wake_up(receiver.notifies(),
                              lambda: sender.execute("SELECT pg_notify('bench_wake', %s)", (PAYLOAD,), prepare=True),
                              turns)
    await sender.close()
    await receiver.close()
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("postgres")
    parser.add_argument("redis")
    parser.add_argument("--turns", type=int, default=5000)
    args = parser.parse_args()
    for name, carrier, url in (("redis", redis_carrier, args.redis), ("pg_notify", pg_carrier, args.postgres)) * 2:
        print(f"{name}: {asyncio.run(carrier(url, args.turns)) * 1e6:.0f} µs of this process's CPU per wake-up",
              flush=True)


if __name__ == "__main__":
    main()
