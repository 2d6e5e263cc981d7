"""The visitor's language: gettext catalogs under locale/, negotiation, and the translate calls pages and the bot use.

Catalogs are compiled `.mo` files kept beside their `.po` (a test fails when one is stale). After changing
a sentence for visitors:

    pybabel extract -F babel.cfg -k translate:2 -o locale/messages.pot .
    pybabel update -i locale/messages.pot -d locale && pybabel compile -d locale
"""
from __future__ import annotations

import ast
import gettext
import io
import re
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, available_timezones

from markupsafe import Markup

from escalation.language import INTERFACE, RIGHT_TO_LEFT

LOCALE_DIR = Path(__file__).parent / "locale"
# The catalog folder of each interface language, where it differs from the code.
FOLDERS = {"zh": "zh_Hans"}
# What the page's `lang` attribute says.
TAGS = {"zh": "zh-Hans"}
# Each interface language in its own words, for the visitor's language menu.
NATIVE = {"en": "English", "es": "Español", "fr": "Français", "pt": "Português", "de": "Deutsch",
          "hi": "हिन्दी", "zh": "简体中文", "ar": "العربية", "vi": "Tiếng Việt", "tr": "Türkçe"}
# Every language a chat can be in or an agent can speak, in English, for the agents' pages.
NAMES = {"en": "English", "es": "Spanish", "fr": "French", "pt": "Portuguese", "de": "German", "hi": "Hindi",
         "zh": "Chinese", "ar": "Arabic", "vi": "Vietnamese", "tr": "Turkish", "ru": "Russian", "ko": "Korean",
         "ja": "Japanese", "id": "Indonesian", "it": "Italian", "bn": "Bengali", "ur": "Urdu", "fa": "Persian",
         "th": "Thai", "nl": "Dutch", "pl": "Polish", "ta": "Tamil", "ms": "Malay"}


@lru_cache(maxsize=None)
def catalog(language: str) -> gettext.NullTranslations:
    """The compiled catalog of an interface language; for any other, the English sentences as they are."""
    if language not in INTERFACE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / FOLDERS.get(language, language) / "LC_MESSAGES" / "messages.mo"
    with path.open("rb") as file:
        return gettext.GNUTranslations(file)


def interface(code: str | None) -> str | None:
    """The code if pages and the bot speak it, else None."""
    return code if code in INTERFACE else None


def translated(language: str, message: str) -> str | None:
    """The message in that language, or None where the catalog lacks it.

    A sentence the bot filled in from a template ("Which country are you asking about: {names}?") is
    found by its template, and its translation filled in with the same values.
    """
    messages = getattr(catalog(language), "_catalog", {})
    found = messages.get(message)
    if found is not None or "{" in message:
        return found
    for template, pattern in _templates(language):
        match = pattern.match(message)
        if match:
            return messages[template].format(**{k: _named(messages, v) for k, v in match.groupdict().items()})
    return None


def _named(messages: dict, value: str) -> str:
    """A value filled into a bot's sentence, translated where it is a destination's name or a list of them
    ("the United States, Canada or France"); anything else, such as a topic's name, stays as it is."""
    from escalation.answers import COUNTRY_NAMES, LIST_SEPARATOR_TEXT, OR_TEXT
    head, joined, last = value.rpartition(OR_TEXT)
    names = [*head.split(LIST_SEPARATOR_TEXT), last] if joined else [value]
    if not all(n in COUNTRY_NAMES.values() and n in messages for n in names):
        return value
    names = [messages[n] for n in names]
    head = messages.get(LIST_SEPARATOR_TEXT, LIST_SEPARATOR_TEXT).join(names[:-1])
    return head + messages.get(OR_TEXT, OR_TEXT) + names[-1] if head else names[0]


@lru_cache(maxsize=None)
def _templates(language: str) -> list[tuple[str, re.Pattern]]:
    """The catalog's str.format templates, each with a pattern that matches the sentences it fills in."""
    found = []
    for template in getattr(catalog(language), "_catalog", {}):
        parts = re.split(r"\{(\w+)\}", template) if isinstance(template, str) else [template]
        if len(parts) == 1:
            continue
        seen: set[str] = set()
        regex = ""
        for i, part in enumerate(parts):
            if i % 2 == 0:
                regex += re.escape(part)
            else:
                regex += f"(?P={part})" if part in seen else f"(?P<{part}>.+?)"
                seen.add(part)
        found.append((template, re.compile(regex + r"\Z", re.S)))
    return found


def translate(language: str | None, message: str, **variables) -> str:
    """Plain text in the language (English where it has no catalog), `%(name)s` filled in from the variables."""
    text = catalog(language or "en").gettext(message)
    return text % variables if variables else text


def negotiate(accept_language: str | None) -> str | None:
    """The interface language an Accept-Language header prefers most, or None when it names none of them."""
    ranked = []
    for position, part in enumerate((accept_language or "")[:500].split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        code = tag.strip().split("-")[0].lower()
        if code in INTERFACE and weight > 0:
            ranked.append((-weight, position, code))
    return min(ranked)[2] if ranked else None


def time_zone(value) -> str | None:
    """The browser's IANA time zone as the visitor page sends it, or None for anything else."""
    value = str(value or "").strip()
    return value if value in _zones() else None


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def load() -> None:
    """What a visitor's first message would otherwise load on the event loop: the time zones (~8 ms, a walk
    of the zone files) and each catalog's sentence patterns."""
    _zones()
    for language in INTERFACE:
        _templates(language)


def country_guess(zone: str | None, accept_language: str | None) -> str | None:
    """Where the visitor probably is, in English: the country of their time zone, else the region of the first
    Accept-Language tag that has one ("en-GB"). A guess: devices travel and tags follow habit."""
    from babel.core import Locale, get_global
    code = get_global("zone_territories").get(zone) if zone else None
    if not code:
        for part in (accept_language or "")[:200].split(",")[:10]:
            tag = part.split(";")[0].strip().replace("_", "-").split("-")
            if len(tag) > 1 and len(tag[-1]) == 2 and tag[-1].isalpha():
                code = tag[-1].upper()
                break
    return Locale("en").territories.get(code) if code else None


def local_time(zone: str | None, at: datetime | None = None) -> str | None:
    """The time now (or at `at`, naive UTC) in that zone, as "14:05 (Europe/London)"."""
    if not zone:
        return None
    moment = (at or datetime.now(timezone.utc).replace(tzinfo=None)).replace(tzinfo=timezone.utc)
    return f"{moment.astimezone(ZoneInfo(zone)):%H:%M, %a} ({zone})"


def direction(language: str) -> str:
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


@lru_cache(maxsize=None)
def template_context(language: str) -> dict:
    """What a page in that language needs: Jinja's gettext callables, and its lang and dir attributes.

    A translation is text, never markup: it is escaped before the template's own values (escaped unless
    the template marked them safe) are put in, so no catalog can add a tag to a page.
    """
    translations = catalog(language)

    def text(message: str, **variables) -> Markup:
        return Markup.escape(translations.gettext(message)) % variables

    def plural(singular: str, plural_form: str, n: int, **variables) -> Markup:
        return Markup.escape(translations.ngettext(singular, plural_form, n)) % {"num": n, **variables}

    return {"gettext": text, "_": text, "ngettext": plural, "language": language,
            "language_tag": TAGS.get(language, language), "direction": direction(language)}


def extract(fileobj, keywords, comment_tags, options):
    """Babel extractor for Python: translate() calls, and the sentences visitors see that modules keep as
    module-level constants (named *_TEXT or *_REPLY, or the values of a *_REPLIES or *_NAMES dict), which are
    translated when stored. A constant may be built from other string constants with +."""
    from babel.messages.extract import extract_python
    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    known: dict[str, str] = {}

    def text(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return known.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = text(node.left), text(node.right)
            return left + right if left is not None and right is not None else None
        return None

    for node in ast.parse(source).body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        name, value = node.targets[0].id, node.value
        if text(value) is not None:
            known[name] = text(value)
        values = value.values if name.endswith(("_REPLIES", "_NAMES")) and isinstance(value, ast.Dict) else \
            [value] if name.endswith(("_TEXT", "_REPLY")) else []
        for each in values:
            if text(each) is not None:
                yield each.lineno, None, text(each), []
