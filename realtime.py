"""The hub: wake-ups for streams waiting on a session, an agent or the queue; Redis when configured.

Across processes (Redis) the hub carries the news that a topic changed, one PUBLISH for all of a
turn's wake-ups: streams read what they have not sent from the database, so a lost wake-up costs
latency, never data. A wake-up may also hand over the rows just written (`Posted`), so a stream
already up to date sends them without reading them back, in this process and in the others (rows
too long for a wake-up go as their ids, and the other processes read those rows alone).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict, deque
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("handoff.realtime")

CHANNEL = "wake"  # after the deployment's prefix
QUEUE = "queue"
QUEUE_NEWS = frozenset({QUEUE})  # a wake-up that carried queue news alone
OUTBOX = "outbox"  # the deliverer: a webhook or an email was queued
ROUTING = "routing"  # the sweeper: a chat joined the queue or an agent has room again
KNOWLEDGE = "knowledge"  # an admin changed the knowledge base: every worker installs its entries again


def session_topic(session_id: int) -> str:
    return f"session:{session_id}"


def agent_topic(agent_pk: int) -> str:
    return f"agent:{agent_pk}"


class Turns:
    """Lets at most `per_turn` waiters go on in each turn of the event loop, first come first served.

    A queue change wakes every waiting visitor's stream at once, and each renders its own status line: hundreds of
    them in one turn would hold the loop (and every other request) for that whole time. In turns of a few, timers
    and other requests run between them."""

    def __init__(self, per_turn: int = 20) -> None:
        self.per_turn = per_turn
        self.waiting: deque[asyncio.Future] = deque()
        self.releasing = False

    async def turn(self) -> None:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.waiting.append(future)
        if not self.releasing:
            self.releasing = True
            loop.call_soon(self._release)
        await future

    def _release(self) -> None:
        let = 0
        while self.waiting and let < self.per_turn:
            future = self.waiting.popleft()
            if not future.done():  # a stream closed while it waited
                future.set_result(None)
                let += 1
        if self.waiting:
            asyncio.get_running_loop().call_soon(self._release)
        else:
            self.releasing = False


class Listener:
    """One stream's wake-up flag, set by any of the topics it listens to.

    Every open stream holds one, so it is kept small: a flag and, only while waiting, a future.
    """

    __slots__ = ("woke", "waiter", "topics", "fired", "woken_by", "posted", "arrived")

    def __init__(self) -> None:
        self.woke = False
        self.waiter: asyncio.Future | None = None
        self.topics: set[str] = set()
        self.fired: set[str] = set()
        self.woken_by: set[str] = set()  # topics with news to read; empty after a timeout or wake_all
        self.posted: list = []
        self.arrived: list = []  # the rows handed over with the last wake-up (conversation.Posted)

    @property
    def read_all(self) -> bool:
        """A timeout or a wake_all: nothing says what changed, so the stream looks at everything."""
        return not self.woken_by and not self.arrived

    def fire(self, topic: str) -> None:
        """News of `topic`, to read from the database."""
        self.fired.add(topic)
        self.set()

    def set(self) -> None:
        self.woke = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(True)

    async def wait(self, timeout: float) -> bool:
        """Wait for news or the timeout; True when woken by news."""
        woken = True
        try:
            if not self.woke:
                loop = asyncio.get_running_loop()
                self.waiter = waiter = loop.create_future()
                # A timer that ends the wait quietly: cheaper than a cancelling timeout, and no task per wait.
                timer = loop.call_later(timeout, _time_up, waiter)
                try:
                    woken = await waiter
                finally:
                    timer.cancel()
        finally:
            self.woke, self.waiter = False, None
            self.woken_by, self.fired = self.fired, set()
            self.arrived, self.posted = self.posted, []
        return woken


def _time_up(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(False)


class Hub:
    def __init__(self, redis_url: str = "", prefix: str = "handoff:", posted_from=None, connections: int = 32) -> None:
        self.redis_url = redis_url
        self.connections = connections  # to Redis, at most
        self.posted_from = posted_from  # makes a Posted from its brief, as another process published it
        self.channel = prefix + CHANNEL
        self.origin = secrets.token_hex(6)
        self._listeners: dict[str, set[Listener]] = defaultdict(set)
        self.heard: dict[str, float] = {}  # topic -> when this process last had a wake-up for it
        self._redis = None
        self._outgoing: list[str] = []
        self._task: asyncio.Task | None = None
        self.redis_ok = not redis_url
        self.closing = False  # shutting down: streams end their loops, so each response completes cleanly

    @contextmanager
    def listen(self, *topics: str) -> Iterator[Listener]:
        listener = Listener()
        for topic in topics:
            self.follow(listener, topic)
        try:
            yield listener
        finally:
            for topic in list(listener.topics):
                self.follow(listener, topic, False)

    def follow(self, listener: Listener, topic: str, on: bool = True) -> None:
        """Wake a listening stream for one more topic, or no longer, as what it shows changes."""
        if on:
            self._listeners[topic].add(listener)
            listener.topics.add(topic)
            return
        listener.topics.discard(topic)
        group = self._listeners.get(topic)
        if group is not None:
            group.discard(listener)
            if not group:
                del self._listeners[topic]

    def _wake(self, topics, posted=None) -> None:
        stamp = time.time()
        for topic in topics:
            self.heard[topic] = stamp
            for listener in self._listeners.get(topic, ()):
                if posted is None:
                    listener.fired.add(topic)
                elif not listener.posted or listener.posted[-1] is not posted:  # once per listener
                    listener.posted.append(posted)
                listener.set()

    def wake_here(self, *topics: str) -> None:
        """Wake this process's streams only: for news every process finds by itself."""
        self._wake(topics)

    def missed(self, news: dict[str, float], keep: float, settle: float = 0.0) -> list[str]:
        """Topics with news (topic -> when) that no wake-up reached since; forgets wake-ups older than `keep` s.

        News of the last `settle` seconds is left to a later look: its wake-up may still be on its way from
        another process, and waking for it would make every dashboard read the queue again for nothing.
        """
        now = time.time()
        self.heard = {topic: at for topic, at in self.heard.items() if at >= now - keep}
        return [topic for topic, at in news.items() if at <= now - settle and self.heard.get(topic, 0.0) < at]

    def wake_all(self) -> None:
        for group in list(self._listeners.values()):
            for listener in group:
                listener.set()

    def close(self) -> None:
        """The server is stopping: wake every stream so that each sees `closing` and ends."""
        self.closing = True
        self.wake_all()

    @property
    def stream_count(self) -> int:
        return len({id(listener) for group in self._listeners.values() for listener in group})

    def notify(self, *topics: str, posted=None) -> None:
        """Wake local streams now, handing them `posted` if given, and other processes through Redis."""
        topics = [t for t in topics if t]
        if not topics:
            return
        self._wake(topics, posted)
        if self._redis is not None:
            payload = self.origin + " " + " ".join(topics)
            if posted is not None:
                payload += " ;" + posted.brief()
            if not self._outgoing:
                asyncio.get_running_loop().call_soon(self._flush)
            self._outgoing.append(payload)

    def _flush(self) -> None:
        """The wake-ups of one turn of the event loop, as one PUBLISH (one line each)."""
        payloads, self._outgoing = self._outgoing, []
        asyncio.get_running_loop().create_task(self._publish("\n".join(payloads)))

    async def _publish(self, payload: str) -> None:
        try:
            await self._redis.publish(self.channel, payload)
        except Exception as exc:  # the streams' periodic re-read covers a missed wake-up
            self.redis_ok = False
            log.warning("redis publish failed: %s", exc)

    async def start(self) -> None:
        if not self.redis_url:
            return
        import redis.asyncio as redis

        # A worker's publishes, rate limits and stream counts share this pool. When it is all in use a command
        # waits for a connection: redis-py's default pool refuses it at once ("Too many connections"), which
        # under load dropped wake-ups (the other worker's streams then waited for their next look) and sent
        # rate limits back to per-process counts.
        pool = redis.BlockingConnectionPool.from_url(self.redis_url, max_connections=self.connections, timeout=10,
                                                     socket_connect_timeout=2, socket_timeout=None,
                                                     health_check_interval=10)
        self._redis = redis.Redis.from_pool(pool)
        self._task = asyncio.create_task(self._subscribe())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except BaseException:
                pass
        if self._redis is not None:
            await self._redis.aclose()

    async def _subscribe(self) -> None:
        delay = 0.2
        while True:
            try:
                pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.channel)
                if not self.redis_ok:
                    log.info("redis back; waking every stream to catch up")
                    self.wake_all()
                self.redis_ok = True
                delay = 0.2
                async for item in pubsub.listen():
                    data = item.get("data")
                    if isinstance(data, bytes):
                        data = data.decode()
                    for line in (data or "").split("\n"):
                        origin, _, topics = line.partition(" ")
                        if origin != self.origin:
                            topics, _, brief = topics.partition(" ;")
                            posted = self.posted_from(brief) if brief and self.posted_from else None
                            self._wake(topics.split(), posted)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.redis_ok:
                    log.warning("redis subscription lost: %s", exc)
                self.redis_ok = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def ping(self) -> bool:
        if self._redis is None:
            return True
        try:
            return bool(await self._redis.ping())
        except Exception:
            return False
