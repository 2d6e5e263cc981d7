"""Loading the shipped knowledge base and retrieving the best entry for a message."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml

from .text import COMMON, stem, terms, tokens

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
_ANSWER_WEIGHT = 0.3  # answer text helps recall but says less about what an entry is for
_K1, _B = 1.2, 0.75
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses the KB ~10x faster when present
# Confidence at or above which the bot answers outright, and below which an on-topic
# question is one the knowledge base simply does not cover.
CONFIDENT = 0.5
UNCOVERED = 0.2


# Destinations the knowledge base is laid out by; "any" marks an answer that holds for every country.
COUNTRIES = {
    "us": "United States", "uk": "United Kingdom", "ca": "Canada", "au": "Australia", "de": "Germany",
    "ie": "Ireland", "nz": "New Zealand", "nl": "Netherlands", "fr": "France",
}


@dataclass(frozen=True)
class Entry:
    """One knowledge-base answer, for one destination (or "any") and one topic."""

    id: str
    title: str
    answer: str
    skill: str
    questions: tuple[str, ...]
    keywords: tuple[str, ...]
    country: str = "any"
    topic: str = ""
    source: str = ""  # the official page the facts come from
    checked: str = ""  # YYYY-MM: when the facts were last checked against it


@dataclass(frozen=True)
class Match:
    """The best entry for a message and how much of the message it covers (0..1)."""

    entry: Entry | None
    confidence: float


class KnowledgeBase:
    """BM25 ranking over title, questions and keywords, with the answer as a light second field."""

    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries
        self._by_id = {e.id: e for e in entries}
        self.words: set[str] = set()  # every raw word the entries use, so typo matching skips them
        self._main: list[set[str]] = []
        self._answer: list[set[str]] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lengths = []
        for i, e in enumerate(entries):
            main = Counter(terms(" ".join((e.title, *e.questions, *e.keywords))))
            answer = Counter(terms(e.answer))
            self.words.update(tokens(" ".join((e.title, *e.questions, *e.keywords, e.answer))))
            self._main.append(set(main))
            self._answer.append(set(answer))
            for term in main.keys() | answer.keys():
                self._postings[term].append((i, main[term] + _ANSWER_WEIGHT * answer[term]))
            lengths.append(sum(main.values()) + _ANSWER_WEIGHT * sum(answer.values()))
        n = len(entries)
        self._avg_len = sum(lengths) / n
        self._lengths = lengths
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._postings.items()}
        # A word the knowledge base has never seen is likely specific, so it weighs like a rare term,
        # unless it is an everyday word that says little about the question.
        self.unknown_idf = math.log(1 + (n - 0.5) / 1.5)
        self._common = frozenset(stem(w) for w in COMMON)

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, if it is served."""
        return self._by_id.get(entry_id)

    def weight(self, term: str) -> float:
        """How much a term says about what a message is asking."""
        idf = self.idf.get(term)
        if idf is not None:
            return idf
        return 1.0 if term in self._common else self.unknown_idf

    def search(self, text: str) -> Match:
        """Best entry by BM25, with confidence = idf-weighted share of the message's terms it covers."""
        query = set(terms(text))
        scores: dict[int, float] = defaultdict(float)
        for term in query:
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i, tf in self._postings[term]:
                norm = _K1 * (1 - _B + _B * self._lengths[i] / self._avg_len)
                scores[i] += idf * tf * (_K1 + 1) / (tf + norm)
        if not scores:
            return Match(None, 0.0)
        best = max(scores, key=scores.__getitem__)
        total = sum(self.weight(t) for t in query)
        covered = sum(
            self.weight(t) * (1.0 if t in self._main[best] else 0.5 if t in self._answer[best] else 0.0)
            for t in query
        )
        return Match(self.entries[best], round(covered / total, 3))


def load_entries(directory: Path = KNOWLEDGE_DIR) -> list[Entry]:
    """Read every YAML/JSON file in the knowledge directory (JSON is valid YAML)."""
    entries = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in (".yaml", ".yml", ".json"):
            continue
        for raw in yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or []:
            entries.append(Entry(
                id=raw["id"], title=raw["title"], answer=" ".join(raw["answer"].split()),
                skill=raw.get("skill", "general"), questions=tuple(raw.get("questions", ())),
                keywords=tuple(str(k) for k in raw.get("keywords", ())),
                country=raw.get("country", "any"), topic=raw.get("topic", raw["id"]),
                source=raw.get("source", ""), checked=str(raw.get("checked", "")),
            ))
    return entries


_live: KnowledgeBase | None = None


def install(entries: list[Entry]) -> KnowledgeBase:
    """Serve these entries from now on; a reader holding the old index finishes with it unharmed."""
    global _live
    _live = KnowledgeBase(entries)
    return _live


def knowledge_base() -> KnowledgeBase:
    """The live knowledge base: the shipped YAML until the database's entries are installed."""
    return _live or install(load_entries())
