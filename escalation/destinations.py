"""Which destination, study level and topic name a message uses, read from destinations.yaml."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from .text import COMMON, STOPWORDS, deletions, flat

_FILE = Path(__file__).with_name("destinations.yaml")
OTHER = "other"  # a destination we hold no facts for
_BEFORE_PLACE = re.compile(r"\b(in|to|for|at|from|of|the)\s{2,}")  # left before a place name taken out
_SCAN = 6  # places a phrase may start at, beyond which one scan of the message is cheaper
_FUZZY_MIN = 6  # place names at least this long also match with one letter wrong ("Canda", "Germny")


class _Phrases:
    """Whole-word phrases, found by one regular expression. Most messages hold none of them, and the regex would
    try its alternation at every position of the message: it is tried only where a word that starts a phrase
    starts (a whole-word match begins there), so its cost grows with those words, not with the message."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.rx = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\b")
        starts = [re.match(r"\w+", w) for w in words]
        self.firsts = frozenset(m.group(0) for m in starts if m)
        self.odd = [w for w, m in zip(words, starts) if not m]  # phrases that begin with a sign: by substring

    def _starts(self, text: str) -> list[int] | None:
        """Where a phrase may start, or None when the whole message is to be scanned: a phrase that begins with
        a sign is found by substring, and a word that starts phrases many times over ("the visa the visa...")
        costs fewer steps in one scan than in a match at each place."""
        if any(w in text for w in self.odd):
            return None
        at = _positions(text)
        starts = [p for w in self.firsts.intersection(at) for p in at[w]]
        return sorted(starts) if len(starts) <= _SCAN else None

    def finditer(self, text: str):
        starts = self._starts(text)
        if starts is None:
            yield from self.rx.finditer(text)
            return
        end = 0
        for start in starts:
            if start >= end and (m := self.rx.match(text, start)):
                yield m
                end = m.end()

    def search(self, text: str) -> re.Match[str] | None:
        return next(self.finditer(text), None)

    def sub(self, repl: str, text: str) -> str:
        out, last = [], 0
        for m in self.finditer(text):
            out.append(text[last:m.start()] + repl)
            last = m.end()
        return "".join(out) + text[last:] if out else text


@lru_cache(maxsize=64)
def _positions(text: str) -> dict[str, list[int]]:
    """Where each of a message's words starts, read once for all the phrase lists it is checked against."""
    at: dict[str, list[int]] = {}
    for m in re.finditer(r"\w+", text):
        at.setdefault(m.group(), []).append(m.start())
    return at


def _pattern(aliases: list[str]) -> _Phrases | None:
    words = sorted({flat(str(a)) for a in aliases if flat(str(a))}, key=len, reverse=True)
    return _Phrases(words) if words else None


@dataclass(frozen=True)
class Hit:
    """A destination named in a message: its code, the words that named it, and where."""

    code: str
    words: str
    end: int
    place: bool = True  # named by a place (a country, city, university...) rather than by a visa term


_LIKE = (" like ", " like the ", " as in ", " same as ", " unlike ", " similar to ", " than ", " than in ", " than the ")
# where the visitor is, not where they would study ("an offer from Deakin" says where they would)
_FROM = tuple(f"{lead} from {the}" for lead in (" i m", " im", " i am", " we are", " we re", " originally", " i come",
                                               " applying") for the in ("", "the "))
_BOTH = frozenset({"and", "n", "&", "or", "aur", "ya", "y", "o", "et", "ou", "und", "oder", "e", "and also", "as well as",
                   "and in", "or in", "and the", "or the", "vs", "versus"})
# Lowercase "us" is the pronoun ("help us"), but the country before what a student asks about there ("us health
# insurance", "us unis"); capitalised "US" is the country already (`text.flat`).
_LOWER_US = re.compile(r"\bus (?=(visas?|unis?|universit\w*|colleges?|dorms?|health|tuition|embassy|consulate|masters|ms|mba"
                 r"|bachelors?|undergrad\w*|f1|f 1|opt|h1b|stem|campus\w*|public|private|state)\b)")


def _cue_at(cue, words: str) -> int | None:
    """Where a cue is named in the words, or None: a cue of several parts (a list) needs every part."""
    start = None
    for part in cue if isinstance(cue, list) else [cue]:
        m = part.search(words) if part else None
        if m is None:
            return None
        start = m.start() if start is None else min(start, m.start())
    return start


@lru_cache(maxsize=4096)
def _words(text: str) -> str:
    """The message's folded words, a lowercase "us" before what is asked about there read as the country."""
    return _LOWER_US.sub("usa ", flat(text))


class Destinations:
    """Recognisers for destinations and study levels, and the names of topics."""

    def __init__(self, data: dict) -> None:
        self.levels = {level: _pattern(words) for level, words in data.pop("levels").items()}
        self.origins: tuple[str, ...] = tuple(data.pop("origins", ()))
        self.topic_names: dict[str, str] = data.pop("topics")
        cues = data.pop("cues")
        # A cue is a phrase, or a list of word groups that must all appear ("visa" with "cost" in any order).
        self._cues = {topic: [_pattern([w for w in words if isinstance(w, str)])]
                      + [[_pattern(group) for group in w] for w in words if isinstance(w, list)]
                      for topic, words in cues.items()}
        self.cue_topics = frozenset(self._cues)
        self._narrower: dict[str, list[str]] = data.pop("narrower", {})
        self._official = {flat(name): flat(plain) for name, plain in data.pop("official", {}).items()}
        self.within: dict[str, str] = data.pop("within", {})
        self.there: dict[str, str] = data.pop("there", {})
        self.compared: frozenset[str] = frozenset(data.pop("compared", ()))
        self._outside = _pattern(data.pop("outside", []))
        self._studying = _pattern(data.pop("studying", []))
        self._unrelated = _pattern(data.pop("unrelated", []))
        self._words = frozenset(data.pop("words", ()))  # real words one letter from a place name
        tongues = data.pop("tongues", {})
        self._tongues = frozenset(tongues.get("names", ()))
        self._speaking_before = frozenset(tongues.get("before", ()))  # "speak spanish"
        self._speaking_after = frozenset(tongues.get("after", ()))  # "spanish speaking"
        self._place = {code: _pattern(v.get("place") or []) for code, v in data.items()}
        self._terms = {code: _pattern(v.get("terms") or []) for code, v in data.items()}
        self._all_places = _pattern([a for v in data.values() for a in v.get("place") or []])
        self._near: dict[str, tuple[str, str]] = {}  # one-letter-off forms of place names -> (code, name)
        for code, v in data.items():
            for name in map(flat, v.get("place") or []):
                # "us visa" one letter off is "is visa": a two-letter word is too short to be misspelt
                if len(name) >= _FUZZY_MIN and name.count(" ") <= 1 and min(map(len, name.split())) > 2:
                    for form in deletions(name.replace(" ", "")):
                        self._near.setdefault(form, (code, name))

    def _misspelt(self, words: str) -> list[Hit]:
        """Place names written with one letter wrong, as single words or pairs ("new zeland"). A pair stands
        only for a name of two words: "how long do" is not "london"."""
        found, looked = [], {}  # a word repeated is looked up once
        spans = [(m.group(0), m.end()) for m in re.finditer(r"[a-z]+", words)]
        for i, (word, end) in enumerate(spans):
            pair = (word + spans[i + 1][0], spans[i + 1][1], True) if i + 1 < len(spans) else ("", 0, True)
            for text, stop, two in ((word, end, False), pair):
                if (len(text) < _FUZZY_MIN - 1 or text in COMMON or text in STOPWORDS or text in self._words
                        or text in self._tongues):
                    continue
                if text not in looked:
                    # A letter left out of a name ("austrlia") before a letter changed ("austria"): one lookup.
                    looked[text] = self._near.get(text) or next(
                        (self._near[f] for f in sorted(deletions(text)) if f in self._near), None)
                near = looked[text]
                if near and (not two or " " in near[1]):
                    found.append(Hit(near[0], near[1], stop))
                    break
        return found

    @lru_cache(maxsize=256)
    def hits(self, text: str) -> tuple[Hit, ...]:
        """Every destination the message names, by place or by a visa term, in order.

        Read once per text: the answering side and the topic check both ask about the same message."""
        words = _words(text)
        found = [Hit(code, m.group(0), m.end(), table is self._place) for table in (self._place, self._terms)
                 for code, pattern in table.items() if pattern for m in pattern.finditer(words)
                 if not self._tongue(words, m)]
        return tuple(sorted(found or self._misspelt(words), key=lambda h: h.end))

    def _tongue(self, words: str, m: re.Match[str]) -> bool:
        """Whether a name that is also a language's ("spanish") names the language here ("speak spanish")."""
        if m.group(0) not in self._tongues:
            return False
        # the words either side, found from the match outwards so the cost does not grow with the message
        end = m.start() - 1
        before = words[words.rfind(" ", 0, end) + 1:end] if end > 0 else ""
        stop = words.find(" ", m.end() + 1)
        after = words[m.end() + 1:stop if stop >= 0 else len(words)]
        return before in self._speaking_before or after in self._speaking_after

    def country(self, text: str) -> Hit | None:
        """The destination asked about: a place named beats a visa term; then the most named, then the last.
        None for three or more destinations ("UK, Canada or Australia?"): a comparison asks about none of them."""
        found = self.hits(text)
        if not found or len({h.code for h in found} - {OTHER}) >= 3:
            return None
        words = _words(text)
        # "I'm from Brazil... a community college": where the visitor comes from is not where they would study, nor is
        # a country we do not cover after "from" ("processing time from the philippines")
        found = [h for h in found if not (h.place and f" {words[:h.end - len(h.words)]}".endswith(_FROM))
                 and not (h.code == OTHER and words[:h.end - len(h.words)].endswith(" from "))]
        if not found:
            return None
        places = [h for h in found if h.place]
        if not places and len({h.code for h in found}) > 1:
            return None  # visa terms of two destinations ("IND" and "study permit"): which one is a guess
        found = places or found
        in_order = sorted((h for h in found if h.code != OTHER), key=lambda h: h.end)
        if len({h.code for h in in_order}) == 2 and (
                words[in_order[0].end:in_order[-1].end - len(in_order[-1].words)].strip() in _BOTH):
            return None  # "unis in uk n aus both": asked of the two at once, the answer both share
        # "in germany... is it 20 hrs like uk?": a place named only to compare with is not the one asked about
        asked = [h for h in found if not words[:h.end - len(h.words)].endswith(_LIKE)]
        if not asked:
            return None  # "do they interview like the americans do?": the place asked about is said elsewhere
        found = asked
        counts: dict[str, int] = {}
        for hit in found:
            counts[hit.code] = counts.get(hit.code, 0) + 1
        ours = [h for h in found if h.code != OTHER] or found
        best = max(counts[h.code] for h in ours)
        return [h for h in ours if counts[h.code] == best][-1]

    def without_places(self, text: str) -> str:
        """The message with its place names taken out, so a country's name does not pull in a topic."""
        return self._all_places.sub(" ", flat(text)) if self._all_places else flat(text)

    def outside(self, text: str) -> bool:
        """Whether the message is about a journey other than studying (a tourist visa, a visit, a job) and not
        about the visitor's own studies too ("my wife on a visitor visa while I study"), or about something
        else a student abroad needs that we do not advise on (a driving licence)."""
        words = flat(text)
        if self._unrelated and self._unrelated.search(words):
            return True
        return bool(self._outside and self._outside.search(words)
                    and not (self._studying and self._studying.search(words)))

    def level(self, text: str) -> str | None:
        """The study level named: bachelor, master, phd or diploma."""
        words = flat(text)
        return next((level for level, p in self.levels.items() if p and p.search(words)), None)

    def unlevelled(self, text: str) -> str:
        """The message without the study levels it names: what else it asks."""
        words = flat(text)
        for p in self.levels.values():
            words = p.sub(" ", words) if p else words
        return words

    @lru_cache(maxsize=256)
    def cued(self, text: str) -> frozenset[str]:
        """Topics the message names by one of their cues; where a narrower topic is named ("visa fee"), its
        broader one ("student visa") is only context and is left out. Read once per text, as `hits`."""
        # "work in Australia while studying" names work while studying: place names are read through
        read_through = _BEFORE_PLACE.sub(" ", self.without_places(text))
        words = flat(text) + " | " + " ".join(read_through.split())
        for name, plain in self._official.items():
            words = words.replace(name, plain)
        found = {topic for topic, cues in self._cues.items() if any(_cue_at(c, words) is not None for c in cues)}
        return frozenset(found - {broad for broad, narrow in self._narrower.items() if found & set(narrow)})

    def first_named(self, text: str, topics: Iterable[str]) -> str | None:
        """Of these topics, the one whose cue comes first in the message."""
        words = flat(text)
        found = {}
        for topic in topics:
            starts = [a for a in (_cue_at(c, words) for c in self._cues.get(topic, ())) if a is not None]
            if starts:
                found[topic] = min(starts)
        return min(found, key=found.__getitem__) if found else None

    def topic_name(self, topic: str, fallback: str = "that") -> str:
        """How a reply names a topic."""
        return self.topic_names.get(topic, fallback)


@lru_cache(maxsize=1)
def destinations() -> Destinations:
    """The recognisers shipped in destinations.yaml."""
    return Destinations(yaml.safe_load(_FILE.read_text(encoding="utf-8")))
