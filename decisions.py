"""Where the bot decides: in a process of its own beside each worker.

A decision is a few milliseconds of pure Python (the classifier, the knowledge base's ranking, the language
detector). In a thread of the worker it shares one interpreter lock with the event loop, so under load the
two take turns on one core: every visitor's echo then waits behind the bot's decisions, and the decisions
behind the event loop. A process of its own decides on the other core, reading the chat from the database
as the thread did; the worker sends it the visitor's token and text and gets the decision back.

The process starts when a visitor's stream to the bot first opens in a worker, or with its first decision (a
worker that never serves the bot never starts one). Until it is ready (it loads the models for a second or
two), and if it dies, decisions are made in a thread, so no message waits for it.
"""
from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import conversation
import database
import knowledge
import models
from escalation import assess
from escalation.language import detect_sure
from routes.common import off_loop

log = logging.getLogger("handoff.decisions")


class Decider:
    """Decisions for one worker; `apart` False keeps them in a thread (tests that patch the bot use that)."""

    def __init__(self, database_url: str, apart: bool = True) -> None:
        self.database_url, self.apart = database_url, apart
        self._pool: ProcessPoolExecutor | None = None
        self._ready: Future | None = None  # its result: the process's id, once it has loaded the models
        self.made = {"apart": 0, "in_thread": 0}

    def start(self) -> None:
        if not self.apart or self._pool is not None:
            return
        # Spawned, not forked: a fork would copy the worker's threads' locks and its open database connections.
        self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"), initializer=_begin,
                                         initargs=(self.database_url, os.getpid()))
        self._ready = self._pool.submit(_ready)
        self._ready.add_done_callback(_said)

    def stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._ready = None

    @property
    def ready(self) -> bool:
        return self._ready is not None and self._ready.done() and self._ready.exception() is None

    def as_dict(self) -> dict:
        return {"process": self._ready.result() if self.ready else None, **self.made}

    async def decide(self, token: str, text: str, new: bool = False) -> conversation.Decided | None:
        """The bot's decision on `text` for the chat of `token` (see conversation.decide)."""
        if self._pool is None:
            self.start()
        elif self.ready:
            try:
                decided = await asyncio.wrap_future(self._pool.submit(_decide, token, text, new, knowledge.installed))
                self.made["apart"] += 1
                return decided
            except BrokenProcessPool:
                log.error("the decision process ended; deciding in a thread while another starts")
                self.stop()
        self.made["in_thread"] += 1
        return await off_loop(conversation.decide, token, text, new)


def _said(ready: Future) -> None:
    if not ready.cancelled() and ready.exception() is not None:
        log.error("the decision process did not start; deciding in a thread", exc_info=ready.exception())


def _begin(database_url: str, worker: int) -> None:
    models.db.initialize(database.open_database(database_url))
    knowledge.refresh(force=True)
    threading.Thread(target=_end_with, args=(worker,), daemon=True).start()


def _end_with(worker: int) -> None:
    """A worker killed outright cannot stop its decision process: the process sees it gone and ends."""
    while os.getppid() == worker:
        time.sleep(1)
    os._exit(0)


def _ready() -> int:
    assess("Hello, what does a student visa for Canada cost?")  # loads the classifier and the detector's models
    detect_sure("Bonjour, combien coûte un visa étudiant ?")
    return os.getpid()


def _decide(token: str, text: str, new: bool, version: int) -> conversation.Decided | None:
    if version != knowledge.installed:  # an admin's edit reached the worker: this process serves it too
        knowledge.refresh()
    return conversation.decide(token, text, new)
