"""The bot decides in a process beside the worker: visitors are answered before it is ready and after it dies,
and it does not outlive its worker."""
import os
import signal
import time

import httpx
import pytest

from tests.conftest import Server
from tests.live import LiveBrowser
from tests.reliability.conftest import LOAD, rows


@pytest.fixture
def server(tmp_path):
    server = Server(tmp_path, **LOAD, HANDOFF_API_TOKEN="ops-token").start()
    yield server
    server.stop()


def decisions(server) -> dict:
    return httpx.get(server.url + "/healthz", timeout=10, headers={"Authorization": "Bearer ops-token"}).json()["decisions"]


def until(check, seconds: float = 120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"{check.__name__} did not come true in {seconds} s")


def answered(server, question: str) -> None:
    """A new visitor asks; the bot's answer is stored with the question."""
    assert LiveBrowser(server.url).say(question).status_code == 201
    (chat,), = rows(server, "SELECT session_id FROM message WHERE text = ?", question)
    assert [sender for (sender,) in rows(server, "SELECT sender FROM message WHERE session_id = ? ORDER BY id",
                                         chat)] == ["visitor", "bot"]


def alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_the_bot_decides_apart_and_goes_on_when_that_process_dies(server):
    answered(server, "What are the tuition fees in Germany?")  # starts the process; decided in a thread meanwhile
    first = until(lambda: decisions(server)["process"])
    assert first != server.process.pid and alive(first)

    before = decisions(server)["apart"]
    answered(server, "How much money do I need to show for a student visa to Canada?")
    assert decisions(server)["apart"] == before + 1

    os.kill(first, signal.SIGKILL)
    until(lambda: not alive(first))
    answered(server, "Can I work part time while I study in Australia?")  # its death found, decided in a thread
    answered(server, "Do I need IELTS for a master's in the Netherlands?")  # and a new one starts
    second = until(lambda: decisions(server)["process"])
    assert second != first
    before = decisions(server)["apart"]
    answered(server, "When is the application deadline for UK universities?")
    assert decisions(server)["apart"] == before + 1


def test_the_decision_process_ends_with_its_worker(server):
    answered(server, "What are the tuition fees in Germany?")
    process = until(lambda: decisions(server)["process"])
    server.stop(signal.SIGKILL)  # no shutdown: the worker cannot tell it to stop
    until(lambda: not alive(process), seconds=30)
