"""Whether a message is a study-abroad question at all, as opposed to chatter or another language."""
from __future__ import annotations

import re

from .destinations import destinations
from .text import FOREIGN_STOPWORDS, STOPWORDS, terms, tokens

# Words that make a message a study-abroad question even when the knowledge base has no answer for it.
_DOMAIN = frozenset(terms("""
study studying student students abroad university college course degree bachelor master phd mba diploma
visa permit ielts toefl pte duolingo gre gmat sat tuition fees scholarship admission apply application
intake deadline sop lor transcripts cas i20 atas ucas accommodation insurance opt pgwp oshc ihs sevis
enrol enrolment offer campus semester loan dependant consultation counsellor educonsult graduate
undergraduate postgraduate exam
"""))
_OFF_TOPIC = re.compile(
    r"\b(weather|joke|jokes|funny|football|soccer|cricket|basketball|nba|ipl|movie|movies|film|song|songs|music"
    r"|recipe|bitcoin|crypto|stocks?|dating"
    r"|homework|calculus|algebra|trigonometry|equations?|integrate|integration|integral|derivatives?|solve this"
    r"|(python|java|javascript|c|c\+\+|sql) (code|error|errors|program|programs|assignment|homework|bug)|debug"
    r"|fix (this|my) (code|error|bug)|bubble sort"
    r"|(index|key|type|value|attribute|name|syntax|runtime|import|zerodivision|nullpointer|module)(error|exception)"
    r"|horoscope|zodiac|president|election|politics|celebrity|poem|riddle|capital of|meaning of life"
    r"|time is it|marry me|love you|sing|temperatures?|how (cold|hot|warm|rainy|snowy|sunny))\b"
)


def off_topic(flat: str) -> bool:
    """Chatter that has nothing to do with studying abroad."""
    return bool(_OFF_TOPIC.search(flat))


def foreign(words: list[str]) -> bool:
    """Mostly another language's function words (Hinglish aside): the English knowledge base cannot judge it."""
    # "non-EU" is English for students from outside the EU, though "non" and "eu" are also French and Portuguese
    words = " ".join(words).replace("non eu", "non_eu").split()
    count = sum(t in FOREIGN_STOPWORDS and t not in STOPWORDS for t in words)
    return count >= 2 and count > sum(t in STOPWORDS for t in words)


def on_topic(text: str) -> bool:
    """An English study-abroad question, the kind the knowledge base is judged on."""
    words = tokens(text)
    asks = bool(set(terms(text)) & _DOMAIN) or destinations().country(text) is not None
    return asks and not off_topic(" ".join(words)) and not foreign(words)
