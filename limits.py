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

    # Sign-in failures need an exact "N in the last hour": a fixed window would let twice as many through
    # around its boundary. So each failure is kept with its time (few per key: attempts refused while a wait
    # lasts are not recorded, so the waits double faster than failures add up).

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

    async def last(self, key: str, seconds: float) -> tuple[int, float]:
        """How many events `key` had within the last `seconds`, and when the latest was (0 for none)."""
        stamp = time.time()
        if self.redis is not None:
            try:
                name = f"{self.prefix}log:{key}"
                async with self.redis.pipeline(transaction=False) as pipe:
                    pipe.zcount(name, stamp - seconds, "+inf")
                    pipe.zrevrange(name, 0, 0, withscores=True)
                    count, latest = await pipe.execute()
                return int(count), float(latest[0][1]) if latest and count else 0.0
            except Exception:
                pass
        events = [t for t in self._events.get(key, []) if t > stamp - seconds]
        return len(events), max(events, default=0.0)

    async def logs(self, prefix: str, seconds: float) -> dict[str, tuple[int, float]]:
        """Every key starting with `prefix` that had events within `seconds`: key -> (count, latest)."""
        keys = {key for key in self._events if key.startswith(prefix)}
        if self.redis is not None:
            try:
                start = f"{self.prefix}log:"
                async for name in self.redis.scan_iter(match=f"{start}{prefix}*", count=500):
                    keys.add((name.decode() if isinstance(name, bytes) else name)[len(start):])
            except Exception:
                pass
        found = {key: await self.last(key, seconds) for key in sorted(keys)}
        return {key: value for key, value in found.items() if value[0]}

    async def forget(self, key: str) -> None:
        self._events.pop(key, None)
        if self.redis is not None:
            try:
                await self.redis.delete(f"{self.prefix}log:{key}")
            except Exception:
                pass


# Open streams, counted across workers: each worker keeps its own counts in a hash of its own that lives while
# the worker refreshes it, so the counts of a worker that dies leave with its hash. Taking a slot reads every
# live worker's count and adds one to this worker's in one script: two streams opened at once cannot both
# see room for one.
_TAKE = """
local total = {}
for n = 1, #ARGV - 2, 2 do total[(n + 1) / 2] = 0 end
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', worker) == 0 and worker ~= KEYS[2] then
    redis.call('SREM', KEYS[1], worker)
  else
    for n = 1, #ARGV - 2, 2 do
      total[(n + 1) / 2] = total[(n + 1) / 2] + tonumber(redis.call('HGET', worker, ARGV[n]) or '0')
    end
  end
end
for n = 1, #ARGV - 2, 2 do
  if total[(n + 1) / 2] >= tonumber(ARGV[n + 1]) then return (n + 1) / 2 end
end
for n = 1, #ARGV - 2, 2 do redis.call('HINCRBY', KEYS[2], ARGV[n], 1) end
redis.call('SADD', KEYS[1], KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[#ARGV - 1])
return 0
"""
_GIVE = """
for _, key in ipairs(ARGV) do
  if redis.call('HINCRBY', KEYS[1], key, -1) <= 0 then redis.call('HDEL', KEYS[1], key) end
end
return 0
"""


class Slots:
    """Open streams per key (a chat, an address), capped, in this process or across workers through Redis."""

    def __init__(self, redis=None, prefix: str = "handoff:streams:", ttl: float = 30.0) -> None:
        self.redis, self.prefix, self.ttl = redis, prefix, ttl
        self.worker = f"{prefix}worker:{secrets.token_hex(6)}"
        self.here: dict[str, int] = {}
        self.taken_in_redis: dict[str, int] = {}  # what this worker holds in Redis, written again by `beat`

    async def take(self, caps: list[tuple[str, int]]) -> tuple[int | None, bool]:
        """One slot under each (key, cap), all or none: (index of the first key at its cap or None, shared)."""
        if self.redis is not None:
            try:
                args = [part for key, cap in caps for part in (key, cap)] + [int(self.ttl), 0]
                full = int(await self.redis.eval(_TAKE, 2, self.prefix + "workers", self.worker, *args))
                if full:
                    return full - 1, True
                for key, _ in caps:
                    self.taken_in_redis[key] = self.taken_in_redis.get(key, 0) + 1
                return None, True
            except Exception:
                pass  # Redis down: each worker caps its own streams, rather than refusing every stream
        # No await between the check and the count: in one event loop this is atomic.
        for n, (key, cap) in enumerate(caps):
            if self.here.get(key, 0) >= cap:
                return n, False
        for key, _ in caps:
            self.here[key] = self.here.get(key, 0) + 1
        return None, False

    async def give(self, keys: list[str], shared: bool) -> None:
        if not shared:
            for key in keys:
                self.here[key] -= 1
                if self.here[key] <= 0:
                    del self.here[key]
            return
        for key in keys:
            self.taken_in_redis[key] -= 1
            if self.taken_in_redis[key] <= 0:
                del self.taken_in_redis[key]
        try:
            await self.redis.eval(_GIVE, 1, self.worker, *keys)
        except Exception:
            pass  # the worker's hash is written whole again at the next beat

    async def beat(self) -> None:
        """Keep this worker's counts alive in Redis (and exact again after a failed write)."""
        if self.redis is None:
            return
        try:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.delete(self.worker)
                if self.taken_in_redis:
                    pipe.hset(self.worker, mapping=self.taken_in_redis)
                    pipe.expire(self.worker, int(self.ttl))
                    pipe.sadd(self.prefix + "workers", self.worker)
                await pipe.execute()
        except Exception:
            pass

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            await self.beat()

    async def count(self, key: str) -> int:
        """Streams open under `key`, in every worker."""
        if self.redis is None:
            return self.here.get(key, 0)
        workers = await self.redis.smembers(self.prefix + "workers")
        counts = [await self.redis.hget(worker, key) for worker in workers]
        return sum(int(c or 0) for c in counts) + self.here.get(key, 0)


class Backoff:
    """Sign-in failures slow the next attempt rather than lock it: after `free` failures within `window` seconds,
    each further one doubles the wait after the latest, from `base` up to `most` seconds."""

    def __init__(self, counter: Counter, window: float, base: float, most: float) -> None:
        self.counter, self.window, self.base, self.most = counter, window, base, most

    def delay(self, failures: int, free: int) -> float:
        return 0.0 if failures < free else min(self.most, self.base * 2 ** (failures - free))

    async def wait(self, keys: list[tuple[str, int]]) -> float:
        """Seconds left before another attempt under every (key, free failures); 0 when one may go now."""
        now, left = time.time(), 0.0
        for key, free in keys:
            failures, latest = await self.counter.last(key, self.window)
            left = max(left, latest + self.delay(failures, free) - now)
        return left

    async def fail(self, keys: list[tuple[str, int]]) -> None:
        for key, _ in keys:
            await self.counter.record(key, self.window)

    async def throttled(self, prefix: str, free_of) -> list[dict]:
        """Keys under `prefix` with failures now: each with its count, latest failure and wait left."""
        now, rows = time.time(), []
        for key, (failures, latest) in (await self.counter.logs(prefix, self.window)).items():
            rows.append({"key": key, "failures": failures, "latest": latest,
                         "wait": max(0.0, latest + self.delay(failures, free_of(key)) - now)})
        return rows
