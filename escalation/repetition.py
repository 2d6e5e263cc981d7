"""Reading the chat history: earlier visitor messages and how sure the bot's answers were."""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

from .destinations import destinations
from .knowledge_base import CONFIDENT, KnowledgeBase
from .text import terms
from .topic import on_topic

# Words that name *which* thing is asked about: a new one makes a follow-up, not a repeat
# ("What about Cambridge?" after asking about Oxford).
_ENTITIES = frozenset(terms("""
uk usa canada australia germany ireland netherlands newzealand india china nigeria pakistan nepal
london scotland wales toronto vancouver sydney melbourne dublin berlin munich amsterdam auckland
oxford cambridge harvard stanford yale princeton columbia berkeley ucla nyu mit imperial lse ucl
edinburgh manchester monash tum toronto mcgill
ielts toefl pte duolingo gre gmat sat act f1 j1 h1b i20 cas atas coe opt pgwp 485 subclass500
bachelor master phd mba undergraduate postgraduate diploma foundation
chevening fulbright daad commonwealth erasmus great holland australia-awards
january february march april may june july august september october november december
fall spring summer winter autumn
engineering medicine nursing law business computer data science psychology
"""))
_ASKED_AGAIN = re.compile(
    r"^(no|nope|nah|not really|wrong)\b( \w+){0,3} (not it|not what|i meant|i mean|i asked|i was asking|thats not"
    r"|that is not|not that|not my question|you misunderstood|misunderstood)"
    r"|^(?P<again>again|once again|once more|repeat|repeating|one more time)\b|^(no |nope |sorry )?i (meant|mean)\b"
    r"|^(i was asking|i was talking about|im asking|i am asking)\b"
    r"|\b(im|i am|iam) asking( you)? (about|for|if|whether|do|does|is|are|can|will|should|what|how|when|where|which)\b"
    r"|^(no|nope|nah|not that|wrong)\b( \w+){0,2} (i wanted|i want to know|i wanted to know|i need to know"
    r"|what i wanted)\b"
    r"|\b(still )?(dont|do not|didnt|did not|havent|have not) (know|have|get|got|understand) (the |an |my )?answer\b"
    r"|\bi (already|just) asked\b|\b(asking|ask|asked) (you )?(again|twice|before)\b|\bsame question\b"
    r"|\bmy question (was|is)\b|\bas i (said|asked)\b"
    r"|\bi (asked|was asking|am asking|m asking)( you)? (about|for|what|how|when|where|which|if|whether|why|who)\b"
    r"|\b(still )?(didnt|did not|havent|have not) (get|got) (an? )?answer\b"
)
_SIMILAR = 0.45
_SIMILAR_AFTER_WEAK = 0.35
_LOOKBACK = 5


def split_history(history: Iterable[Any]) -> tuple[list[str], list[float]]:
    """Visitor texts, and the confidence of each bot answer to a study question, oldest first.

    Replies to greetings or chatter carry a low retrieval confidence too, but they are not
    failed answers, so only answers to on-topic questions are kept.
    """
    visitor: list[str] = []
    answers: list[float] = []
    for item in history or ():
        if isinstance(item, str):
            visitor.append(item)
        elif isinstance(item, dict):
            sender = item.get("sender", "visitor")
            confidence = item.get("confidence")
            if sender == "visitor":
                visitor.append(str(item.get("text") or ""))
            elif sender == "bot" and isinstance(confidence, (int, float)) and visitor and on_topic(visitor[-1]):
                answers.append(float(confidence))
    return visitor, answers


def _similarity(a: set[str], b: set[str], kb: KnowledgeBase) -> float:
    """Cosine of idf-weighted term sets, names weighing little: sharing "Oxford" is not asking the same thing."""
    if not a or not b:
        return 0.0

    def weight(t: str) -> float:
        return 1.0 if t in _ENTITIES else kb.weight(t)

    dot = sum(weight(t) ** 2 for t in a & b)
    return dot / math.sqrt(sum(weight(t) ** 2 for t in a) * sum(weight(t) ** 2 for t in b))


def _names(words: set[str], kb: KnowledgeBase) -> set[str]:
    """Terms that pick out a specific thing: known entities and words the knowledge base lacks."""
    return {t for t in words if t in _ENTITIES or (t not in kb.idf and not t.isdigit())}


def _place_alone(text: str) -> bool:
    """Whether a message names a destination and, its places taken out, at most one word more ("same for the
    Netherlands?", "what about the UK?")."""
    places = destinations()
    return places.country(text) is not None and len(terms(places.without_places(text))) <= 1


def repeated(flat: str, text: str, visitor: list[str], answers: list[float], kb: KnowledgeBase,
             anew: bool = False) -> bool:
    """Asked again in other words, or told the bot it missed. A new question after weak answers is a new
    question: the answering side says when it cannot answer that one either; and a question it answers with
    what it has not said before (`anew`) is a follow-up, however like an earlier one it reads."""
    recent = [t for t in visitor[-_LOOKBACK:] if terms(t)]
    if recent and (said := _ASKED_AGAIN.search(flat)):
        # "same question for Dublin" asks it again about a place not asked about yet: a follow-up; "again, ..."
        # says it is asked again wherever it names
        places = destinations()
        here = places.country(text)
        if here is None or said.group("again") or here.code in {
                hit.code for hit in map(places.country, recent) if hit}:
            return True
    current = set(terms(text))
    if not current or anew:
        return False
    # a word the knowledge base does not know that the visitor writes in every message (a name, a ticket
    # number's prefix) says nothing of what is asked
    if len(recent) >= 2:
        everywhere = set.intersection(*(set(terms(t)) for t in recent))
        current -= {t for t in everywhere if t not in kb.idf and t not in _ENTITIES}
    # After a weak answer, a looser likeness counts: the visitor is rewording what went unanswered.
    bar = _SIMILAR_AFTER_WEAK if answers and answers[-1] < CONFIDENT else _SIMILAR
    if _names(current, kb) == current or _place_alone(text):
        # A place or test alone ("and for Ireland?") asks the question just before about it: said again after
        # another question, it asks that one, so only the message just before can make it a repeat.
        recent = recent[-1:]
    for earlier in recent:
        before = set(terms(earlier))
        if _similarity(current, before, kb) >= bar and not _names(current, kb) - _names(before, kb):
            return True
    return False
