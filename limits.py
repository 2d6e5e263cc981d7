"""Rate-limit counters and sign-in failure logs, in memory or in Redis across workers."""
from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict


class Counter:
    """Counts hits per key in windows of `seconds`; shared through Redis when a client is given."""

    def __init__(self, redis=None, prefix: str = "handoff:rl:", max_keys: int = 100_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_keys = max_keys
        self._local: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._events: OrderedDict[str, list[float]] = OrderedDict()
        self._turn: list[tuple[list, asyncio.Future]] = []  # this turn's hits, waiting for one pipeline

    async def first_over(self, limits: list[tuple[str, int, float]]) -> int | None:
        """Count one hit on each (key, limit, seconds), in one trip to Redis; the index of the first past its limit."""
        now = time.time()
        windows = [(key, int(now // seconds), seconds) for key, _, seconds in limits]
        counts = None
        if self.redis is not None:
            try:
                counts = await self._counted(windows)
            except Exception:
                pass  # a Redis outage degrades to per-process limits rather than refusing every visitor
        if counts is None:
            counts = [self._hit_here(key, window) for key, window, _ in windows]
        return next((n for n, ((_, limit, _), count) in enumerate(zip(limits, counts)) if count > limit), None)

    async def _counted(self, windows: list[tuple[str, int, float]]) -> list[int]:
        """The counts after one hit on each window, sent with every other request's of this turn of the event
        loop: one trip to Redis for the turn."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        if not self._turn:
            loop.call_soon(self._send)
        self._turn.append((windows, future))
        return await future

    def _send(self) -> None:
        turn, self._turn = self._turn, []
        asyncio.get_running_loop().create_task(self._pipeline(turn))

    async def _pipeline(self, turn: list) -> None:
        try:
            # No MULTI: a key's INCR and EXPIRE go one after the other on one connection, and a count
            # that outlived its window by a moment would only hold a key Redis is about to drop.
            async with self.redis.pipeline(transaction=False) as pipe:
                for windows, _ in turn:
                    for key, window, seconds in windows:
                        name = f"{self.prefix}{key}:{window}"
                        pipe.incr(name)
                        pipe.expire(name, int(seconds) + 1)
                replies = await pipe.execute()
        except Exception as error:
            for _, future in turn:
                if not future.done():
                    future.set_exception(error)
            return
        at = 0
        for windows, future in turn:
            counts, at = [int(count) for count in replies[at:at + 2 * len(windows):2]], at + 2 * len(windows)
            if not future.done():
                future.set_result(counts)

    def _hit_here(self, key: str, window: int) -> int:
        seen_window, count = self._local.get(key, (window, 0))
        count = count + 1 if seen_window == window else 1
        self._local[key] = (window, count)
        self._local.move_to_end(key)
        while len(self._local) > self.max_keys:
            self._local.popitem(last=False)
        return count

    # Sign-in failures need an exact "N in the last 15 minutes": a fixed window would let twice as many
    # through around its boundary. So each failure is kept with its time (few per key, since we stop at N).

    async def record(self, key: str, seconds: float) -> None:
        """Remember one event at this moment, for `seconds`."""
        stamp = time.time()
        if self.redis is not None:
            try:
                name = f"{self.prefix}log:{key}"
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.zadd(name, {f"{stamp}:{secrets.token_hex(4)}": stamp})
                    pipe.zremrangebyscore(name, 0, stamp - seconds)
                    pipe.expire(name, int(seconds) + 1)
                    await pipe.execute()
                return
            except Exception:
                pass
        events = [t for t in self._events.get(key, []) if t > stamp - seconds] + [stamp]
        self._events[key] = events[-1000:]
        self._events.move_to_end(key)
        while len(self._events) > self.max_keys:
            self._events.popitem(last=False)

    async def recent(self, key: str, seconds: float) -> int:
        """Events remembered for `key` within the last `seconds`."""
        stamp = time.time()
        if self.redis is not None:
            try:
                return int(await self.redis.zcount(f"{self.prefix}log:{key}", stamp - seconds, "+inf"))
            except Exception:
                pass
        return sum(1 for t in self._events.get(key, []) if t > stamp - seconds)

    async def forget(self, key: str) -> None:
        self._events.pop(key, None)
        if self.redis is not None:
            try:
                await self.redis.delete(f"{self.prefix}log:{key}")
            except Exception:
                pass
