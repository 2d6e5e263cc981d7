"""What the handoff classifier reads in a message and its chat: n-grams in any script, emoji, history.

Every step is a single left-to-right pass over at most `LIMIT` characters, so the cost of a
message grows linearly with its length and is capped.
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, NamedTuple

import yaml

from .text import PROCLITICS

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
_EMOJI = re.compile(r"[\u2600-\u27bf\U0001f000-\U0001faff]")
_LATIN_MARK = re.compile(r"(?<=[a-z])[\u0300-\u036f]+")
# Arabic letters written several ways (hamza seats, taa marbuta, alif maqsura), and the short-vowel marks and
# tatweel that few visitors type: folded so "أريد" and "اريد" are one word.
_ARABIC = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ؤ": "و", "ئ": "ي", "ـ": None})
_ARABIC_MARK = re.compile("[\u064b-\u065f\u0670]+")
# Emoji of anger, annoyance or despair: an unseen one of them says the same as the ones in the corpus.
_CROSS = frozenset("😠😡🤬😤🙄😒🙃👎💢😑😩😫😞😔😢😭🤦😾")
_SPACES = re.compile(r"\s+")


# Letters only Vietnamese writes: in Vietnamese the tone marks tell words apart ("vẫn" still, "vấn" in
# "tư vấn" consult; "gặp" meet, "gấp" urgent), so a message holding one keeps its marks where words are weighed.
_VIETNAMESE = re.compile("[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịĩọỏốồổỗộớờởỡợụủũứừửữựỳỵỷỹ]")


def vietnamese(text: str) -> bool:
    """Whether a message is written in Vietnamese with its tone marks."""
    return bool(_VIETNAMESE.search(unicodedata.normalize("NFC", text[:LIMIT].casefold())))


@lru_cache(maxsize=64)
def normalise(text: str, marks: bool = False) -> str:
    """Case-folded, width-folded, Latin accents dropped ("está" reads as "esta"), capped at LIMIT.

    Turkish dotless i and Vietnamese đ have no accent to drop, so they are folded by hand; Arabic spelling
    variants and vowel marks are folded too. With `marks`, a Vietnamese message keeps its accents.
    """
    if marks and vietnamese(text):
        return unicodedata.normalize("NFKC", text[:LIMIT].casefold())
    folded = unicodedata.normalize("NFKD", text[:LIMIT].casefold().replace("ı", "i").replace("đ", "d"))
    folded = unicodedata.normalize("NFC", _LATIN_MARK.sub("", folded))
    return _ARABIC_MARK.sub("", folded.translate(_ARABIC)) if "\u0600" <= max(folded, default=" ") else folded


def _split(pieces: list[str]) -> list[str]:
    out: list[str] = []
    for token in pieces:
        if token[0] in "!?":
            out.append(token[:2])
            continue
        if token.isascii():  # no unspaced script in it
            out.append(token)
            continue
        for i, part in enumerate(_UNSPACED.split(token)):
            if i % 2 == 0:
                out.append(part)
            else:
                out.extend(part)
                out.extend(part[j:j + 2] for j in range(len(part) - 1))
    return [t for t in out if t]


def words(text: str) -> list[str]:
    """Word tokens of normalised text; unspaced scripts give characters and character pairs."""
    return _split(_WORD.findall(text))


HEAD, TAIL = 400, 200  # characters read for character n-grams at a long message's start and end
HEAD_WORDS, TAIL_WORDS = 120, 60  # words read at a long message's start and end


def grams(text: str) -> set[str]:
    """The message's n-grams: words, word pairs, and 2-4 character grams with word edges marked.

    A long message is read at its start and end only, which keeps the work per message bounded.
    """
    pieces = _WORD.findall(normalise(text, marks=True))
    if len(pieces) > HEAD_WORDS + TAIL_WORDS:
        pieces = pieces[:HEAD_WORDS] + pieces[-TAIL_WORDS:]
    tokens = _split(pieces)
    found = {"w:" + t for t in set(tokens)}
    found.update({f"b:{a} {b}" for a, b in set(zip(tokens, tokens[1:]))})
    line = " " + " ".join(pieces) + " "
    if len(line) > HEAD + TAIL:
        line = line[:HEAD] + " " + line[-TAIL:]
    for n in (2, 3, 4):
        found.update({line[i:i + n] for i in range(len(line) - n + 1)})
    found.update(concepts(line))
    if len(text) > 12 and text[:LIMIT].isupper():
        found.add("x:shout")
    # How long the message is, and whether it holds emoji at all: an emoji never seen in training still
    # says something, and "ok" or "agent" read differently from a sentence.
    found.add(f"x:len{len(tokens) if len(tokens) < 4 else 4 if len(tokens) < 8 else 8}")
    if _EMOJI.search(line):
        found.add("x:emoji")
        if _CROSS.intersection(line):
            found.add("x:cross")
            if all(_EMOJI.fullmatch(t) for t in tokens):
                # Annoyance with no words at all says nothing else: "😠" alone, unlike "so much rain 🙄 anyway..."
                found.add("x:cross_alone")
    return found


def word_line(text: str, marks: bool = False) -> str:
    """Normalised words between single spaces, with a space at both ends: the form that concept, topic and
    safety terms are matched in."""
    return " " + " ".join(_WORD.findall(normalise(text, marks))) + " "


def characters(gram: str) -> bool:
    """Whether an n-gram is a run of characters, rather than a word, word pair, concept or other named
    feature ("w:", "b:", "k:", "x:"): the text a character n-gram is cut from holds no colon."""
    return gram[1:2] != ":"


_CONCEPTS = Path(__file__).with_name("concepts.yaml")
_TOPICS = Path(__file__).with_name("topics.yaml")
_HANGUL = re.compile(r"[\uac00-\ud7af\u3130-\u318f]")
_HANGUL_ENDING = 4  # syllables of a Korean word read as a joined ending
_INDIC_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\u0900-\u09ff]")
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f]")


def _shortest_stem(term: str) -> int:
    """A term this long or longer also matches a longer word it starts; a shorter one only the whole word
    ("mon" is not "monde"). Hangul words carry their particles ("계정을"), so two syllables are enough."""
    if _VIETNAMESE.search(term):
        return LIMIT  # a Vietnamese syllable is a whole word: "tiến" is not "tiếng"
    return 2 if _HANGUL.match(term) else 3 if _INDIC_ARABIC.match(term) else 4


@lru_cache(maxsize=2)
def _concept_terms(path: Path = _CONCEPTS) -> tuple[dict[str, frozenset[str]], dict[str, list[tuple[str, frozenset[str]]]],
                               dict[str, tuple[int, ...]]]:
    """Single-word terms; phrases (folded words joined by spaces) by their first word; and per first
    character the lengths of the single-word terms starting with it."""
    single: dict[str, set[str]] = {}
    phrase: dict[str, set[str]] = {}
    for concept, languages in yaml.safe_load(path.read_text(encoding="utf-8")).items():
        for language, terms in languages.items():
            for term in str(terms).split(","):
                parts = _WORD.findall(normalise(term.strip()))
                if language == "vi":
                    # Written with its marks, a term matches messages that keep them; its bare form matches
                    # messages typed without marks, but only as a phrase: a bare syllable ("van", "toi") is
                    # many Vietnamese words and a word of other languages too.
                    marked = _WORD.findall(unicodedata.normalize("NFKC", term.strip().casefold()))
                    if marked != parts and marked:
                        (phrase if len(marked) > 1 else single).setdefault(" ".join(marked), set()).add(concept)
                    if len(parts) < 2 and marked != parts:
                        continue
                if parts:
                    (phrase if len(parts) > 1 else single).setdefault(" ".join(parts), set()).add(concept)
    lengths: dict[str, set[int]] = {}
    for term in single:
        lengths.setdefault(term[0], set()).add(len(term))
    by_first: dict[str, list[tuple[str, frozenset[str]]]] = {}
    for term, named in sorted(phrase.items()):
        by_first.setdefault(term.split()[0], []).append((f" {term} ", frozenset(named)))
    return ({t: frozenset(c) for t, c in single.items()}, by_first, {ch: tuple(sorted(n)) for ch, n in lengths.items()})


def concepts(line: str) -> set[str]:
    """The concepts of concepts.yaml a message's words name, in any language, and each pair of them."""
    # Pairs too: "my" with "change" is a personal case, "person" with "your office" a question about the firm.
    named = sorted(_named(line, _CONCEPTS))
    return {"k:" + c for c in named} | {f"k:{a}+{b}" for i, a in enumerate(named) for b in named[i + 1:]}


def _named(line: str, path: Path) -> set[str]:
    """The concepts of a file like concepts.yaml that a line of normalised words names.

    Bounded: per word a few dictionary look-ups at its start (and after an Arabic-script word's proclitic); in
    unspaced scripts at each character of the capped line; and a substring test, of whole words, for each
    phrase whose first word the message holds."""
    single, phrases, lengths = _concept_terms(path)
    found: set[str] = set()
    pieces = line.split()
    for piece in pieces:
        unspaced = bool(_UNSPACED.search(piece))
        if unspaced:
            starts: Iterable[int] = range(len(piece))
        elif _ARABIC_SCRIPT.match(piece):
            starts = [0, *(s for s in range(1, min(4, len(piece))) if piece[:s] in PROCLITICS)]
        else:
            starts = (0,)
        for s in starts:
            for n in lengths.get(piece[s], ()):
                term = piece[s:s + n]
                if len(term) < n:
                    break
                hit = single.get(term)
                if hit and (unspaced or s + n == len(piece) or n >= _shortest_stem(term)):
                    found.update(hit)
        if _HANGUL.match(piece):
            # a Korean ending is joined to its word ("필요하냐고요"): the word's last few syllables are tried too
            for s in range(max(1, len(piece) - _HANGUL_ENDING), len(piece) - 1):
                found.update(single.get(piece[s:], ()))
    for first in set(pieces) & phrases.keys():
        for term, hit in phrases[first]:
            if term in line:
                found.update(hit)
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
        if isinstance(item, Turn):
            out.append(item)
        elif isinstance(item, str):
            out.append(Turn("visitor", item, None))
        elif isinstance(item, dict):
            confidence = item.get("confidence")
            confidence = float(confidence) if isinstance(confidence, (int, float)) else None
            out.append(Turn(str(item.get("sender", "visitor")), str(item.get("text") or ""), confidence))
    return out


HISTORY = ("h:same", "h:similar", "h:last_similar", "h:similar_weak", "h:weak2", "h:new_topic", "h:same_topic",
           "h:reasked", "h:same_topic_weak")


# Names in Latin letters, in any language's message: capitalised after the first word, or written in capitals.
_NAME = re.compile(r"(?<=\S\s)[A-Z][\w-]+|\b[A-Z]{2,}[\w-]*")


def names(text: str) -> frozenset[str]:
    """The names a message uses (IELTS, Edinburgh, TOEFL), case-folded."""
    return frozenset(n.casefold() for n in _NAME.findall(text[:300]))


def _new_names(text: str, before: str) -> frozenset[str]:
    """Names this message uses that the earlier one lacks. A name whose start the earlier message already
    wrote is the same place in another form ("Canadian" after "Canada", "deutschen" after "Deutschland")."""
    new = names(text) - names(before)
    if not new:
        return new
    stems = {w[:5] for w in words(normalise(before[:300])) if len(w) >= 5}
    return frozenset(n for n in new if len(n) < 5 or normalise(n)[:5] not in stems)


@lru_cache(maxsize=1024)
def topics(text: str) -> frozenset[str]:
    """The study topics a message names (visa fee, intakes, housing...), read in English through the glossary
    and in every language through topics.yaml:
    two messages that share few characters can still ask the same thing, and two that share many, different ones."""
    from .destinations import destinations
    from .glossary import glossary

    text = text[:300]
    english = glossary().english(text)
    cued = destinations().cued(f"{english} {text}" if english else text)
    return cued | written_topics(text)


@lru_cache(maxsize=1024)
def written_topics(text: str) -> frozenset[str]:
    """The study topics a message names in its own words, in any language of topics.yaml."""
    return frozenset(_named(word_line(text[:300], marks=True), _TOPICS))


def _judged(question: str, reply: str) -> float | None:
    """A bot reply stored without its confidence (an imported transcript): an answer names a topic of the
    question or gives a figure; a reply that does neither ("Canada has great universities!") did not answer
    it. Of a question that names no topic, only an apology ("sorry, could you rephrase?") says so."""
    asked = topics(question)
    if asked & topics(reply) or any(c.isdigit() for c in reply):
        return 1.0
    if asked:
        return 0.0
    return 0.0 if {"k:sorry", "k:unanswered"} & concepts(word_line(reply)) else None


def reasked(text: str, history: list[Turn]) -> bool:
    """"My question was..." after a bot's reply says the reply missed, however few words the two share;
    beside thanks ("thanks, my question was answered") it says the opposite."""
    return (any(t.sender == "visitor" for t in history) and any(t.sender == "bot" for t in history)
            and _says_reasked(text))


@lru_cache(maxsize=64)
def _says_reasked(text: str) -> bool:
    # read once per message: by the model's history features and by the rule in `assess` after them
    named = concepts(word_line(text, marks=True))
    return "k:reasked" in named and "k:thanks" not in named


def history_features(text: str, history: list[Turn]) -> list[float]:
    """How this message relates to the chat so far: asked before, and how the bot's answers went.

    A weak answer alone says nothing about the next message: a new question after it is a new question.
    Only a message close to an earlier one reads as asked again, and more so when that went unanswered.
    """
    asked = [t.text for t in history if t.sender == "visitor" and len(words(normalise(t.text))) >= 3][-5:]
    # A bot reply counts as an answer only to a question of a few words: replies to "hi" or "thanks"
    # carry a low retrieval confidence too, but they are not failed answers.
    answers, last = [], ""
    for t in history:
        if t.sender == "visitor":
            last = t.text
        elif t.sender == "bot" and len(words(normalise(last))) >= 3:
            confidence = t.confidence if t.confidence is not None else _judged(last, t.text)
            if confidence is not None:
                answers.append(confidence)
    weak = [c < WEAK for c in answers[-2:]]
    now = trigrams(text)
    overlaps = [len(now & before) / len(now | before) if now | before else 0.0 for before in map(trigrams, asked)]
    best = max(overlaps, default=0.0)
    failed = bool(weak) and weak[-1]
    # The topics of this message and of the earlier one closest to it: the same topic is asked again, a
    # different one is the next question however many words they share.
    # A name the earlier one lacks ("and the TOEFL?", "what about Edinburgh?") makes it a follow-up too.
    closest = asked[overlaps.index(best)] if asked else ""
    here, there = (topics(text), topics(closest)) if asked else (frozenset(), frozenset())
    renamed = bool(_new_names(text, closest))
    return [float(best >= 0.6), best, overlaps[-1] if overlaps else 0.0, best if failed else 0.0,
            float(len(weak) == 2 and all(weak)), float(bool(here) and bool(there) and not here & there),
            float(bool(here & there) and not renamed), float(reasked(text, history)),
            float(bool(here & there) and not renamed and failed)]
