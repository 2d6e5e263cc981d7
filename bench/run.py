"""Run the benchmarks: start each server as a real uvicorn, load it from bench/load.py, write bench/RESULTS.md.

    python bench/run.py                      # everything, 3 runs of each figure, servers taking turns (~35 min)
    python bench/run.py --quick              # one short pass of each, to see that it all runs
    python bench/run.py --only latency --targets sqlite,bare

Targets: `sqlite` (Handoff, one process), `postgres` (Handoff, 2 workers on PostgreSQL + Redis, needs
HANDOFF_BENCH_DATABASE_URL or HANDOFF_TEST_DATABASE_URL and a Redis URL the same way) and `bare`
(bench/bare_app.py); with `--before PATH`, also `before`: the checkout at PATH on SQLite, for before/after.
Raw figures go to bench/results.json; RESULTS.md is made from them.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import platform
import resource
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
from itsdangerous import TimestampSigner

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
SECRET = "bench-secret"
PER_AGENT = 10
LATENCY_LEVELS = (100, 500, 1000)
IDLE_LEVELS = (1000, 10000)


def raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn process (with its workers), its log in a temporary folder."""

    def __init__(self, app: str, env: dict[str, str], workers: int = 1, flags: list[str] | None = None,
                 root: Path = ROOT) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "2", *(flags or [])]
        if workers > 1:
            args += ["--workers", str(workers)]
        self.log = tempfile.NamedTemporaryFile(prefix="bench-uvicorn-", suffix=".log", delete=False)
        self.process = subprocess.Popen(args, cwd=root, env={**os.environ, **env}, stdout=self.log,
                                        stderr=self.log, preexec_fn=raise_nofile, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"{app} exited; see {self.log.name}")
            time.sleep(0.2)
        raise RuntimeError(f"{app} did not start; see {self.log.name}")

    def pids(self) -> list[int]:
        """The server's process and all it started: its workers and their decision processes."""
        parents = {int(p.name): _parent(p) for p in Path("/proc").iterdir() if p.name.isdigit()}
        tree = [self.process.pid]
        for pid in tree:
            tree += [child for child, parent in parents.items() if parent == pid]
        return tree

    def rss_kb(self) -> int:
        return sum(int(line.split()[1]) for pid in self.pids()
                   for line in _read(Path(f"/proc/{pid}/status")).decode().splitlines() if line.startswith("VmRSS:"))

    def cpu_seconds(self) -> float:
        ticks = os.sysconf("SC_CLK_TCK")
        return sum(sum(int(v) for v in _read(Path(f"/proc/{pid}/stat")).decode().rsplit(")", 1)[1].split()[11:13])
                   for pid in self.pids()) / ticks

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _parent(proc: Path) -> int:
    stat = _read(proc / "stat").decode()
    return int(stat.rsplit(")", 1)[1].split()[1]) if stat else -1


def session_cookie(session: dict) -> str:
    """The cookie Starlette's SessionMiddleware would have set for this session."""
    data = base64.b64encode(json.dumps(session).encode())
    return "handoff=" + TimestampSigner(SECRET).sign(data).decode()


def handoff_plan(database_url: str, port: int, conversations: int, idle_chats: int, bots: int = 0,
                 waiting: int = 0) -> dict:
    """Agents holding PER_AGENT assigned chats each, plus chats with the bot for idle streams, chats with the bot
    for visitors who write (`bots`) and chats waiting in the queue (`waiting`); their cookies."""
    import database
    import models
    from peewee import chunked

    models.db.initialize(database.open_database(database_url))
    stamp = models.now()
    first = models.Agent.select(models.fn.MAX(models.Agent.id)).scalar() or 0
    agent_rows = [dict(agent_id=f"bench_{first + n:05d}", name=f"Bench Counsellor {n}", skills="general",
                       password_hash="x", role="agent", status="online", max_chats=PER_AGENT, active=True,
                       last_seen_at=stamp, epoch=0) for n in range(-(-conversations // PER_AGENT))]
    with models.db.atomic():
        for batch in chunked(agent_rows, 500):
            models.Agent.insert_many(batch).execute()
    agents = list(models.Agent.select().where(models.Agent.agent_id.startswith("bench_"))
                  .order_by(models.Agent.id.desc()).limit(len(agent_rows)))[::-1]
    tokens = [secrets.token_urlsafe(24) for _ in range(conversations + max(idle_chats, bots) + waiting)]
    first_waiting = conversations + max(idle_chats, bots)
    rows = [dict(token=t, status="assigned", agent=agents[i // PER_AGENT].id, assigned_at=stamp, escalated_at=stamp,
                 queued_at=stamp, created_at=stamp, last_visitor_at=stamp, reason="requested")
            if i < conversations else
            dict(token=t, status="waiting", escalated_at=stamp, queued_at=stamp, created_at=stamp,
                 last_visitor_at=stamp, reason="requested") if i >= first_waiting
            else dict(token=t, created_at=stamp, last_visitor_at=stamp)
            for i, t in enumerate(tokens)]
    with models.db.atomic():
        for batch in chunked(rows, 500):
            models.ChatSession.insert_many(batch).execute()
    chats = {c.token: c.id for c in models.ChatSession.select(models.ChatSession.id, models.ChatSession.token)
             .where(models.ChatSession.token.in_(tokens))}
    history = []
    for token in tokens[:conversations]:
        history += [dict(session=chats[token], sender="visitor", text="I need help with my UK visa application.",
                         created_at=stamp),
                    dict(session=chats[token], sender="system", text="You're now in the queue for a human counsellor.",
                         created_at=stamp)]
    with models.db.atomic():
        for batch in chunked(history, 500):
            models.Message.insert_many(batch).execute()
    models.db.close()
    now = int(time.time())
    plan = {"host": "127.0.0.1", "port": port, "conversations": [], "agents": []}
    for i, token in enumerate(tokens):
        csrf = secrets.token_urlsafe(16)
        kind = "assigned" if i < conversations else "waiting" if i >= first_waiting else "bot"
        plan["conversations"].append({"cookie": session_cookie({"chat": token, "csrf": csrf}), "csrf": csrf,
                                      "agent": i // PER_AGENT, "kind": kind})
    for agent in agents:
        plan["agents"].append({"cookie": session_cookie({"agent": agent.id, "agent_epoch": 0, "agent_seen": now,
                                                         "csrf": "x"})})
    return plan


def bare_plan(port: int, count: int, bots: int = 0, waiting: int = 0) -> dict:
    kinds = ["assigned"] * count + ["bot"] * bots + ["waiting"] * waiting
    return {"host": "127.0.0.1", "port": port, "bare": True,
            "conversations": [{"cookie": f"c={i}", "csrf": "x", "agent": i // PER_AGENT, "kind": kind}
                              for i, kind in enumerate(kinds)],
            "agents": [{"cookie": f"a={a}"} for a in range(-(-len(kinds) // PER_AGENT))]}


def load_average() -> float:
    """The machine's 1-minute load average: other work sharing the two cores shows here."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def load(scenario: str, plan: dict, *options: str) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    before = load_average()
    out = subprocess.run([sys.executable, str(BENCH / "load.py"), scenario, f.name, *options], capture_output=True,
                         text=True, preexec_fn=raise_nofile)
    os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"load.py {scenario} failed:\n{out.stderr[-3000:]}")
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "loadavg": max(before, load_average())}


def idle_memory(server: Server, plan: dict, streams: int, settle: float) -> dict:
    """RSS before and after opening `streams` idle SSE connections, and the server's CPU while they idle."""
    time.sleep(1)
    before = server.rss_kb()
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(plan, f)
    holder = subprocess.Popen([sys.executable, str(BENCH / "load.py"), "idle", f.name, "--streams", str(streams)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=raise_nofile)
    ready = json.loads(holder.stdout.readline())
    time.sleep(settle)
    cpu_start, wall_start = server.cpu_seconds(), time.time()
    time.sleep(settle)
    cpu = (server.cpu_seconds() - cpu_start) / (time.time() - wall_start)
    after = server.rss_kb()
    holder.stdin.close()
    done = json.loads(holder.stdout.read().strip().splitlines()[-1])
    os.unlink(f.name)
    return {"streams": streams, "rss_before_mb": round(before / 1024, 1), "rss_after_mb": round(after / 1024, 1),
            "kb_per_stream": round((after - before) / streams, 1), "idle_cpu_percent": round(cpu * 100, 1),
            "open_s": ready["open_s"], "still_open": done["still_open"], "loadavg": load_average()}


def fresh_postgres(base: str) -> str:
    import psycopg
    name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(base)._replace(path="/" + name))


def drop_postgres(url: str) -> None:
    import psycopg
    base = urlunsplit(urlsplit(url)._replace(path="/postgres"))
    with psycopg.connect(base, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path[1:]}" WITH (FORCE)')


class Bench:
    """Starts each kind of server on fresh data and runs one scenario against it."""

    def __init__(self, args) -> None:
        self.args = args
        self.flags = args.server_flags.split()
        self.duration = (["--duration", "3", "--warmup", "1"] if args.quick
                         else ["--duration", str(args.duration), "--warmup", "5"])

    def start(self, target: str, count: int, idle_chats: int = 0, bots: int = 0, waiting: int = 0):
        """`target` is sqlite, postgres, bare, before or before-postgres; `:std` after it runs that server on
        uvicorn's standard extras (uvloop and httptools) instead of the flags given."""
        target, _, variant = target.partition(":")
        flags = ["--loop", "uvloop", "--http", "httptools"] if variant == "std" else self.flags
        if target == "bare":
            server = Server("bench.bare_app:app", {"BARE_CHATS_PER_AGENT": str(PER_AGENT)}, flags=flags)
            if bots or waiting:
                return server, bare_plan(server.port, count, bots, waiting), None
            return server, bare_plan(server.port, max(count, idle_chats)), None
        folder = tempfile.mkdtemp(prefix="handoff-bench-")
        env = {"HANDOFF_SECRET_KEY": SECRET, "HANDOFF_AGENT_PASSWORD": "bench-password",
               "HANDOFF_VISITOR_RATE": "1000000", "HANDOFF_ADDRESS_RATE": "1000000000",
               "HANDOFF_CHAT_RATE": "1000000000", "HANDOFF_HANDOFF_RATE": "1000000000",
               "HANDOFF_MAX_STREAMS_PER_ADDRESS": "1000000000"}
        database, workers = f"sqlite:///{folder}/bench.db", 1
        if target in ("postgres", "before-postgres"):
            database, workers = fresh_postgres(self.args.postgres), 2
            env.update(HANDOFF_REDIS_URL=self.args.redis, HANDOFF_REDIS_PREFIX=f"bench-{uuid.uuid4().hex[:6]}:",
                       HANDOFF_THREADS="16")  # 2 workers x 17 connections stay well inside max_connections
        env["HANDOFF_DATABASE_URL"] = database
        root = Path(self.args.before) if target.startswith("before") else ROOT
        server = Server("app:app", env, workers=workers, flags=flags, root=root)
        return server, handoff_plan(database, server.port, count, idle_chats, bots, waiting), database

    @contextlib.contextmanager
    def serving(self, target: str, count: int, idle_chats: int = 0, bots: int = 0, waiting: int = 0):
        """A fresh server of `target` with its plan, stopped (and its PostgreSQL database dropped) afterwards."""
        server, plan, database = self.start(target, count, idle_chats, bots, waiting)
        try:
            yield server, plan
        finally:
            server.stop()
            if self.args.keep:
                print(f"kept {database}; server log {server.log.name}", flush=True)
            elif database and database.startswith("postgres"):
                drop_postgres(database)

    def once(self, target: str, count: int, scenario: str, *options: str) -> dict:
        bots, waiting = (self.args.bots, self.args.waiting) if scenario == "mixed" else (0, 0)
        with self.serving(target, count, bots=bots, waiting=waiting) as (server, plan):
            cpu = server.cpu_seconds()
            result = load(scenario, plan, "--conversations", str(count), *options, *self.duration)
            # The server's own CPU for each message answered: unlike a rate, it does not depend on how much
            # of the two cores the load generator and other work took meanwhile.
            answered = sum(result["statuses"].values())
            result["cpu_us_per_message"] = round((server.cpu_seconds() - cpu) / answered * 1e6) if answered else None
        print(target, result, flush=True)
        return result

    def repeated(self, targets: list[str], count: int, scenario: str, key: str, *options: str) -> dict[str, dict]:
        """Each target's median run of `args.repeat` (by `key`), all runs kept beside it. The targets take turns
        (A B C, A B C, ...), so a change in the machine's speed during the session falls on each alike."""
        runs: dict[str, list[dict]] = {target: [] for target in targets}
        for _ in range(self.args.repeat):
            for target in targets:
                runs[target].append(self.once(target, count, scenario, *options))
        kept = (key, "p50_ms", "loadavg", "cpu_us_per_message", "assigned", "bot", "waiting")
        medians = {}
        for target, found in runs.items():
            found.sort(key=lambda run: run[key])
            medians[target] = {**found[len(found) // 2], "runs": [{k: run[k] for k in kept if k in run} for run in found]}
        return medians

    def idle(self, target: str) -> list[dict]:
        rows = []
        for streams in (200,) if self.args.quick else IDLE_LEVELS:
            with self.serving(target, 0, streams) as (server, plan):
                rows.append(idle_memory(server, plan, streams, 3 if self.args.quick else 10))
            print(target, rows[-1], flush=True)
        return rows

    def page(self, target: str) -> dict:
        with self.serving(target, 1) as (_, plan):
            result = load("page", plan, "--requests", "20" if self.args.quick else "300")
        print(target, result, flush=True)
        return result


def run_all(targets: list[str], args) -> dict[str, dict]:
    """Every selected scenario against each target; a fresh server and data for each run."""
    bench = Bench(args)
    results: dict[str, dict] = {target: {} for target in targets}
    if "latency" in args.only:
        for level in (50,) if args.quick else tuple(int(n) for n in args.levels.split(",")):
            rows = bench.repeated(targets, level, "latency", "p99_ms", "--interval", str(args.interval))
            for target, row in rows.items():
                results[target].setdefault("latency", []).append(row)
    if "mixed" in args.only:
        for target, row in bench.repeated(targets, args.mixed_assigned, "mixed", "cpu_us_per_message",
                                          "--interval", str(args.interval)).items():
            results[target]["mixed"] = row
    if "throughput" in args.only:
        for target, row in bench.repeated(targets, args.closed_loop, "throughput", "messages_per_s").items():
            results[target]["throughput"] = row
    for target in targets:
        if target in ("sqlite", "bare", "before"):  # one process's memory and page: SQLite's figures stand for both
            if "idle" in args.only:
                results[target]["idle"] = bench.idle(target)
            if "page" in args.only:
                results[target]["page"] = bench.page(target)
    return results


def commit_of(path: str) -> str:
    out = subprocess.run(["git", "-C", path, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return f"commit {out.stdout.strip()}" if out.returncode == 0 else path


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    versions = {name: metadata.version(name) for name in
                ("starlette", "uvicorn", "sse-starlette", "peewee", "jinja2", "psycopg", "redis")}
    for name in ("uvloop", "httptools"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_mb": memory, "kernel": platform.release(),
            "python": platform.python_version(), "packages": versions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="latency,throughput,idle,page")
    parser.add_argument("--targets", default="sqlite,postgres,bare")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each latency and throughput figure (median kept)")
    parser.add_argument("--levels", default=",".join(map(str, LATENCY_LEVELS)), help="live conversations to measure")
    parser.add_argument("--duration", type=float, default=25.0)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between one visitor's messages")
    parser.add_argument("--closed-loop", type=int, default=100, help="conversations in the throughput run")
    parser.add_argument("--mixed-assigned", type=int, default=100, help="chats with a counsellor in the mixed run")
    parser.add_argument("--bots", type=int, default=200, help="visitors writing to the bot in the mixed run")
    parser.add_argument("--waiting", type=int, default=500, help="visitors waiting in the queue in the mixed run")
    parser.add_argument("--keep", action="store_true", help="keep each run's database, to look into it afterwards")
    parser.add_argument("--server-flags", default="--loop asyncio --http h11")
    parser.add_argument("--postgres", default=os.environ.get("HANDOFF_BENCH_DATABASE_URL")
                        or os.environ.get("HANDOFF_TEST_DATABASE_URL", ""))
    parser.add_argument("--redis", default=os.environ.get("HANDOFF_BENCH_REDIS_URL")
                        or os.environ.get("HANDOFF_TEST_REDIS_URL", ""))
    parser.add_argument("--output", default=str(BENCH / "results.json"))
    parser.add_argument("--markdown", default=str(BENCH / "RESULTS.md"), help="the report made of the figures; "
                        "an empty value leaves it alone (a partial run)")
    parser.add_argument("--before", default="", help="a checkout of the code before a change (git worktree add), "
                        "run on SQLite as the target `before`, taking turns with the others")
    args = parser.parse_args()
    raise_nofile()
    targets = [t for t in args.targets.split(",") if "postgres" not in t or (args.postgres and args.redis)]
    if args.before and not any(t.startswith("before") for t in targets):
        targets.insert(1, "before")
    report = {"when": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
              "command": "python bench/run.py " + " ".join(sys.argv[1:]), "interval_s": args.interval, "repeat": args.repeat,
              "closed_loop": args.closed_loop, "server_flags": args.server_flags,
              "before": commit_of(args.before) if args.before else ""}
    report["results"] = run_all(targets, args)
    Path(args.output).write_text(json.dumps(report, indent=1))
    if not args.quick and args.markdown:
        import report as make_report
        make_report.write(report, Path(args.markdown))


if __name__ == "__main__":
    main()
