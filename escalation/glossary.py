"""Reading a question written in another language through the study-abroad words it uses (glossary.yaml)."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

from .text import fold

_FILE = Path(__file__).with_name("glossary.yaml")
_MARKS = re.compile("[\u0640\u064b-\u065f\u0670]")  # Arabic vowel signs, hamza marks and tatweel: often left out


def _norm(text: str) -> str:
    return " ".join(_MARKS.sub("", fold(text)).split())


class Glossary:
    """Foreign study-abroad words and phrases, longest first, each with its English words."""

    def __init__(self, data: dict[str, dict[str, str]]) -> None:
        self._english = {_norm(k): str(v) for words in data.values() for k, v in words.items()}
        # Latin-script words match whole; scripts written without spaces (Chinese) or with clitics (Arabic)
        # match anywhere.
        parts = [re.escape(k) if not k.isascii() else r"(?<![a-z0-9])" + re.escape(k) + r"(?![a-z0-9])"
                 for k in sorted(self._english, key=len, reverse=True)]
        self._pattern = re.compile("|".join(parts))

    def english(self, text: str) -> str | None:
        """The English words for the glossary words a message uses, or None when it uses none."""
        found = [self._english[m.group(0)] for m in self._pattern.finditer(_norm(text))]
        return " ".join(found) or None


@lru_cache(maxsize=1)
def glossary() -> Glossary:
    """The glossary shipped in glossary.yaml."""
    return Glossary(yaml.safe_load(_FILE.read_text(encoding="utf-8")))
