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
