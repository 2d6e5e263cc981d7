"""Profile Handoff under the closed-loop load with py-spy: `python bench/profile.py [--conversations 100] [--seconds 15]`.

Writes a speedscope file and prints the functions with the most samples (own time and with callees).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--scenario", default="throughput")
    parser.add_argument("--output", default=str(Path(tempfile.gettempdir()) / "handoff-profile.speedscope.json"))
    parser.add_argument("--bots", type=int, default=0, help="visitors writing to the bot (scenario mixed)")
    parser.add_argument("--waiting", type=int, default=0, help="visitors waiting in the queue (scenario mixed)")
    parser.add_argument("--interval", type=float, default=None, help="seconds between one visitor's messages")
    parser.add_argument("--server-flags", default="--loop asyncio --http h11")
    args = parser.parse_args()
    run.raise_nofile()
    folder = tempfile.mkdtemp(prefix="handoff-profile-")
    database = f"sqlite:///{folder}/bench.db"
    server = run.Server("app:app", {"HANDOFF_SECRET_KEY": run.SECRET, "HANDOFF_AGENT_PASSWORD": "bench-password",
                                    "HANDOFF_VISITOR_RATE": "1000000", "HANDOFF_ADDRESS_RATE": "1000000000",
                                    "HANDOFF_CHAT_RATE": "1000000000", "HANDOFF_HANDOFF_RATE": "1000000000",
                                    "HANDOFF_MAX_STREAMS_PER_ADDRESS": "1000000000",
                                    "HANDOFF_DATABASE_URL": database}, flags=args.server_flags.split())
    try:
        plan = run.handoff_plan(database, server.port, args.conversations, 0, args.bots, args.waiting)
        spy = subprocess.Popen(["py-spy", "record", "--pid", str(server.process.pid), *os.environ.get("PYSPY_FLAGS", "--gil --nonblocking").split(), "--format",
                                "speedscope", "--output", args.output, "--duration", str(args.seconds + 2),
                                "--rate", "200"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        options = ["--conversations", str(args.conversations), "--duration", str(args.seconds), "--warmup", "2"]
        if args.interval or args.scenario == "latency":
            options += ["--interval", str(args.interval or 2)]
        print(run.load(args.scenario, plan, *options))
        spy.wait()
    finally:
        server.stop()
    summarize(Path(args.output))


def summarize(path: Path, top: int = 40) -> None:
    data = json.loads(path.read_text())
    frames = data["shared"]["frames"]
    own, total, samples = Counter(), Counter(), 0
    for profile in data["profiles"]:
        for stack, weight in zip(profile["samples"], profile["weights"]):
            names = [f"{frames[i]['name']} ({Path(frames[i].get('file', '')).name}:{frames[i].get('line', '')})"
                     for i in stack]
            if not names or "idle" in names[-1] or names[-1].startswith(("wait (threading", "select (", "_worker (thread")):
                continue
            samples += weight
            own[names[-1]] += weight
            for name in set(names):
                total[name] += weight
    print(f"{samples} busy samples\n-- own time")
    for name, weight in own.most_common(top):
        print(f"{100 * weight / samples:5.1f}%  {name}")
    print("-- with callees")
    for name, weight in total.most_common(top):
        print(f"{100 * weight / samples:5.1f}%  {name}")


if __name__ == "__main__":
    main()
