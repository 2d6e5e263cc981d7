"""Office hours such as "mon-fri 09:00-18:00, sat 10:00-14:00", read in a time zone."""
from __future__ import annotations

import re
from datetime import datetime, time, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import get_day_names, get_timezone, get_timezone_location
from babel.lists import format_list

from i18n import FOLDERS, translate

DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ENTRY = re.compile(r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")
Window = tuple[frozenset[int], time, time | None]  # weekdays, opening, closing (None: midnight)


def _clock(text: str, spec: str) -> time | None:
    hours, minutes = (int(part) for part in text.split(":"))
    if (hours, minutes) == (24, 0):
        return None
    if hours > 23 or minutes > 59:
        raise ValueError(f"office hours: {text!r} is not a time of day in {spec!r}")
    return time(hours, minutes)


@lru_cache(maxsize=16)
def parse(spec: str) -> tuple[Window, ...]:
    """The opening windows; an empty spec has none and means always open; bad input raises ValueError."""
    windows = []
    for entry in filter(None, (part.strip().lower() for part in spec.split(","))):
        match = _ENTRY.match(entry)
        if not match or match["first"] not in DAYS or (match["last"] and match["last"] not in DAYS):
            raise ValueError(f"office hours: cannot read {entry!r}; write e.g. 'mon-fri 09:00-18:00, sat 10:00-14:00'")
        first = DAYS.index(match["first"])
        last = DAYS.index(match["last"]) if match["last"] else first
        days = frozenset((first + i) % 7 for i in range((last - first) % 7 + 1))
        start, end = _clock(match["start"], spec), _clock(match["end"], spec)
        if start is None or (end is not None and end <= start):
            raise ValueError(f"office hours: {entry!r} must close after it opens, on the same day")
        windows.append((days, start, end))
    return tuple(windows)


def is_open(spec: str, zone: str = "UTC", at: datetime | None = None) -> bool:
    """Whether the team is in: always with an empty spec; `at` is naive UTC, as in the database."""
    windows = parse(spec)
    if not windows:
        return True
    moment = (at or datetime.now(timezone.utc).replace(tzinfo=None)).replace(tzinfo=timezone.utc)
    local = moment.astimezone(ZoneInfo(zone))
    clock = local.time().replace(tzinfo=None)
    return any(local.weekday() in days and start <= clock and (end is None or clock < end)
               for days, start, end in windows)


def _hhmm(clock: time | None) -> str:
    return "24:00" if clock is None else f"{clock.hour}:{clock.minute:02d}"


def describe(spec: str, zone: str = "UTC", at: datetime | None = None, language: str = "en") -> str:
    """The hours in the visitor's words, with the time there now: "We're open Monday–Friday 9:00–18:00 London
    time; it's 20:14 there now." Empty for an empty spec (always open)."""
    windows = parse(spec)
    if not windows:
        return ""
    where = FOLDERS.get(language, language)
    days = get_day_names("wide", locale=where)
    parts = []
    for open_days, start, end in windows:
        first = next(d for d in open_days if (d - 1) % 7 not in open_days) if len(open_days) < 7 else 0
        last = (first + len(open_days) - 1) % 7
        named = days[first] if first == last else f"{days[first]}–{days[last]}"
        parts.append(f"{named} {_hhmm(start)}–{_hhmm(end)}")
    moment = (at or datetime.now(timezone.utc).replace(tzinfo=None)).replace(tzinfo=timezone.utc)
    local = moment.astimezone(ZoneInfo(zone))
    place = get_timezone_location(get_timezone(zone), locale=where, return_city=True)
    return translate(language, "We're open %(hours)s %(place)s time; it's %(time)s there now.",
                     hours=format_list(parts, locale=where), place=place, time=f"{local.hour}:{local.minute:02d}")
