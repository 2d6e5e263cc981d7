"""Measure the bot's answers on the labelled questions: correct, wrong and declined, held-out and dev.

    python -m escalation.eval_answers          # figures per country, per topic and overall
    python -m escalation.eval_answers --fit    # refit the confidence model and its line on dev
    python -m escalation.eval_answers --knowledge DIR   # measure a draft knowledge base instead
    python -m escalation.eval_answers --corpus DIR      # or another labelled set
    python -m escalation.eval_answers --show   # also list every dev question not answered right
    python -m escalation.eval_answers --batch r5-   # only the groups so named, none of them learned from
    python -m escalation.eval_answers --without r6- --fit   # as if the groups so named were not written yet
    python -m escalation.eval_answers --unseen  # the batches in corpus/answers/unseen/, never learned from
    python -m escalation.eval_answers --unseen r8-  # one of them

Each line of escalation/corpus/answers/*.jsonl is {"text", "history", "expect", "group", "style"}.
Rows are split into held-out test and dev by a hash of their group, so paraphrases of one
question never sit on both sides. Dev questions also teach the index how visitors ask for an entry,
so dev is judged, and confidence fitted, out of fold: each fold by an index that learned only from
the others. Held-out questions are never learned from nor fitted on.
"""
from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path

from . import assess
from .answers import answer, probability
from .knowledge_base import (CALIBRATION, LABELLED, OURS, UNSEEN, install, knowledge_base, learned_questions,
                             load_entries, split)
from .knowledge_base import load_labelled as load

OUTCOMES = ("correct", "wrong", "declined")
FOLDS = 5  # dev is judged and fitted out of fold: a fold's questions are not among the index's learned ones


def fold(group: str) -> int:
    return int(hashlib.sha256(("fold:" + group).encode()).hexdigest(), 16) % FOLDS


def out_of_fold(dev: list[dict], entries: list, measure) -> list:
    """`measure(rows)` for each fold of dev, with the index learning only from the other folds' questions."""
    results = []
    for k in range(FOLDS):
        install(entries, learned_questions([r for r in dev if fold(r["group"]) != k]))
        results.extend(measure([r for r in dev if fold(r["group"]) == k]))
    install(entries)
    return results


def expected(row: dict) -> str:
    """The label, where an entry the knowledge base does not hold is one the bot should decline."""
    want = row["expect"]
    return want if want in ("clarify", "none") or knowledge_base().get(want) else "none"


def judge(row: dict, show: bool = False) -> str:
    """correct, wrong or declined: serving another entry is wrong; asking or declining is not."""
    want = expected(row)
    decision = assess(row["text"], row.get("history", []))
    if decision.reason == "requested" and want == f"{OURS}talk-to-counsellor":
        # "can I talk to a real person?": that entry says the bot connects you when asked, and it does
        outcome = "correct"
    elif decision.topic and not decision.handoff:
        outcome = "correct" if decision.topic == want else "wrong"
    elif decision.choices and not decision.handoff:
        outcome = "correct" if want == "clarify" else "declined"
    else:
        outcome = "correct" if want == "none" else "declined"
    if show and outcome != "correct":
        got = decision.topic or ("clarify " + ",".join(decision.choices) if decision.choices else decision.reason
                                 or decision.reply[:60])
        print(f"  {outcome:<8} want {want:<26} got {got}  {decision.confidence:.2f}  {row['text']!r}")
    return outcome


def _line(label: str, counts: Counter) -> str:
    n = sum(counts.values())
    return f"  {label:<24} n={n:<4}" + "".join(f" {k} {counts[k]:>3} ({100 * counts[k] / n:5.1f}%)" for k in OUTCOMES)


def report(judged: list[tuple[dict, str]], name: str) -> dict[str, float]:
    """Print outcomes per set, per topic and overall; return the headline rates."""
    by_set: dict[str, Counter] = defaultdict(Counter)
    by_topic: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    in_scope: Counter = Counter()
    out_scope: Counter = Counter()
    rows = [row for row, _ in judged]
    for row, outcome in judged:
        want = expected(row)
        topic = want if want in ("clarify", "none") else knowledge_base().get(want).topic
        by_set[row["set"]][outcome] += 1
        by_topic[topic][outcome] += 1
        overall[outcome] += 1
        (out_scope if want == "none" else in_scope)[outcome] += 1
    print(f"\n== {name}: {len(rows)} questions ==")
    print(" per set (destination file):")
    for key in sorted(by_set):
        print(_line(key, by_set[key]))
    print(" per topic:")
    for key in sorted(by_topic):
        print(_line(key, by_topic[key]))
    print(" overall:")
    print(_line("in scope", in_scope))
    print(_line("out of scope / no entry", out_scope))
    print(_line("all", overall))
    rates = {"in_scope_correct": in_scope["correct"] / max(1, sum(in_scope.values())),
             "wrong": overall["wrong"] / max(1, sum(overall.values())),
             "out_of_scope_declined": out_scope["correct"] / max(1, sum(out_scope.values()))}
    print("  " + "  ".join(f"{k} {100 * v:.1f}%" for k, v in rates.items()))
    return rates


def unseen_rows() -> list[dict]:
    """The batches kept apart from the labelled set: neither learned, fitted on, nor used to find errors. Each
    is reported per destination file its expected entry would sit in."""
    rows = load(UNSEEN)
    for row in rows:
        want = row["expect"]
        entry = knowledge_base().get(want)
        row["set"] = ("out-of-scope" if want == "none" else want if want == "clarify"
                      else "educonsult" if want.startswith(OURS) else entry.country if entry else want.split("-")[0])
    return rows


def coverage(rows: list[dict]) -> None:
    """How many of the labelled entry ids the knowledge base holds."""
    ids = [r["expect"] for r in rows if r["expect"] not in ("clarify", "none")]
    held = sum(1 for i in ids if knowledge_base().get(i))
    print(f"\ncoverage: the knowledge base holds {held} of {len(ids)} labelled entries"
          f" ({len(set(ids) - {i for i in ids if knowledge_base().get(i)})} distinct ids missing)")


def samples(rows: list[dict]) -> list[tuple[dict[str, float], int]]:
    """(features, served the right entry) for every row where the bot would answer from an entry."""
    out = []
    for row in rows:
        found = answer(row["text"], row.get("history", []), line=0.0)
        if found.kind in ("answer", "personal") and found.features:
            out.append((found.features, int(found.entry.id == expected(row))))
    return out


def fit(data: list[tuple[dict[str, float], int]], steps: int = 8000, rate: float = 0.5, l2: float = 0.002) -> dict:
    """Logistic regression by gradient descent: few features, a few hundred rows, no library needed."""
    names = sorted(data[0][0])
    w = dict.fromkeys(names, 0.0)
    bias = 0.0
    for _ in range(steps):
        grad = dict.fromkeys(names, 0.0)
        gbias = 0.0
        for x, y in data:
            err = probability(x, {"bias": bias, "weights": w}) - y
            gbias += err
            for k in names:
                grad[k] += err * x[k]
        bias -= rate * gbias / len(data)
        for k in names:
            w[k] -= rate * (grad[k] / len(data) + l2 * w[k])
    return {"bias": round(bias, 4), "weights": {k: round(v, 4) for k, v in w.items()}}


def choose_line(data: list[tuple[dict[str, float], int]], model: dict, cost: float = 8.0) -> float:
    """The line that keeps the most right answers while a wrong one costs `cost` right ones."""
    scored = sorted((probability(x, model), y) for x, y in data)
    best, line = -math.inf, 0.5
    for i, (p, _) in enumerate(scored):
        kept = scored[i:]
        value = sum(y for _, y in kept) - cost * sum(1 - y for _, y in kept)
        if value > best:
            best, line = value, p
    return round(line, 3)


def brier(data: list[tuple[dict[str, float], int]]) -> str:
    """Brier score and mean estimate vs. share right, to show how well confidence is calibrated."""
    if not data:
        return "no answers"
    ps = [(probability(x), y) for x, y in data]
    score = sum((p - y) ** 2 for p, y in ps) / len(ps)
    return (f"Brier {score:.3f}, mean confidence {sum(p for p, _ in ps) / len(ps):.2f}, "
            f"share right {sum(y for _, y in ps) / len(ps):.2f} over {len(ps)} answers")


def main(argv: list[str]) -> None:
    directory = Path(argv[argv.index("--knowledge") + 1]) if "--knowledge" in argv else None
    entries = load_entries(directory) if directory else load_entries()
    rows = load(Path(argv[argv.index("--corpus") + 1])) if "--corpus" in argv else load(LABELLED)
    if "--without" in argv:  # a batch kept unseen: neither learned, fitted on, nor shown
        rows = [r for r in rows if not r["group"].startswith(argv[argv.index("--without") + 1])]
    if "--batch" in argv:
        prefix = argv[argv.index("--batch") + 1]
        batch = [r for r in rows if r["group"].startswith(prefix)]
        install(entries, learned_questions([r for r in rows if not r["group"].startswith(prefix)]))
        report([(r, judge(r, "--show" in argv)) for r in batch], f"batch {prefix}, none of it learned from")
        return
    if "--unseen" in argv:
        install(entries, learned_questions([r for r in rows if split(r["group"]) == "dev"]))
        at = argv.index("--unseen") + 1
        only = argv[at] if at < len(argv) and not argv[at].startswith("--") else ""
        batches: dict[str, list[dict]] = defaultdict(list)
        for row in unseen_rows():  # each batch on its own: one was written before the changes it measures
            if row["group"].startswith(only):
                batches[row["group"].split("-")[0]].append(row)
        for name, batch in sorted(batches.items()):
            report([(r, judge(r, "--show" in argv)) for r in batch], f"unseen batch {name}, none of it learned from")
        return
    test = [r for r in rows if split(r["group"]) == "test"]
    dev = [r for r in rows if split(r["group"]) == "dev"]
    install(entries, learned_questions(dev))
    if "--fit" in argv:
        data = out_of_fold(dev, entries, samples)
        model = fit(data)
        model = {"line": choose_line(data, model), **model}
        CALIBRATION.write_text(json.dumps(model, indent=2) + "\n", encoding="utf-8")
        print(f"fitted on {len(data)} dev answers, each scored by an index that had not learned it: {model}")
        return
    coverage(rows)
    held_out = report([(r, judge(r)) for r in test], "held-out test")
    show = "--show" in argv
    report(out_of_fold(dev, entries, lambda fold_rows: [(r, judge(r, show)) for r in fold_rows]),
           "dev, out of fold (tuned on)")
    print(f"\nconfidence, held-out: {brier(samples(test))}")
    print(f"confidence, dev:      {brier(out_of_fold(dev, entries, samples))}")
    print("\nheld-out: " + "  ".join(f"{k} {100 * v:.1f}%" for k, v in held_out.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
