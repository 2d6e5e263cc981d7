"""Which team should take a chat: US, UK, technical support or general counselling."""
from __future__ import annotations

import re

SKILLS = ("general", "us", "uk", "tech")

_US = re.compile(
    r"\b(usa|america|american|united states|f 1|f1|i 20|i20|sevis|ds 160|ds160|gre|gmat|opt|cpt|stem opt|h 1b|h1b"
    r"|fafsa|css profile|common app|ivy league|harvard|stanford|yale|princeton|columbia|berkeley|ucla|nyu|caltech"
    r"|cornell|upenn|duke|northwestern|purdue|carnegie mellon|georgia tech|community college|fulbright|uscis"
    r"|new york|california|texas|boston|state university|early decision|early action)\b"
    r"|\bus (universit\w*|colleges?|visa|embassy|consulate|schools?|degree|masters?|ms|mba|phd|students?|study"
    r"|education|tuition|fees|dollars)\b|\b(in|to|the) us$"
)
_US_CASED = re.compile(r"\bU\.S\.|\bUS\b|\bMIT\b|\bSAT\b|\bACT\b")
_UK = re.compile(
    r"\b(uk|u k|united kingdom|britain|british|england|scotland|scottish|wales|welsh|northern ireland|london"
    r"|cas|ucas|atas|ihs|brp|evisa|ukvi|graduate route|tier 4|chevening|commonwealth|russell group|oxford"
    r"|cambridge|oxbridge|imperial|lse|ucl|kcl|kings college|edinburgh|manchester|glasgow|bristol|warwick|leeds"
    r"|birmingham|nottingham|sheffield|durham|st andrews|southampton|exeter|a levels|ucat|nhs|home office|selt)\b"
)
_TECH = re.compile(
    r"\b(website|web site|site|webpage|login|log in|logging in|sign in|signin|password|portal|app|upload|uploading"
    r"|otp|verification code|browser|chat widget|payment page|payment portal|pay online|error|bug|glitch|404"
    r"|locked out|reset link|dashboard|account)\b"
)


_OURS = re.compile(r"\b(your|educonsult|educonsults)\b")


def guess_skill(flat: str, raw: str) -> str | None:
    """The team a message points to, or None when it names no country or system."""
    us = len(_US.findall(flat)) + len(_US_CASED.findall(raw))
    uk = len(_UK.findall(flat))
    tech = len(_TECH.findall(flat))
    # A login problem on UCAS is the UK team's; on our own portal it is technical support's.
    if tech and (tech > max(us, uk) or _OURS.search(flat)):
        return "tech"
    if us != uk:
        return "us" if us > uk else "uk"
    return "general" if us else None
