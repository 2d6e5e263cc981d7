"""The learned handoff decision: a linear model over a message's n-grams and the chat's history."""
from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .features import HISTORY, characters, grams, history_features, turns

CLASSES = ("none", "requested", "frustration", "repeat", "complex", "urgent")
MODEL = Path(__file__).parent / "corpus" / "model.npz"
# How both bars were chosen is in docs/escalation.md. Hand over when the model gives the handoff classes
# together at least HANDOFF (the best held-out F1 whose false handoffs stay clearly under 3 %)...
HANDOFF = 0.65
# ...and this much when the knowledge base holds a confident answer: a question it answers well
# ("do I need an agent?") is rarely a request, and a wrong handoff costs the visitor a wait.
HANDOFF_ANSWERED = 0.85
# ...but less when the question is in another script or accented Latin, answered through the glossary's reading of
# a few words: that reading finds an entry for a deadline or a file to change as readily as for a question.
HANDOFF_READ = 0.75
# An emergency placed behind other chats costs more than several other chats moved ahead of it: a handoff the model
# gives this much `urgent` goes first whatever class it ranks above (held out, how it was chosen: docs/escalation.md).
URGENT_SHARE = 0.3
# The English rules' reading of a personal case hands over a message the model keeps only when the model gives the
# handoff classes this much: the rules read "refused" or "a gap" in a cousin's story or a general question too.
COMPLEX_RULES_BAR = 0.2
_TRAINED_FROM = ("corpus/source/**/*.yaml", "corpus/source/**/*.jsonl", "features.py", "train.py", "classifier.py",
                 "destinations.yaml", "glossary.yaml", "concepts.yaml", "topics.yaml")


def digest() -> str:
    """A hash of everything the model is trained from: a model with another hash is stale."""
    root, h = Path(__file__).parent, hashlib.sha256()
    for pattern in _TRAINED_FROM:
        for path in sorted(root.glob(pattern)):
            h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def vectorise(found: set[str], text: str, history: Iterable[Any], index: dict[str, int]) -> tuple[list[int], list[float]]:
    """The vocabulary indices of a message's known n-grams, in order (a set's order changes from run to run,
    and with it the rounding of sums), and its history features."""
    return sorted(index[g] for g in index.keys() & found), history_features(text, turns(history))


class Model:
    """Weights per n-gram and class, plus the history features' weights at the end.

    Two models side by side, their probabilities averaged: one reads every feature, the other only the
    words, word pairs, concepts and history, with no character n-grams. Held out by group, the pair hands over
    more of what it should, and less of what it should not, than either alone: character n-grams tie a
    message to the wordings of its own language in the corpus, which a new wording does not share."""

    def __init__(self, vocab: list[str], weights: np.ndarray, bias: np.ndarray) -> None:
        self.index = {g: i for i, g in enumerate(vocab)}
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.named = np.array([not characters(g) for g in vocab], dtype=bool)

    def probabilities(self, text: str, history: Iterable[Any] = ()) -> np.ndarray:
        """The probability of each of CLASSES. With nothing asked before, nothing can be asked again:
        "I asked you twice already" in a fresh chat is a complaint, so a repeat's share goes to frustration."""
        history = turns(history)
        idx, hist = vectorise(grams(text), text, history, self.index)
        score = self.bias + np.asarray(hist, dtype=np.float32) @ self.weights[-len(HISTORY):]
        if idx:
            n = len(CLASSES)
            total = self.weights[idx].sum(axis=0)  # the words-only model's weights on character n-grams are 0
            score[:n] += total[:n] / max(1.0, len(idx)) ** 0.5
            score[n:] += total[n:] / max(1.0, float(np.count_nonzero(self.named[idx]))) ** 0.5
        asked = any(t.sender == "visitor" and t.text.strip() for t in history)
        parts = [self._share(score[k:k + len(CLASSES)], asked) for k in range(0, len(score), len(CLASSES))]
        return sum(parts) / len(parts)

    @staticmethod
    def _share(score: np.ndarray, asked: bool) -> np.ndarray:
        score = np.exp(score - score.max())
        if not asked:
            score[CLASSES.index("frustration")] += score[CLASSES.index("repeat")]
            score[CLASSES.index("repeat")] = 0.0
        return score / score.sum()

    def judge(self, text: str, history: Iterable[Any] = (), threshold: float = HANDOFF,
              again: float | None = None) -> str | None:
        """The handoff reason the model reads in the message, or None when the bot should answer; `again` is
        the bar instead when the likeliest reason is a repeat."""
        return self.weigh(text, history, threshold, again)[0]

    def weigh(self, text: str, history: Iterable[Any] = (), threshold: float = HANDOFF,
              again: float | None = None) -> tuple[str | None, float]:
        """`judge`'s reason, and the share the model gives the handoff classes together."""
        p = self.probabilities(text, history)
        reason, share = reason_of(p), float(1.0 - p[0])
        return (None if share < (again if again is not None and reason == "repeat" else threshold) else reason), share


def reason_of(p: np.ndarray) -> str:
    """The handoff reason a message's class probabilities give: `urgent` from URGENT_SHARE, else the likeliest."""
    return "urgent" if p[CLASSES.index("urgent")] >= URGENT_SHARE else CLASSES[1 + int(np.argmax(p[1:]))]


_lock = threading.Lock()
_model: Model | None = None


def model() -> Model:
    """The committed model, loaded once per process."""
    global _model
    with _lock:
        if _model is None:
            with np.load(MODEL) as saved:
                vocab = saved["vocab"].tobytes().decode().split("\0")
                _model = Model(vocab, saved["weights"], saved["bias"])
    return _model
