"""The safety floor: self-harm, detention, violence, medical emergencies and a lost passport before travel
go to a counsellor as urgent, whatever the model says, with first advice in the visitor's language."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from .features import word_line

DATA = Path(__file__).with_name("safety.yaml")


def _term(term: str) -> str:
    """A term in matching form; its leading and trailing spaces, which anchor it to word edges, are kept."""
    core = word_line(term).strip()
    return (" " if term[:1] == " " else "") + core + (" " if term[-1:] == " " else "")


@lru_cache(maxsize=1)
def _data() -> tuple[dict[str, list[list[tuple[tuple[str, frozenset[str]], ...]]]], dict[str, dict[str, str]],
                    tuple[str, ...], dict[str, tuple[str, ...]]]:
    raw = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    rules = {kind: [[tuple((_term(t), frozenset(_term(t))) for t in group) for group in rule] for rule in kind_rules]
             for kind, kind_rules in raw["rules"].items()}
    past = {key: tuple(_term(t) for t in terms) for key, terms in raw["past"].items()}
    return rules, raw["advice"], tuple(_term(f) for f in raw.get("figures", ())), past


def emergency(text: str) -> str | None:
    """The kind of emergency the message reports, or None.

    Each term is a substring test over a line of at most LIMIT characters: the cost is linear in the
    message's length times the number of terms, with no backtracking.
    """
    line = word_line(text)
    for figure in _data()[2]:
        line = line.replace(figure, " ")
    chars = frozenset(line)  # a term with a character the message lacks is skipped without a search
    past = _data()[3]
    for kind, rules in _data()[0].items():
        if any(all(any(letters <= chars and t in line for t, letters in group) for group in rule) for rule in rules):
            if kind in past["kinds"] and all(any(t in line for t in past[key]) for key in ("who", "when")) \
                    and not any(t in line for t in past["now"]):
                continue  # someone else's, and over
            return kind
    return None


def advice(kind: str, language: str) -> str:
    """What to do right now, in the visitor's language when we hold it, else in English."""
    texts = _data()[1]
    return texts.get(language, texts["en"])[kind]
