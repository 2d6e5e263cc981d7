"""The hub: who is woken by what, and which news the catch-up must still deliver."""
import asyncio
import time

from realtime import QUEUE, Hub


def test_catch_up_wakes_only_chats_no_wake_up_reached_since_their_news():
    hub = Hub()
    hub.wake_here("session:1")
    news = {"session:1": time.time() - 1, "session:2": time.time() - 1, "session:3": time.time() + 1}
    assert hub.missed(news, keep=60) == ["session:2", "session:3"]


def test_old_wake_ups_are_forgotten():
    hub = Hub()
    hub.wake_here("session:1")
    assert hub.missed({"session:1": 1.0}, keep=-1) == ["session:1"] and hub.heard == {}


def test_a_stream_follows_the_queue_only_while_it_asks_to():
    async def run():
        hub = Hub()
        with hub.listen("session:1") as listener:
            hub.follow(listener, QUEUE)
            hub.notify(QUEUE)
            woken = await listener.wait(0.1)
            hub.follow(listener, QUEUE, False)
            hub.notify(QUEUE)
            return woken, listener.woken_by, await listener.wait(0.05)

    assert asyncio.run(run()) == (True, {QUEUE}, False)
