"""What the handoff classifier reads in a message and its chat: n-grams in any script, emoji, history.

Every step is a single left-to-right pass over at most `LIMIT` characters, so the cost of a
message grows linearly with its length and is capped.
"""
from __future__ import annotations

import re
import unicodedata
from typing import Any, Iterable, NamedTuple

LIMIT = 2000  # the longest visitor message the chat accepts
WEAK = 0.45  # a bot answer below this confidence did not answer the question (the knowledge base's CONFIDENT)

# Letters and the combining marks that belong to them: Devanagari, Bengali, Arabic and Thai vowel
# signs are marks, and a plain \w would cut words apart at each of them.
_WORD = re.compile(
    r"[\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
    r"\u0900-\u0963\u0966-\u0dff\u0e00-\u0e7f\u1ab0-\u1aff\u1dc0-\u1dff\u3099\u309a]+"
    r"|[\u2600-\u27bf\U0001f000-\U0001faff]|[!?]{2,}"
)
# Scripts written without spaces: each character is read, and each pair of neighbours.
_UNSPACED = re.compile(r"([\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_LATIN_MARK = re.compile(r"(?<=[a-z])[\u0300-\u036f]+")
_SPACES = re.compile(r"\s+")
_FOLD = str.maketrans("ıđ", "id")  # Turkish dotless i and Vietnamese đ have no accent to drop


def normalise(text: str) -> str:
    """Case-folded, width-folded, Latin accents dropped ("está" reads as "esta"), capped at LIMIT."""
    folded = unicodedata.normalize("NFKD", text[:LIMIT].casefold().translate(_FOLD))
    return unicodedata.normalize("NFC", _LATIN_MARK.sub("", folded))


def words(text: str) -> list[str]:
    """Word tokens of normalised text; unspaced scripts give characters and character pairs."""
    out: list[str] = []
    for token in _WORD.findall(text):
        if token[0] in "!?":
            out.append(token[:2])
            continue
        for i, part in enumerate(_UNSPACED.split(token)):
            if i % 2 == 0:
                out.append(part)
            else:
                out.extend(part)
                out.extend(part[j:j + 2] for j in range(len(part) - 1))
    return [t for t in out if t]


def grams(text: str) -> set[str]:
    """The message's n-grams: words, word pairs, and 2-4 character grams with word edges marked."""
    norm = normalise(text)
    tokens = words(norm)
    found = {"w:" + t for t in tokens}
    found.update(f"b:{a} {b}" for a, b in zip(tokens, tokens[1:]))
    line = " " + _SPACES.sub(" ", " ".join(tokens)) + " "
    for n in (2, 3, 4):
        found.update(line[i:i + n] for i in range(len(line) - n + 1))
    if sum(c.isupper() for c in text[:LIMIT]) > 12 and text[:LIMIT].upper() == text[:LIMIT]:
        found.add("x:shout")
    return found


def trigrams(text: str) -> frozenset[str]:
    """Character trigrams of a message's words, to compare it with earlier ones."""
    line = " " + " ".join(words(normalise(text[:300]))) + " "
    return frozenset(line[i:i + 3] for i in range(len(line) - 2))


class Turn(NamedTuple):
    """One earlier message: who sent it, its text, and the bot's confidence when the bot sent it."""

    sender: str
    text: str
    confidence: float | None


def turns(history: Iterable[Any]) -> list[Turn]:
    """Earlier messages as the chat stores them (dicts) or as bare visitor strings; anything else is skipped."""
    out: list[Turn] = []
    for item in history or ():
        if isinstance(item, str):
            out.append(Turn("visitor", item, None))
        elif isinstance(item, dict):
            confidence = item.get("confidence")
            confidence = float(confidence) if isinstance(confidence, (int, float)) else None
            out.append(Turn(str(item.get("sender", "visitor")), str(item.get("text") or ""), confidence))
    return out


HISTORY = ("h:any", "h:same", "h:similar", "h:last_similar", "h:weak", "h:weak2")


def history_features(text: str, history: list[Turn]) -> list[float]:
    """How this message relates to the chat so far: asked before, and how the bot's answers went."""
    asked = [t.text for t in history if t.sender == "visitor" and t.text.strip()][-5:]
    answers = [t.confidence for t in history if t.sender == "bot" and t.confidence is not None]
    weak = [c < WEAK for c in answers[-2:]]
    now = trigrams(text)
    overlaps = [len(now & before) / len(now | before) if now | before else 0.0 for before in map(trigrams, asked)]
    best = max(overlaps, default=0.0)
    return [float(bool(asked)), float(best >= 0.6), best, overlaps[-1] if overlaps else 0.0,
            float(bool(weak) and weak[-1]), float(len(weak) == 2 and all(weak))]
