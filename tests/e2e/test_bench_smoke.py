"""The benchmark scripts still run: about a second of each scenario against Handoff and the bare reference."""
import importlib.util
import sys

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))
spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


@pytest.fixture(params=["handoff", "bare"])
def plan(request, tmp_path):
    if request.param == "bare":
        server = bench.Server("bench.bare_app:app", {})
        plan = bench.bare_plan(server.port, 20)
    else:
        database = f"sqlite:///{tmp_path}/bench.db"
        server = bench.Server("app:app", {"HANDOFF_DATABASE_URL": database, "HANDOFF_SECRET_KEY": bench.SECRET,
                                          "HANDOFF_VISITOR_RATE": "100000", "HANDOFF_ADDRESS_RATE": "100000"})
        plan = bench.handoff_plan(database, server.port, 20, 5)
    yield plan
    server.stop()


@pytest.mark.parametrize("scenario, options, figure", [
    ("latency", ["--conversations", "20", "--interval", "0.2", "--duration", "1", "--warmup", "0"], "p99_ms"),
    ("throughput", ["--conversations", "5", "--duration", "1", "--warmup", "0"], "messages_per_s"),
    ("page", ["--requests", "2"], "total_bytes"),
])
def test_each_scenario_runs(plan, scenario, options, figure):
    result = bench.load(scenario, plan, *options)
    assert result[figure] > 0 and set(result.get("statuses", {"201": 1})) <= {"201"}


def test_overlapping_posts_on_one_connection_each_reach_the_server_and_get_their_own_answer(tmp_path):
    """The generator sends a visitor's next message while the last is unanswered, as a slow server makes it do.
    Each must go out and come back in turn: reading answers out of turn once made a POST written into a
    connection the server had already closed look acknowledged by the answer of an earlier one."""
    import asyncio
    from client import Connection
    database = f"sqlite:///{tmp_path}/bench.db"
    server = bench.Server("app:app", {"HANDOFF_DATABASE_URL": database, "HANDOFF_SECRET_KEY": bench.SECRET,
                                      "HANDOFF_VISITOR_RATE": "100000", "HANDOFF_ADDRESS_RATE": "100000"},
                          flags=["--timeout-keep-alive", "1"])
    try:
        visitor = bench.handoff_plan(database, server.port, 1, 0)["conversations"][0]

        async def talk() -> list[tuple[int, str]]:
            connection = Connection("127.0.0.1", server.port, visitor["cookie"], {"X-CSRF-Token": visitor["csrf"]})

            async def say(n: int) -> tuple[int, str]:
                status, headers, _ = await connection.request("POST", "/chat/messages",
                                                              {"text": f"overlap {n}", "client_key": f"overlap-{n}"})
                return status, headers.get("x-message-id")

            answers = await asyncio.gather(*(say(n) for n in range(3)))
            await asyncio.sleep(2.5)  # the server closes the idle connection (keep-alive 1 s)
            answers.append(await say(3))
            connection.close()
            return answers

        answers = asyncio.run(talk())
    finally:
        server.stop()
    import sqlite3
    with sqlite3.connect(f"{tmp_path}/bench.db") as stored:
        ids = {str(i) for (i,) in stored.execute("SELECT id FROM message WHERE text LIKE 'overlap %'")}
    assert [status for status, _ in answers] == [201] * 4
    assert {message_id for _, message_id in answers} == ids and len(ids) == 4
