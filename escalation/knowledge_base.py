"""Loading the shipped knowledge base and retrieving the best entry for a message."""
from __future__ import annotations

import calendar
import hashlib
import json
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from .destinations import destinations
from .glossary import glossary
from .text import COMMON, deletions, stem, terms, tokens

KNOWLEDGE_DIR = Path(__file__).with_name("knowledge")
_ANSWER_WEIGHT = 0.3  # answer text helps recall but says less about what an entry is for
_K1, _B = 1.2, 0.75
_OWN_COUNTRY = 2.0  # the asked country's entry beats another's of a neighbouring topic that scores a little higher
_OURS = 1.2  # EduConsult's own entries, for a message addressed to "you"
_POOL, _POOLED = 0.5, 3  # weight and number of a topic's other entries that add to its best entry's score
_NEAR = 0.9  # a general topic the message names, this close to the top, goes first (below)
_CUED = 1.3  # a topic the message names by one of its cue phrases (destinations.yaml)
_LEVELS = frozenset(terms("master bachelor undergraduate postgraduate"))  # who studies, not what is asked
_TYPO_MIN = 5  # terms at least this long are matched with one letter wrong ("procesing", "requirments")
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses the KB ~10x faster when present
CALIBRATION = Path(__file__).with_name("calibration.json")
LABELLED = Path(__file__).with_name("corpus") / "answers"
UNSEEN = LABELLED / "unseen"  # batches written apart and only ever scored: never learned from, fitted on or tuned by
TEST_SHARE = 4  # groups in ten whose labelled questions are held out: never indexed, never fitted on
# The estimated probability of being right at or above which the bot answers; below it, it asks or
# offers a counsellor. Fitted with the calibration on the labelled set's dev split.
CONFIDENT = float(json.loads(CALIBRATION.read_text(encoding="utf-8"))["line"])


# Destinations the knowledge base is laid out by; "any" marks an answer that holds for every country.
COUNTRIES = {
    "us": "United States", "uk": "United Kingdom", "ca": "Canada", "au": "Australia", "de": "Germany",
    "ie": "Ireland", "nz": "New Zealand", "nl": "Netherlands", "fr": "France",
}
OURS = "educonsult-"  # the id prefix of entries about EduConsult itself
# Topics whose answer differs by destination: asked without one, the bot asks which.
DESTINATION_TOPICS = (
    "student-visa", "visa-fee", "visa-processing", "visa-interview", "dependants", "work-while-studying",
    "post-study-work", "tuition", "living-costs", "proof-of-funds", "scholarships", "english-tests", "intakes",
    "health-insurance", "accommodation", "credential-evaluation",
)


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


    def as_of(self) -> str:
        """ "(as of November 2026)" from `checked`, or nothing when the month is unknown."""
        try:
            year, month = (int(part) for part in self.checked.split("-")[:2])
            return f"(as of {calendar.month_name[month]} {year})"
        except (ValueError, IndexError):
            return ""


@dataclass(frozen=True)
class Ranked:
    """A topic's best-scoring entry for a message, with the features confidence is estimated from."""

    topic: str
    entry: Entry
    score: float  # BM25 of the best entry of this topic
    coverage: float  # idf-weighted share of the message's terms the top topic's entry covers (0..1); 0 for the rest
    anywhere: float = 0.0  # the topic's general entry's score over its best entry's (0..1); 0 without one


class KnowledgeBase:
    """BM25 ranking over title, questions and keywords, with the answer as a light second field.

    Place names are left out of the index and the query: where a question is about decides which
    entries may be served, not which topic it is.
    """

    def __init__(self, entries: list[Entry], learned: Mapping[str, Sequence[str]] | None = None) -> None:
        self.entries = entries
        self._by_id = {e.id: e for e in entries}
        self.by_topic: dict[str, dict[str, Entry]] = defaultdict(dict)  # topic -> country -> entry
        for e in entries:
            self.by_topic[e.topic][e.country] = e
        places = destinations().without_places
        self.words: set[str] = set()  # every raw word the entries use, so typo matching skips them
        self._written: set[str] = set()  # terms of the entries themselves, as against only of learned questions
        self._main: list[set[str]] = []
        self._answer: list[set[str]] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        lengths = []
        for i, e in enumerate(entries):
            main = Counter(terms(places(" ".join((e.title, *e.questions, *e.keywords, *(learned or {}).get(e.id, ()))))))
            answer = Counter(terms(places(e.answer)))
            self.words.update(tokens(" ".join((e.title, *e.questions, *e.keywords, e.answer))))
            self._written.update(terms(places(" ".join((e.title, *e.questions, *e.keywords)))), answer)
            self._main.append(set(main))
            self._answer.append(set(answer))
            for term in main.keys() | answer.keys():
                self._postings[term].append((i, main[term] + _ANSWER_WEIGHT * answer[term]))
            lengths.append(sum(main.values()) + _ANSWER_WEIGHT * sum(answer.values()))
        n = len(entries)
        self._avg_len = sum(lengths) / n
        self._norms = [_K1 * (1 - _B + _B * length / self._avg_len) for length in lengths]  # BM25's length term
        self.idf = {t: math.log(1 + (n - len(p) + 0.5) / (len(p) + 0.5)) for t, p in self._postings.items()}
        # A word the knowledge base has never seen is likely specific, so it weighs like a rare term,
        # unless it is an everyday word that says little about the question.
        self.unknown_idf = math.log(1 + (n - 0.5) / 1.5)
        self._common = frozenset(stem(w) for w in COMMON)
        self._origins = frozenset(t for w in destinations().origins for t in terms(w))  # who asks, not what
        self._near: dict[str, str] = {}  # one-letter-off forms of indexed terms -> the most common such term
        for term in sorted(self.idf, key=self.idf.__getitem__):
            if len(term) >= _TYPO_MIN and term.isalpha():
                for form in deletions(term):
                    self._near.setdefault(form, term)
        # a question is read for its terms several times while it is answered (whether it asks, its ranking,
        # its confidence)
        self.query = lru_cache(maxsize=64)(self._query)

    def get(self, entry_id: str) -> Entry | None:
        """The entry with this id, if it is served."""
        return self._by_id.get(entry_id)

    def weight(self, term: str) -> float:
        """How much a term says about what a message is asking."""
        idf = self.idf.get(term)
        if idf is not None:
            return idf
        return 1.0 if term in self._common else self.unknown_idf

    def _query(self, text: str) -> frozenset[str]:
        """The terms of a message that say what it asks, its place names left out and typos mended."""
        found = set()
        for term in terms(destinations().without_places(text)):
            found.add(self._mended(term))
            if len(self._postings.get(term, ())) == 1 and term not in self._written and term not in self._common:
                # a word only one learned question uses is likely that visitor's typo ("helth"): it also
                # stands for the common term it is one letter from (a word an entry is written with is no typo)
                found.add(self._mended(term, rare=True))
        return frozenset(found - _LEVELS - self._origins or found)

    def _mended(self, term: str, rare: bool = False) -> str:
        if (term in self.idf and not rare) or len(term) < _TYPO_MIN or not term.isalpha() or term in self._common:
            return term
        near = (self._near[f] for f in sorted(deletions(term)) if f in self._near and self._near[f] != term)
        return next((t for t in near if not rare or len(self._postings[t]) > 1), term)

    def rank(self, text: str, country: str | None = None, ours: bool = False) -> list[Ranked]:
        """Topics by their best entry's BM25 score for the message, best first; the country asked about weighs
        more, and so do EduConsult's own entries when the message is about `ours`.

        Every destination's sample questions help recognise a topic, so a topic is found even where the
        country asked about holds no entry for it (and the bot then says so).
        """
        query = sorted(self.query(text))  # a fixed order, so ties break the same way in every process
        scores: dict[int, float] = defaultdict(float)
        for term in query:
            idf = self.idf.get(term)
            if idf is None:
                continue
            for i, tf in self._postings[term]:
                scores[i] += idf * tf * (_K1 + 1) / (tf + self._norms[i])
        for i in scores:
            if self.entries[i].country == country:
                scores[i] *= _OWN_COUNTRY
            elif ours and self.entries[i].id.startswith(OURS):
                scores[i] *= _OURS
        best: dict[str, int] = {}
        pooled: dict[str, list[float]] = defaultdict(list)
        anywhere: dict[str, float] = {}
        for i in sorted(scores, key=scores.__getitem__, reverse=True):
            topic = self.entries[i].topic
            best.setdefault(topic, i)
            pooled[topic].append(scores[i])
            if self.entries[i].country == "any":
                anywhere.setdefault(topic, scores[i] / scores[best[topic]])
        # A topic many destinations' questions agree on beats one entry's lucky words.
        cued = destinations().cued(text)
        # A topic only one entry answers (the DAAD, PTE scores) has no others to agree with it: its one entry
        # is all its evidence, and counts as the whole pool.
        topic_score = {t: (s[0] + _POOL * (sum(s[1:1 + _POOLED]) / _POOLED if len(self.by_topic[t]) > 1 else s[0]))
                       * (_CUED if t in cued else 1.0) for t, s in pooled.items()}
        total = sum(self.weight(t) for t in query) or 1.0

        def coverage(i: int) -> float:
            return round(sum(self.weight(t) * (1.0 if t in self._main[i] else 0.5 if t in self._answer[i] else 0.0)
                             for t in query) / total, 3)

        order = sorted(best, key=topic_score.__getitem__, reverse=True)
        if (len(order) > 1 and order[1] in cued and order[0] not in cued and set(self.by_topic[order[1]]) == {"any"}
                and topic_score[order[1]] >= _NEAR * topic_score[order[0]]):
            # a general topic the message names ("is Duolingo accepted in the UK?") against the destination's
            # broader entry, lifted only by the country's weight
            order[:2] = order[1::-1]
        return [Ranked(t, self.entries[best[t]], topic_score[t], coverage(best[t]) if n == 0 else 0.0,
                       round(anywhere.get(t, 0.0), 3))
                for n, t in enumerate(order)]


def split(group: str) -> str:
    """"test" or "dev" for a labelled question's group, the same in every run, so paraphrases stay together."""
    return "test" if int(hashlib.sha256(group.encode()).hexdigest(), 16) % 10 < TEST_SHARE else "dev"


def load_labelled(directory: Path = LABELLED) -> list[dict]:
    """Every labelled visitor question, with the file (destination or set) it comes from."""
    rows = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "set": path.stem})
    return rows


def learned_questions(rows: list[dict] | None = None) -> dict[str, list[str]]:
    """Dev questions labelled with an entry and asked on their own: more ways visitors ask for it, in their
    words (typos, slang, Hinglish). Held-out questions are never among them; nor are questions in other
    languages, which are read through the glossary instead."""
    out: dict[str, list[str]] = defaultdict(list)
    for row in load_labelled() if rows is None else rows:
        if (split(row["group"]) == "dev" and not row.get("history") and row["expect"] not in ("clarify", "none")
                and glossary().english(row["text"]) is None):
            out[row["expect"]].append(row["text"])
    return dict(out)


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


def install(entries: list[Entry], learned: Mapping[str, Sequence[str]] | None = None) -> KnowledgeBase:
    """Serve these entries from now on, recognised also by the labelled dev questions (or `learned`); a reader
    holding the old index finishes with it unharmed."""
    global _live
    _live = KnowledgeBase(entries, learned_questions() if learned is None else learned)
    return _live


def knowledge_base() -> KnowledgeBase:
    """The live knowledge base: the shipped YAML until the database's entries are installed."""
    return _live or install(load_entries())
