"""Office hours: reading the setting and telling open from closed in the team's time zone."""
from dataclasses import replace
from datetime import datetime

import pytest

import office_hours
from app import create_app

HOURS = "mon-fri 09:00-18:00, sat 10:00-14:00"


@pytest.mark.parametrize("at, open_", [
    (datetime(2026, 11, 23, 9, 0), True),     # Monday 09:00
    (datetime(2026, 11, 23, 8, 59), False),
    (datetime(2026, 11, 27, 17, 59), True),   # Friday
    (datetime(2026, 11, 27, 18, 0), False),
    (datetime(2026, 11, 28, 12, 0), True),    # Saturday
    (datetime(2026, 11, 28, 15, 0), False),
    (datetime(2026, 11, 29, 12, 0), False),   # Sunday
])
def test_open_within_the_windows_only(at, open_):
    assert office_hours.is_open(HOURS, "UTC", at) is open_


@pytest.mark.parametrize("zone, utc_hour, open_", [("Asia/Kolkata", 4, True), ("Asia/Kolkata", 13, False),
                                                   ("America/New_York", 15, True), ("America/New_York", 23, False)])
def test_hours_are_read_in_the_team_time_zone(zone, utc_hour, open_):
    assert office_hours.is_open("mon-fri 09:00-18:00", zone, datetime(2026, 11, 24, utc_hour, 0)) is open_


@pytest.mark.parametrize("spec", ["", "  "])
def test_empty_means_always_open(spec):
    assert office_hours.is_open(spec, "UTC", datetime(2026, 11, 29, 3, 0))


def test_until_midnight_and_ranges_across_the_week_end():
    assert office_hours.is_open("fri-mon 20:00-24:00", "UTC", datetime(2026, 11, 29, 23, 59))  # Sunday
    assert not office_hours.is_open("fri-mon 20:00-24:00", "UTC", datetime(2026, 11, 25, 21, 0))  # Wednesday


@pytest.mark.parametrize("spec", ["mon-fri 9-18", "monday 09:00-18:00", "mon 18:00-09:00", "mon 09:00-25:00",
                                  "mon 09:00"])
def test_unreadable_hours_stop_the_start(settings, spec):
    with pytest.raises(ValueError, match="office hours"):
        office_hours.parse(spec)
    with pytest.raises(ValueError):
        create_app(replace(settings, office_hours=spec))


@pytest.mark.parametrize("spec, zone, language, words", [
    ("mon-fri 09:00-18:00", "Europe/London", "en",
     "We're open Monday–Friday 9:00–18:00 London time; it's 20:14 there now."),
    ("mon-fri 09:00-18:00, sat 10:00-14:00", "America/New_York", "en",
     "We're open Monday–Friday 9:00–18:00 and Saturday 10:00–14:00 New York time; it's 15:14 there now."),
    ("fri-mon 20:00-24:00", "UTC", "en", "We're open Friday–Monday 20:00–24:00 UTC time; it's 20:14 there now."),
    ("mon-fri 09:00-18:00, sat 10:00-14:00", "Europe/London", "fr",
     "Nous sommes ouverts lundi–vendredi 9:00–18:00 et samedi 10:00–14:00, heure de Londres ; il est 20:14 là-bas."),
    ("", "UTC", "en", ""),
])
def test_hours_in_words_with_the_time_there(spec, zone, language, words):
    assert office_hours.describe(spec, zone, datetime(2026, 12, 3, 20, 14), language) == words
