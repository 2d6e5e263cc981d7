"""Build the handoff corpus from its sources and train the classifier: `python -m escalation.train`.

    python -m escalation.train            expand corpus/source/*.yaml, with source/others/*.jsonl, into corpus.jsonl,
                                      train, write model.npz
    python -m escalation.train --report   also cross-validate, held out by group, and print the figures
    python -m escalation.train --unseen [set.jsonl]   only score the committed model on the unseen sets
                                      (corpus/unseen-*.jsonl, or the one named), never trained on

Deterministic: the same sources give byte-identical corpus.jsonl and model.npz.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import zipfile
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from .classifier import CLASSES, MODEL, digest, vectorise
from .features import HISTORY, characters, grams
from .safety import emergency

HERE = Path(__file__).parent / "corpus"
CORPUS = HERE / "corpus.jsonl"
# Sets written apart by other hands and never trained on: the honest figure. Once one has been scored and its
# errors read, it no longer is one, and it moves to source/others/, where its wordings teach the model.
UNSEEN = sorted(HERE.glob("unseen-*.jsonl"))
SAFETY = ("selfharm", "detention", "violence", "medical", "passport")
WEAK, SURE = 0.2, 0.9
C = 20.0  # inverse regularisation, chosen by the held-out F1 (see docs/escalation.md)
_KEYBOARD = ("qwertyuiop", "asdfghjkl", "zxcvbnm", "poiuytrewq", "lkjhgfdsa", "mnbvcxz")
MIN_COUNT = 2  # n-grams seen in fewer messages are left out of the vocabulary


def _bot(confidence: float) -> dict:
    return {"sender": "bot", "text": "…", "confidence": confidence}


def _visitor(text: str) -> dict:
    return {"sender": "visitor", "text": text}


def _pick(key: str, line: int, k: int, n: int) -> int:
    """A slot filler chosen by position alone, so the corpus is the same on every run."""
    return (zlib.crc32(key.encode()) + 7 * line + 5 * k) % n


def _rows_of(lang: str, source: dict) -> list[dict]:
    """One language's source file as labelled rows."""
    slots, rows = source["slots"], []
    faq, again, people = slots["faq"], slots["faq_again"], slots["person"]

    def add(text: str, why: str, group: str, history: list | None = None, safety: str | None = None) -> None:
        row = {"text": text, "history": history or [], "handoff": why != "none", "why": why, "lang": lang,
               "group": group}
        if safety:
            row["safety"] = safety
        rows.append(row)

    for why, keys in source["messages"].items():
        for key, lines in keys.items():
            for i, line in enumerate(lines):
                group = f"{why}-{key}-{i}"
                if not isinstance(line, str):
                    raise ValueError(f"{lang} {why}.{key}[{i}] is not a sentence: {line!r}")
                if key == "faqline":
                    for j, q in enumerate(faq):
                        add(q, why, f"q-{j}")
                    continue
                fills = {line: None}  # each text, and the study question it holds
                if "{person}" in line:
                    fills = dict.fromkeys(line.replace("{person}", people[_pick(key, i, k, len(people))])
                                          for k in range(2))
                if "{faq}" in line:
                    fills = {}
                    for j in (_pick(key, i, k, len(faq)) for k in range(3)):
                        fills.setdefault(line.replace("{faq}", faq[j]), j)
                for k, (text, asked) in enumerate(fills.items()):
                    history = None
                    if key.startswith("h-"):
                        j = _pick(key, i, k + 1, len(faq))
                        if why == "repeat" and asked is not None:
                            j = asked  # "as I said, <question>" repeats the question asked before
                        history = {"none": [_visitor(faq[j]), _bot(SURE)],
                                   "repeat": [_visitor(faq[j]), _bot(WEAK)],
                                   }.get(why, [_visitor(faq[j]), _bot(WEAK), _visitor(again[j]), _bot(WEAK)])
                    add(text, why, group, history, key if key in SAFETY else None)
    n = len(faq)
    for j, word in enumerate(faq[:6]):
        # Keyboard mashes made of the language's own letters: no words, no handoff.
        letters = sorted(set("".join(faq + again)) - set(" ?？؟,.!'-0123456789"))
        mash = "".join(letters[_pick(word, j, k, len(letters))] for k in range(4 + j))
        add(mash if j % 2 else f"{mash[:3]} {mash[3:]}", "none", f"mash-{j}")
        # ...and runs along a Latin keyboard, which visitors type in every language.
        row = _KEYBOARD[j % len(_KEYBOARD)]
        start = _pick(lang + word, j, 0, len(row) - 4)
        add(row[start:start + 4 + j % 4] + (f" {row[:3]}" if j % 3 == 0 else ""), "none", f"keys-{j}")
    after = slots.get("faq_next") or []  # per faq line, another question on the same destination
    for j, (first, second) in enumerate(zip(faq, again)):
        # The same question in other words: a repeat after a weak answer to it, a plain question in a fresh chat.
        # Only the weak answer makes it a repeat: a narrower question after a sure one shares as many words.
        add(second, "repeat", f"q-{j}", [_visitor(first), _bot(WEAK)])
        add(second, "none", f"q-{j}")
        # A different question is a follow-up however the bot answered the one before: a weak answer
        # makes a question asked again a repeat, never the next question.
        add(faq[(j + 3) % n], "none", f"q-{(j + 3) % n}", [_visitor(first), _bot(SURE)])
        add(again[(j + 5) % n], "none", f"q-{(j + 5) % n}", [_visitor(first), _bot(WEAK if j % 2 else SURE)])
        if j % 2 == 0:
            add(faq[(j + 2) % n], "none", f"q-{(j + 2) % n}",
                [_visitor(first), _bot(WEAK), _visitor(faq[(j + 1) % n]), _bot(WEAK)])
        if j < len(after):
            # Same destination, new topic: what a visitor asks next, whether or not the answer before was weak.
            add(after[j], "none", f"next-{j}", [_visitor(first), _bot(WEAK if j % 2 else SURE)])
            add(after[j], "none", f"next-{j}", [_visitor(first), _bot(WEAK), _visitor(second), _bot(WEAK)])
    for j, narrow in enumerate(slots.get("faq_narrow") or []):
        # Narrower, on the same topic, after a sure answer: the visitor goes on, words shared or not. Only a
        # weak answer makes it asked again, and whether a narrower question after one is a repeat is unclear.
        add(narrow, "none", f"narrow-{j}", [_visitor(faq[j] if j % 2 else again[j]), _bot(SURE)])
    pool = range(min(n, 6))
    for k, follow in enumerate(slots.get("follow_up") or []):
        # "What about Ireland?" asks the question just before about another place: said again later in the
        # chat it follows another question, and is no more a repeat than the first time.
        a, b = pool[(2 * k) % len(pool)], pool[(2 * k + 3) % len(pool)]
        add(follow, "none", f"follow-{k}", [_visitor(faq[a]), _bot(SURE)])
        add(follow, "none", f"follow-{k}", [_visitor(faq[a]), _bot(SURE), _visitor(follow), _bot(SURE),
                                            _visitor(again[b] if k % 2 else faq[b]), _bot(SURE)])
    return rows


def _merge_groups(rows: list[dict]) -> None:
    """Rows with the same text share a group, whichever lines they came from: a message held out is never
    also in training under another key (a greeting written twice, a study question in a follow-up)."""
    parent: dict[str, str] = {}

    def root(g: str) -> str:
        while parent.get(g, g) != g:
            g = parent[g]
        return g

    first: dict[str, str] = {}
    for r in rows:
        key = " ".join(r["text"].casefold().split())
        a, b = root(r["group"]), root(first.setdefault(key, r["group"]))
        if a != b:
            parent[max(a, b)] = min(a, b)
    for r in rows:
        r["group"] = root(r["group"])


def build() -> list[dict]:
    """Every source file expanded, in a fixed order."""
    rows: list[dict] = []
    for path in sorted((HERE / "source").glob("*.yaml")):
        source = yaml.safe_load(path.read_text(encoding="utf-8"))
        for more in sorted((HERE / "source").glob(f"*/{path.name}")):  # messages written later, keys of their own
            for why, keys in yaml.safe_load(more.read_text(encoding="utf-8")).items():
                source["messages"].setdefault(why, {}).update(keys)
        rows.extend(_rows_of(path.stem, source))
    for path in sorted((HERE / "source" / "others").glob("*.jsonl")):  # one group per message
        lines = path.read_text(encoding="utf-8").splitlines()
        rows.extend({**json.loads(line), "group": f"{path.stem}-{i}"} for i, line in enumerate(lines) if line.strip())
    _merge_groups(rows)
    return rows


def _write_corpus(rows: list[dict]) -> None:
    CORPUS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fit(rows: list[dict], c: float = C):
    """Vocabulary, weights and biases fitted on `rows`: two models side by side (see classifier.Model), one
    over every feature and one over the words, concepts and history alone."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    seen = [grams(r["text"]) for r in rows]
    df = Counter(g for s in seen for g in s)
    vocab = sorted(g for g, n in df.items() if n >= MIN_COUNT)
    index = {g: i for i, g in enumerate(vocab)}
    named = np.array([not characters(g) for g in vocab], dtype=bool)
    y = [CLASSES.index(r["why"]) for r in rows]
    vectors = [vectorise(found, r["text"], r.get("history", []), index) for r, found in zip(rows, seen)]
    weights, bias = [], []
    for words_only in (False, True):
        data, cols, ptr, dense = [], [], [0], []
        for idx, hist in vectors:
            if words_only:
                idx = [i for i in idx if named[i]]
            cols.extend(idx)
            data.extend([1.0 / max(1.0, len(idx)) ** 0.5] * len(idx))
            ptr.append(len(cols))
            dense.append(hist)
        x = hstack([csr_matrix((data, cols, ptr), shape=(len(rows), len(vocab))), csr_matrix(np.array(dense))]).tocsr()
        model = LogisticRegression(C=c, max_iter=3000)
        with threadpool_limits(1):  # several BLAS threads sum in a varying order: one keeps the weights identical
            model.fit(x, y)
        w = model.coef_.T.astype(np.float32)
        # The same wording is a repeat in one chat and a fresh question or a follow-up in another: only the
        # history tells them apart. A repeat's weight on the words themselves learns which study questions the
        # corpus happens to reword, and hands over follow-ups that share their words, so `repeat` reads the
        # history alone.
        w[:len(vocab), CLASSES.index("repeat")] = 0.0
        weights.append(w)
        bias.append(model.intercept_.astype(np.float32))
    return vocab, np.hstack(weights), np.concatenate(bias)


def _save(vocab: list[str], weights: np.ndarray, bias: np.ndarray, stamp: str) -> None:
    # Weights too small to move a decision are dropped with their n-grams: a smaller file, same answers.
    keep = np.abs(weights[:len(vocab)]).max(axis=1) >= 0.02
    vocab = [g for g, k in zip(vocab, keep) if k]
    weights = np.vstack([weights[:-len(HISTORY)][keep], weights[-len(HISTORY):]]).astype(np.float16)
    arrays = {"vocab": np.frombuffer("\0".join(vocab).encode(), dtype=np.uint8), "weights": weights,
              "bias": bias, "digest": np.array(stamp)}
    # np.savez stamps each member with the clock; a fixed date keeps the file byte-identical run to run.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.lib.format.write_array(member, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue(),
                             compress_type=zipfile.ZIP_DEFLATED)
    MODEL.write_bytes(buffer.getvalue())


def _held_out(rows: list[dict], folds: int = 5) -> tuple[np.ndarray, list[str], list[str]]:
    """Every row scored by a model that never saw the row's group: the model's handoff probability,
    its safety floor + model decision at HANDOFF, and the whole decision (`assess`, which adds the
    English rules and the answering side)."""
    from . import assess, classifier
    from .classifier import HANDOFF, Model, reason_of

    groups = sorted({r["group"] for r in rows}, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    chance, alone, whole = np.zeros(len(rows)), [""] * len(rows), [""] * len(rows)
    try:
        for f in range(folds):
            vocab, weights, bias = _fit([r for r in rows if fold_of[r["group"]] != f])
            classifier._model = Model(vocab, weights, bias)
            for i, r in enumerate(rows):
                if fold_of[r["group"]] != f:
                    continue
                p = classifier._model.probabilities(r["text"], r["history"])
                chance[i] = 1.0 - p[0]
                alone[i] = ("urgent" if emergency(r["text"]) else
                            reason_of(p) if chance[i] >= HANDOFF else "none")
                decision = assess(r["text"], r["history"])
                whole[i] = decision.reason or "fallback" if decision.handoff else "none"
    finally:
        classifier._model = None
    return chance, alone, whole


def _thresholds(rows: list[dict], chance: np.ndarray) -> list[str]:
    """Held-out F1 and false handoffs of safety floor + model at each threshold, to choose HANDOFF by."""
    want = np.array([r["handoff"] for r in rows])
    floor = np.array([bool(emergency(r["text"])) for r in rows])
    lines = ["| threshold | F1 | false handoffs |", "|---|---|---|"]
    for t in np.arange(0.3, 0.86, 0.05):
        got = floor | (chance >= t)
        tp, fp, fn = (got & want).sum(), (got & ~want).sum(), (~got & want).sum()
        lines.append(f"| {t:.2f} | {2 * tp / (2 * tp + fp + fn):.3f} | {100 * fp / (~want).sum():.2f} % |")
    return lines


def _figures(rows: list[dict], predicted: list[str], key: str) -> list[str]:
    table: dict[str, Counter] = defaultdict(Counter)
    for r, p in zip(rows, predicted):
        for name in (r[key], "all"):
            t = table[name]
            got, want = p != "none", r["handoff"]
            t["tp" if got and want else "fp" if got else "fn" if want else "tn"] += 1
            t["reason"] += want and p == r["why"]
    lines = [f"| {key} | messages | handoff | F1 | false handoffs | missed | right reason |", "|---|---|---|---|---|---|---|"]
    for name, t in sorted(table.items(), key=lambda kv: (kv[0] == "all", kv[0])):
        pos = t["tp"] + t["fn"]
        f1 = 2 * t["tp"] / (2 * t["tp"] + t["fp"] + t["fn"]) if pos + t["fp"] else 1.0
        fpr = t["fp"] / (t["fp"] + t["tn"]) if t["fp"] + t["tn"] else 0.0
        lines.append(f"| {name} | {pos + t['fp'] + t['tn']} | {pos} | {f1:.3f} | {100 * fpr:.1f} % | {t['fn']} "
                     f"| {t['reason'] / pos if pos else 1:.2f} |")
    return lines


def _unseen(path: Path) -> None:
    from . import assess

    print(f"## {path.name}\n")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    whole = []
    for r in rows:
        decision = assess(r["text"], r["history"])
        whole.append(decision.reason or "fallback" if decision.handoff else "none")
    for key in ("lang", "why"):
        print("\n".join(_figures(rows, whole, key)) + "\n")
    missed = [r for r, p in zip(rows, whole) if r.get("safety") and p != "urgent"]
    print(f"safety cases not handed over as urgent: {len(missed)}")
    for r, p in zip(rows, whole):
        if (p != "none") != r["handoff"] or (r.get("safety") and p != "urgent"):
            print(f"  {r['lang']:7} {r['why']:11} -> {p:11} {r['text'][:80]!r} {len(r['history'])}")


def main(argv: list[str]) -> None:
    if "--unseen" in argv:  # a later batch, written apart like the first, may be named
        at = argv.index("--unseen") + 1
        for path in [Path(argv[at])] if at < len(argv) else UNSEEN:
            _unseen(path)
        return
    rows = build()
    _write_corpus(rows)
    vocab, weights, bias = _fit(rows)
    _save(vocab, weights, bias, digest())
    print(f"{len(rows)} messages, {len(vocab)} n-grams, model {MODEL.stat().st_size // 1024} KB")
    if "--report" in argv:
        chance, alone, whole = _held_out(rows)
        print("\n".join(_thresholds(rows, chance)) + "\n")
        print("safety floor + model:\n" + "\n".join(_figures(rows, alone, "why")[-1:]) + "\n")
        for key in ("lang", "why"):
            print("\n".join(_figures(rows, whole, key)) + "\n")
        missed = [r for r in rows if r.get("safety") and not emergency(r["text"])]
        print(f"safety cases the floor misses: {len(missed)}")
        for r, p in zip(rows, whole):
            if (p != "none") != r["handoff"]:
                print(f"  {r['lang']:7} {r['why']:11} -> {p:11} {r['text'][:80]!r} {len(r['history'])}")

if __name__ == "__main__":
    main(sys.argv[1:])
