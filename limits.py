"""Rate-limit counters and sign-in failure logs, in memory or in Redis across workers."""
from __future__ import annotations

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

    async def hit(self, key: str, seconds: float, amount: int = 1) -> int:
        """Add to this window's count and return it."""
        window = int(time.time() // seconds)
        if self.redis is not None:
            try:
                name = f"{self.prefix}{key}:{window}"
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.incrby(name, amount)
                    pipe.expire(name, int(seconds) + 1)
                    count, _ = await pipe.execute()
                return int(count)
            except Exception:
                pass  # a Redis outage degrades to per-process limits rather than refusing every visitor
        seen_window, count = self._local.get(key, (window, 0))
        count = count + amount if seen_window == window else amount
        self._local[key] = (window, count)
        self._local.move_to_end(key)
        while len(self._local) > self.max_keys:
            self._local.popitem(last=False)
        return count

    async def count(self, key: str, seconds: float) -> int:
        return await self.hit(key, seconds, amount=0)

    async def clear(self, key: str, seconds: float) -> None:
        self._local.pop(key, None)
        if self.redis is not None:
            try:
                await self.redis.delete(f"{self.prefix}{key}:{int(time.time() // seconds)}")
            except Exception:
                pass

    async def over(self, key: str, limit: int, seconds: float) -> bool:
        """Count one hit; True when it goes past the limit."""
        return await self.hit(key, seconds) > limit

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
