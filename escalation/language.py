"""Which language a visitor writes in: lingua's own models, shipped inside its wheel, no download."""
from __future__ import annotations

import threading

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

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
            # as good on messages of a sentence or more; the relative distance turns a near tie into None.
            _detector = (LanguageDetectorBuilder.from_languages(*languages).with_low_accuracy_mode()
                         .with_minimum_relative_distance(0.1).build())
    return _detector


def detect(text: str) -> str | None:
    """The ISO 639-1 code of the text's language, or None when the text is too short or mixed to tell."""
    found = _built().detect_language_of(text[:400])
    return found.iso_code_639_1.name.lower() if found else None


def chat_language(text: str, earlier: list[str]) -> str:
    """The language of this message, else of the latest earlier message that tells, else English.

    A word or two ("ok", "thanks") is too short to tell, so a chat keeps the language it had.
    """
    for candidate in [text, *reversed(earlier[-5:])]:
        if len(candidate.strip()) >= 8 or (candidate.strip() and not candidate.isascii()):
            found = detect(candidate)
            if found:
                return found
    return "en"


def detect_sure(text: str, minimum: float = 0.9) -> str | None:
    """The text's language when lingua is at least `minimum` sure of it; greetings, names and two-word
    messages ("thanks", "visa for Canada") are too short to tell and give None."""
    values = _built().compute_language_confidence_values(text[:400])
    return values[0].language.iso_code_639_1.name.lower() if values and values[0].value >= minimum else None
