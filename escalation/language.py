"""Which language a visitor writes in: lingua's own models, shipped inside its wheel, no download."""
from __future__ import annotations

import threading
from functools import lru_cache
from typing import NamedTuple

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

from .text import HINGLISH, tokens

# Languages the visitor page and the bot's own sentences are translated into.
INTERFACE = ("en", "es", "fr", "pt", "de", "hi", "zh", "ar", "vi", "tr")
# Languages told apart: the interface's, plus others visitors write that would otherwise be mistaken for one.
DETECTED = INTERFACE + ("ru", "ko", "ja", "id", "it", "bn", "ur", "fa", "th", "nl", "pl", "ta", "ms")
RIGHT_TO_LEFT = frozenset({"ar", "fa", "ur", "he"})

_lock = threading.Lock()
_detector = None


def _built():
    global _detector
    with _lock:
        if _detector is None:
            languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in DETECTED]
            # Low-accuracy mode keeps memory near 35 MB (the full models take over 400 MB) and is
            # as good on messages of a sentence or more.
            _detector = LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode().build()
    return _detector


class Reading(NamedTuple):
    """What lingua reads in one text."""

    language: str | None  # its likeliest language, None when too short or mixed to tell
    sure: bool  # lingua gives that language at least SURE: enough to switch a chat's language


SURE = 0.9
_READ = 200  # characters read: enough to tell a language, and lingua's cost grows with the text
_TOLD = 0.4  # below this share of the confidence the text is too mixed or short to name a language


@lru_cache(maxsize=512)
def read(text: str) -> Reading:
    """The text's language, read once: a chat's earlier messages are read again on every turn, from the cache.

    Greetings, names and two-word messages ("thanks", "visa for Canada") are too short to be sure of.
    """
    values = _built().compute_language_confidence_values(text[:_READ]) if text.strip() else []
    if not values or values[0].value < _TOLD:
        return Reading(None, False)
    return Reading(values[0].language.iso_code_639_1.name.lower(), values[0].value >= SURE)


def detect_sure(text: str) -> str | None:
    """The text's language when lingua is sure of it, else None.

    In Latin letters two words are too few to switch a chat's language on: lingua is as sure of a keyboard mash
    ("asdkjh qweoiu") as of "merci beaucoup". Hindi written in Latin letters ("visa ki fees kitni hai") reads as
    English to lingua, so it switches nothing either."""
    found = read(text)
    if not found.sure:
        return None
    latin = [w for w in tokens(text) if w.isascii()]
    if latin and text.isascii() and (len(latin) < 3 or sum(w in HINGLISH for w in latin) >= 2):
        return None
    return found.language


def chat_language(text: str, earlier: list[str]) -> str:
    """The language of this message, else of the latest earlier message that tells, else English.

    A word or two ("ok", "thanks") is too short to tell, so a chat keeps the language it had.
    """
    for candidate in [text, *reversed(earlier[-5:])]:
        if len(candidate.strip()) >= 8 or (candidate.strip() and not candidate.isascii()):
            found = read(candidate).language
            if found:
                return found
    return "en"
