"""Reading a question written in another language through the study-abroad words it uses (glossary.yaml)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from .text import PROCLITICS, fold

_FILE = Path(__file__).with_name("glossary.yaml")
# Arabic vowel signs, hamza marks and tatweel, and the Devanagari nukta ("वीज़ा", "वीजा"): often left out
_MARKS = re.compile("[\u0640\u064b-\u065f\u0670\u093c]")
# Scripts written with spaces between words: a key there starts a word, so "сша" (USA) is not read inside
# "высшая" (higher); Chinese and Japanese have no spaces, and Arabic joins "and", "for", "the" to the word.
_SPACED = re.compile("[\u0400-\u04ff\u0900-\u097f\uac00-\ud7af]")
# Arabic script joins only a few short words to the front of the next ("and", "the", "for"): a key there starts
# a word or follows one of them, so "كم" (how much) is not read inside "لديكم" (you have).
_CLITIC = re.compile("[\u0600-\u06ff\u0750-\u077f]")
_WORD = re.compile(r"[a-z0-9]+")
_STEM = 4  # letters a word keeps without its ending: shorter stems are other words


def _starts_word(norm: str, at: int, spaced: bool, clitic: bool) -> bool:
    """Whether a key found at `at` starts a word there, as its script needs: anywhere in Chinese, at a word's start
    in spaced scripts, and in Arabic script at a word's start or after a proclitic."""
    if spaced:
        return not (at and norm[at - 1].isalnum())
    if not clitic:
        return True
    start = at
    while start and norm[start - 1].isalnum() and at - start < 4:
        start -= 1
    return start == at or norm[start:at] in PROCLITICS and not (start and norm[start - 1].isalnum())


def _norm(text: str) -> str:
    return " ".join(_MARKS.sub("", fold(text)).split())


class Glossary:
    """Foreign study-abroad words and phrases, each with its English words."""

    def __init__(self, data: dict[str, dict[str, str]]) -> None:
        data = dict(data)
        # Case endings of languages that join them to the word ("ingilterede", in England): a word the glossary
        # lacks is looked up without one, longest first
        self._endings = frozenset(data.pop("endings", ()))
        self._longest = max(map(len, self._endings), default=0)
        english = {_norm(k): str(v) for words in data.values() for k, v in words.items()}
        # Latin-script phrases are looked up word by word; scripts written without spaces (Chinese) or with
        # clitics (Arabic) are found anywhere in the text, longest first.
        self._words = {k: v for k, v in english.items() if k.isascii()}
        # Most words start no phrase: one look-up each. One that does is tried at its phrases' lengths only,
        # longest first.
        lengths: dict[str, set[int]] = {}
        for k in self._words:
            lengths.setdefault(k.split()[0], set()).add(k.count(" ") + 1)
        self._first = {first: sorted(ns, reverse=True) for first, ns in lengths.items()}
        # By first character, so a message is searched only for the phrases that can start in it
        self._other: dict[str, list[tuple[int, str, str, bool, bool]]] = {}
        phrases = sorted(((k, v) for k, v in english.items() if not k.isascii()), key=lambda kv: -len(kv[0]))
        for rank, (k, v) in enumerate(phrases):
            self._other.setdefault(k[0], []).append((rank, k, v, bool(_SPACED.match(k)), bool(_CLITIC.match(k))))

    def english(self, text: str) -> str | None:
        """The English words for the glossary words a message uses, or None when it uses none."""
        return self.read(text)[0]

    def read(self, text: str) -> tuple[str | None, frozenset[str]]:
        """The English words for the glossary words a message uses (None when it uses none), and the message's
        own Latin-script words they stand for ("unis" of "États-Unis"), which are then not English words too.

        Linear in the message's length: a few dictionary look-ups per word, and a substring scan per phrase
        that starts with one of its characters."""
        norm = _norm(text)
        found: list[tuple[int, str]] = []
        used: set[str] = set()
        starts, words = [], []
        for m in _WORD.finditer(norm):
            starts.append(m.start())
            words.append(m.group())
        i = 0
        while i < len(words):
            word = words[i]
            if word not in self._first:
                # the longest ending first: a few look-ups per word, whatever the number of endings
                stem = next((word[:k] for k in range(max(_STEM, len(word) - self._longest), len(word))
                             if word[k:] in self._endings and word[:k] in self._words), None)
                if stem:
                    found.append((starts[i], self._words[stem]))
                    used.add(word)
                    i += 1
                    continue
            for n in self._first.get(words[i], ()):
                hit = self._words.get(" ".join(words[i:i + n])) if i + n <= len(words) else None
                if hit:
                    found.append((starts[i], hit))
                    used.update(words[i:i + n])
                    i += n
                    break
            else:
                i += 1
        if not norm.isascii():
            taken = bytearray(len(norm))  # characters a longer phrase has already matched
            for _, key, value, spaced, clitic in sorted(p for c in set(norm) for p in self._other.get(c, ())):
                at = norm.find(key)
                while at >= 0:
                    if not any(taken[at:at + len(key)]) and _starts_word(norm, at, spaced, clitic):
                        found.append((at, value))
                        taken[at:at + len(key)] = b"\1" * len(key)
                    at = norm.find(key, at + len(key))
        return " ".join(v for _, v in sorted(found)) or None, frozenset(used)


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    """The glossary shipped in glossary.yaml."""
    return Glossary(yaml.safe_load(_FILE.read_text(encoding="utf-8")))
