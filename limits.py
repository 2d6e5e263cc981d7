"""Fixed-window counters for rate limits and login throttling, in memory or in Redis across workers."""
from __future__ import annotations

import time
from collections import OrderedDict


class Counter:
    """Counts hits per key in windows of `seconds`; shared through Redis when a client is given."""

    def __init__(self, redis=None, prefix: str = "handoff:rl:", max_keys: int = 100_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.max_keys = max_keys
        self._local: OrderedDict[str, tuple[int, int]] = OrderedDict()

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
