"""Make bench/RESULTS.md from bench/results.json."""
from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
TARGETS = {"p99_500": 50.0, "throughput": 1500.0, "kb_per_stream": 30.0, "ratio": 0.5}


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "–"


def _mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _by_level(rows: list[dict], key: str) -> dict:
    return {row[key]: row for row in rows or []}


def write(report: dict, path: Path) -> None:
    r = report["results"]
    ours, pg, bare = r.get("sqlite", {}), r.get("postgres", {}), r.get("bare", {})
    m = report["machine"]
    lines = ["# Benchmark results", "",
             f"Measured {report['when']} on {m['cpu']}, {m['cores']} cores, {m['memory_mb']} MB RAM, "
             f"Linux {m['kernel']}, Python {m['python']}.",
             "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".", "",
             f"Command: `{report['command']}` (uvicorn flags `{report['server_flags']}`). Each server is a real "
             "uvicorn subprocess on a fresh database; the load comes from a separate process (`bench/load.py`, "
             "asyncio over raw sockets) on the same machine, over loopback. Rate limits are raised for the "
             "run, since every simulated visitor comes from 127.0.0.1. The machine was shared with other work "
             "during the run: the 1-minute load average is shown beside the figures (2 cores, so above 2 means "
             "other processes competed for the CPU; compare ratios taken at similar loads).", "",
             "**What is measured.** A live conversation is a chat assigned to a counsellor, with the visitor's "
             "SSE stream and the counsellor's SSE stream open (each counsellor holds 10 chats on one stream). "
             f"Each visitor sends a message about every {report['interval_s']:g} s (uniformly 0.5–1.5×). "
             "Delivery latency is from just before the POST is written to the moment the counsellor's stream "
             "yields the event carrying that message (visitor → agent delivery on assigned chats). "
             f"Throughput is a closed loop of {report['closed_loop']} conversations, each sending its next "
             "message as soon as the previous one reached the counsellor: messages stored and delivered per "
             "second. The bare reference (`bench/bare_app.py`) is Starlette + sse-starlette relaying the same "
             "POSTs to the same two streams in memory, without a database, in one process. "
             f"Latency and throughput figures are the median of {report.get('repeat', 1)} runs, each on a fresh "
             "server, the servers taking turns run by run, so that a change in the machine's speed during the "
             "session falls on each alike; the p99 (or rate) of every run is listed so the spread shows.", ""]

    lines += ["## Delivery latency, POST → counsellor's stream", "",
              "| live conversations | messages/s | SQLite, 1 process p50 / p99 | PostgreSQL + Redis, 2 workers "
              "p50 / p99 | bare p50 / p99 | p99 ours / bare (SQLite) | p99 of each run (SQLite; PG; bare) | "
              "load average (SQLite / PG / bare) |",
              "|---:|---:|---:|---:|---:|---:|---|---|"]
    sq, pq, bq = (_by_level(x.get("latency"), "conversations") for x in (ours, pg, bare))
    for level in sorted(set(sq) | set(pq) | set(bq)):
        a, p, b = sq.get(level, {}), pq.get(level, {}), bq.get(level, {})
        lines.append(f"| {level} | {a.get('rate_per_s', '–')} | {_pair(a)} | {_pair(p)} | {_pair(b)} | "
                     f"{_ratio(a.get('p99_ms'), b.get('p99_ms'))} | {_runs(a, p, b, key='p99_ms')} | "
                     f"{_loads(a, p, b)} |")
    lost = sum(x.get("undelivered", 0) for x in [*sq.values(), *pq.values()])
    lines += ["", f"Messages stored but never delivered (waiting up to 30 s after the last POST): {lost}.", ""]

    tp = {k: v.get("throughput", {}) for k, v in (("sqlite", ours), ("postgres", pg), ("bare", bare))}
    lines += ["## Sustained messages per second, stored and delivered", "",
              "| server | messages/s | p50 / p99 in the loop | ratio to bare | each run | load average | "
              "server CPU per message, each run | bare's CPU / ours |",
              "|---|---:|---:|---:|---|---:|---|---:|"]
    for name, label in (("sqlite", "Handoff, SQLite, 1 process"), ("postgres", "Handoff, PostgreSQL + Redis, 2 workers"),
                        ("bare", "bare Starlette + sse-starlette")):
        t = tp[name]
        if t:
            lines.append(f"| {label} | {t['messages_per_s']} | {_pair(t)} | "
                         f"{_ratio(t['messages_per_s'], tp['bare'].get('messages_per_s'))} | "
                         f"{_runs(t, key='messages_per_s')} | {t.get('loadavg', '–')} | "
                         f"{_runs(t, key='cpu_us_per_message')} µs | "
                         f"{_ratio(_median_cpu(tp['bare']), _median_cpu(t))} |")
    lines += ["", "The server's CPU per message is its processes' CPU time over the run divided by the messages it "
              "answered (the streams' deliveries included). Bare's CPU over ours is the throughput ratio the two would show "
              "if each server had a core to itself, whatever the load generator and other work took.", ""]

    lines += ["## Memory per idle SSE stream", "",
              "RSS of the server before and after opening the streams (visitor streams, one chat each), "
              "divided by their number; CPU is the server's while they sit idle.", "",
              "| open streams | Handoff KB / stream | Handoff RSS before → after | Handoff idle CPU | "
              "bare KB / stream | ratio |", "|---:|---:|---:|---:|---:|---:|"]
    si, bi = _by_level(ours.get("idle"), "streams"), _by_level(bare.get("idle"), "streams")
    for level in sorted(set(si) | set(bi)):
        a, b = si.get(level, {}), bi.get(level, {})
        lines.append(f"| {level} | {a.get('kb_per_stream', '–')} | {a.get('rss_before_mb', '–')} → "
                     f"{a.get('rss_after_mb', '–')} MB | {a.get('idle_cpu_percent', '–')} % | "
                     f"{b.get('kb_per_stream', '–')} | {_ratio(a.get('kb_per_stream'), b.get('kb_per_stream'))} |")
    lines.append("")

    pa, pb = ours.get("page", {}), bare.get("page", {})
    if pa:
        lines += ["## Chat page", "",
                  "| | TTFB p50 / p99, new visitor | TTFB p50 / p99, returning (2 messages) | HTML bytes | "
                  "total bytes with css/js |", "|---|---:|---:|---:|---:|"]
        for label, page in (("Handoff", pa), ("bare", pb)):
            if page:
                lines.append(f"| {label} | {page['new']['ttfb_p50_ms']} / {page['new']['ttfb_p99_ms']} ms | "
                             f"{page['returning']['ttfb_p50_ms']} / {page['returning']['ttfb_p99_ms']} ms | "
                             f"{page['new']['html_bytes']} | {page['total_bytes']} |")
        lines += ["", "Assets (uncompressed; the same files for both): " +
                  ", ".join(f"`{k}` {v}" for k, v in pa.get("assets", {}).items()) + ".", ""]

    p99 = sq.get(500, {}).get("p99_ms")
    rate = tp["sqlite"].get("messages_per_s")
    kb = max((row["kb_per_stream"] for row in si.values()), default=None)
    ratio = rate / tp["bare"]["messages_per_s"] if rate and tp["bare"].get("messages_per_s") else None
    lines += ["## Targets (SQLite, one process)", "", "| target | measured | |", "|---|---:|---|",
              f"| p99 ≤ 50 ms at 500 live conversations | {p99} ms | {_mark(p99 is not None and p99 <= 50)} |",
              f"| ≥ 1,500 messages/s stored and delivered | {rate} | {_mark(rate is not None and rate >= 1500)} |",
              f"| ≤ 30 KB per idle stream | {kb} KB | {_mark(kb is not None and kb <= 30)} |",
              f"| throughput ≥ 0.5 × bare | {ratio:.2f} × | {_mark(ratio >= 0.5)} |" if ratio else "| ratio | – | |",
              ""]

    if r.get("before"):
        lines += _before_after(r["before"], ours, report.get("before", ""))
    notes = BENCH / "profile-notes.md"
    if notes.exists():
        lines += [notes.read_text().strip(), ""]
    path.write_text("\n".join(lines))


def _runs(*rows: dict, key: str) -> str:
    return "; ".join(", ".join(str(run.get(key, "–")) for run in row.get("runs", [])) or "–" for row in rows)


def _median_cpu(row: dict) -> float | None:
    values = sorted(run["cpu_us_per_message"] for run in row.get("runs", []) if run.get("cpu_us_per_message"))
    return values[len(values) // 2] if values else None


def _loads(*rows: dict) -> str:
    return " / ".join(str(row.get("loadavg", "–")) for row in rows)


def _pair(row: dict) -> str:
    return f"{row['p50_ms']} / {row['p99_ms']} ms" if row else "–"


def _before_after(old: dict, new: dict, where: str) -> list[str]:
    lines = ["## Before and after the fixes (SQLite, one process)", "",
             f"`before` is the code before the fixes listed below ({where}, `--before`), run in the same session, "
             "taking turns with the other servers.", "",
             "| figure | before | after |", "|---|---:|---:|"]
    ol, nl = _by_level(old.get("latency"), "conversations"), _by_level(new.get("latency"), "conversations")
    for level in sorted(set(ol) & set(nl)):
        lines.append(f"| latency p50 / p99 at {level} | {_pair(ol[level])} | {_pair(nl[level])} |")
    if old.get("throughput") and new.get("throughput"):
        lines.append(f"| messages/s (closed loop) | {old['throughput']['messages_per_s']} | "
                     f"{new['throughput']['messages_per_s']} |")
        lines.append(f"| server CPU per message, each run | {_runs(old['throughput'], key='cpu_us_per_message')} µs | "
                     f"{_runs(new['throughput'], key='cpu_us_per_message')} µs |")
    oi, ni = _by_level(old.get("idle"), "streams"), _by_level(new.get("idle"), "streams")
    for level in sorted(set(oi) & set(ni)):
        lines.append(f"| KB per idle stream at {level} | {oi[level]['kb_per_stream']} | {ni[level]['kb_per_stream']} |")
        lines.append(f"| idle CPU at {level} streams | {oi[level]['idle_cpu_percent']} % | "
                     f"{ni[level]['idle_cpu_percent']} % |")
    if old.get("page") and new.get("page"):
        lines.append(f"| page TTFB p50, new visitor | {old['page']['new']['ttfb_p50_ms']} ms | "
                     f"{new['page']['new']['ttfb_p50_ms']} ms |")
    return lines + [""]


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else BENCH / "results.json"
    write(json.loads(source.read_text()), BENCH / "RESULTS.md")
