"""Build the handoff corpus from its sources and train the classifier: `python -m escalation.train`.

    python -m escalation.train            expand corpus/source/*.yaml into corpus.jsonl, train, write model.npz
    python -m escalation.train --report   also cross-validate, held out by group, and print the figures

Deterministic: the same sources give byte-identical corpus.jsonl and model.npz.
"""
from __future__ import annotations

import hashlib
import io
import json
import sys
import zlib
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import yaml

from .classifier import CLASSES, MODEL, digest, vectorise
from .features import HISTORY, grams
from .safety import emergency

HERE = Path(__file__).parent / "corpus"
CORPUS = HERE / "corpus.jsonl"
SAFETY = ("selfharm", "detention", "violence", "medical", "passport")
WEAK, SURE = 0.2, 0.9
C = 20.0  # inverse regularisation, chosen by the held-out F1 (see docs/escalation.md)
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
                        add(q, why, f"faq-{j}")
                    continue
                fills = [line]
                if "{person}" in line:
                    fills = list(dict.fromkeys(line.replace("{person}", people[_pick(key, i, k, len(people))])
                                               for k in range(2)))
                if "{faq}" in line:
                    picks = [_pick(key, i, k, len(faq)) for k in range(3)]
                    fills = list(dict.fromkeys(line.replace("{faq}", faq[j]) for j in picks))
                for k, text in enumerate(fills):
                    history = None
                    if key.startswith("h-"):
                        j = _pick(key, i, k + 1, len(faq))
                        history = {"none": [_visitor(faq[j]), _bot(SURE)],
                                   "repeat": [_visitor(faq[j]), _bot(WEAK)],
                                   }.get(why, [_visitor(faq[j]), _bot(WEAK), _visitor(again[j]), _bot(WEAK)])
                    add(text, why, group, history, key if key in SAFETY else None)
    n = len(faq)
    for j, word in enumerate(faq[:6]):
        # Keyboard mashes made of the language's own letters: no words, no handoff.
        letters = sorted(set("".join(faq + again)) - set(" ?？؟,.!'-0123456789"))
        add("".join(letters[_pick(word, j, k, len(letters))] for k in range(4 + j)), "none", f"mash-{j}")
    for j, (first, second) in enumerate(zip(faq, again)):
        # The same question in other words: a repeat after it was asked, a plain question in a fresh chat.
        add(second, "repeat", f"again-{j}", [_visitor(first), _bot(WEAK)] if j % 2 else [first])
        add(second, "none", f"faq-{j}")
        # A different question after a sure answer is a follow-up; after two weak answers, the bot has failed.
        add(faq[(j + 3) % n], "none", f"follow-{j}", [_visitor(first), _bot(SURE)])
        add(again[(j + 5) % n], "none", f"follow-{j}", [_visitor(first), _bot(SURE)])
        if j % 2 == 0:
            add(faq[(j + 2) % n], "repeat", f"weak-{j}",
                [_visitor(first), _bot(WEAK), _visitor(faq[(j + 1) % n]), _bot(WEAK)])
    return rows


def build() -> list[dict]:
    """Every source file expanded, in a fixed order."""
    rows: list[dict] = []
    for path in sorted((HERE / "source").glob("*.yaml")):
        rows.extend(_rows_of(path.stem, yaml.safe_load(path.read_text(encoding="utf-8"))))
    return rows


def _write_corpus(rows: list[dict]) -> None:
    CORPUS.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def load() -> list[dict]:
    return [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]


def _fit(rows: list[dict], c: float = C):
    """Vocabulary, weights and biases fitted on `rows`."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.linear_model import LogisticRegression

    seen = [grams(r["text"]) for r in rows]
    df = Counter(g for s in seen for g in s)
    vocab = sorted(g for g, n in df.items() if n >= MIN_COUNT)
    index = {g: i for i, g in enumerate(vocab)}
    data, cols, ptr, dense = [], [], [0], []
    for r, found in zip(rows, seen):
        idx, hist = vectorise(found, r["text"], r.get("history", []), index)
        cols.extend(idx)
        data.extend([1.0 / max(1.0, len(idx)) ** 0.5] * len(idx))
        ptr.append(len(cols))
        dense.append(hist)
    x = hstack([csr_matrix((data, cols, ptr), shape=(len(rows), len(vocab))), csr_matrix(np.array(dense))]).tocsr()
    y = [CLASSES.index(r["why"]) for r in rows]
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(x, y)
    return vocab, model.coef_.T.astype(np.float32), model.intercept_.astype(np.float32)


def _save(vocab: list[str], weights: np.ndarray, bias: np.ndarray, stamp: str) -> None:
    # Weights too small to move a decision are dropped with their n-grams: a smaller file, same answers.
    keep = np.abs(weights[:len(vocab)]).max(axis=1) >= 0.02
    vocab = [g for g, k in zip(vocab, keep) if k]
    weights = np.vstack([weights[:-len(HISTORY)][keep], weights[-len(HISTORY):]]).astype(np.float16)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, vocab=np.frombuffer("\0".join(vocab).encode(), dtype=np.uint8),
                        weights=weights, bias=bias, digest=np.array(stamp))
    MODEL.write_bytes(buffer.getvalue())


def _scores(rows: list[dict], folds: int = 5) -> list[str]:
    """Predicted class of every row by a model that never saw its group."""
    from .classifier import Model

    groups = sorted({r["group"] for r in rows}, key=lambda g: hashlib.sha256(g.encode()).hexdigest())
    fold_of = {g: i % folds for i, g in enumerate(groups)}
    predicted = [""] * len(rows)
    for f in range(folds):
        train = [r for r in rows if fold_of[r["group"]] != f]
        vocab, weights, bias = _fit(train)
        model = Model(vocab, weights, bias)
        for i, r in enumerate(rows):
            if fold_of[r["group"]] == f:
                predicted[i] = model.judge(r["text"], r.get("history", [])) or "none"
    return predicted


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


def main(argv: list[str]) -> None:
    rows = build()
    _write_corpus(rows)
    vocab, weights, bias = _fit(rows)
    _save(vocab, weights, bias, digest())
    print(f"{len(rows)} messages, {len(vocab)} n-grams, model {MODEL.stat().st_size // 1024} KB")
    if "--report" in argv:
        predicted = _scores(rows)
        for key in ("lang", "why"):
            print("\n".join(_figures(rows, predicted, key)) + "\n")
        missed = [r for r, p in zip(rows, predicted) if r.get("safety") and not emergency(r["text"])]
        print(f"safety cases the floor misses: {len(missed)}")
        for r, p in zip(rows, predicted):
            if (p != "none") != r["handoff"]:
                print(f"  {r['lang']:7} {r['why']:11} -> {p:11} {r['text'][:90]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
