"""EduConsult's bot: answer from the knowledge base, or hand the chat to a counsellor."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from .classifier import HANDOFF, HANDOFF_ANSWERED, model
from .knowledge_base import CONFIDENT, COUNTRIES, UNCOVERED, knowledge_base
from .language import chat_language
from .repetition import repeated, split_history
from .routing import SKILLS, guess_skill
from .smalltalk import LANGUAGE_REPLY, OFF_TOPIC_REPLY, UNCLEAR_REPLY, smalltalk_reply
from .topic import foreign, off_topic, on_topic
from .safety import advice, emergency
from .triggers import Message, english_rules

__all__ = ["assess", "Decision", "SKILLS", "REASONS", "COUNTRIES"]

REASONS = ("requested", "frustration", "repeat", "complex", "urgent", "fallback", "low_confidence")

HANDOFF_REPLIES = {
    "requested": "Of course. I'm connecting you with a counsellor now; someone will join this chat shortly.",
    "urgent": "That sounds time-sensitive, so I'm connecting you with a counsellor right away.",
    "complex": "This needs a counsellor to look at your situation personally. I'll connect you with one now.",
    "frustration": "I'm sorry I haven't been more helpful. I'm connecting you with a counsellor who can sort this out.",
    "repeat": "Sorry I couldn't answer that properly. I'll connect you with a counsellor who can help with this.",
    "fallback": ("That's a good question, and I'd rather a counsellor answer it properly. "
                 "I'll connect you with one now."),
    "low_confidence": ("I'm not sure I have the right answer for that, so I'll connect you with a counsellor "
                       "who can help."),
}
_HEDGE = ("I'm not completely sure this is what you're asking, but here's what I can tell you: {answer} "
          "If that doesn't cover it, just say so and I'll connect you with a counsellor.")


@dataclass(frozen=True)
class Decision:
    """What the bot does with one visitor message."""

    handoff: bool
    reason: str | None
    reply: str
    confidence: float
    skill: str
    topic: str | None = None  # the id of the knowledge-base entry the reply comes from
    choices: tuple[str, ...] = ()  # destinations (COUNTRIES keys) offered as buttons under the reply
    language: str = "en"  # the visitor's language, as detected from this message and the chat


def assess(text: str, history: Iterable[Any] = ()) -> Decision:
    """Decide whether the bot answers `text` or hands the chat to a counsellor, and which team takes it."""
    msg = Message(text or "")
    visitor, answers = split_history(history)
    kb = knowledge_base()
    match = kb.search(msg.raw)
    entry = match.entry if match.confidence >= CONFIDENT else None
    skill = guess_skill(msg.flat, msg.raw) or (entry.skill if entry else None)
    if skill is None:
        skill = next(filter(None, (guess_skill(Message(t).flat, t) for t in reversed(visitor))), "general")
    topic = entry.id if entry else None
    language = chat_language(msg.raw, visitor)

    def handoff(reason: str, reply: str | None = None) -> Decision:
        return Decision(True, reason, reply or HANDOFF_REPLIES[reason], match.confidence, skill, topic,
                        language=language)

    def keep(reply: str, topic: str | None = topic) -> Decision:
        return Decision(False, None, reply, match.confidence, skill, topic, language=language)

    kind = emergency(msg.raw)
    if kind:
        return handoff("urgent", advice(kind, language))
    reason = model().judge(msg.raw, history, HANDOFF_ANSWERED if entry else HANDOFF)
    if reason:
        return handoff(reason)
    if not msg.tokens:
        return keep(UNCLEAR_REPLY, None)
    reason = english_rules(msg.raw)
    if reason:
        return handoff(reason)
    small = smalltalk_reply(msg.tokens, msg.flat)
    if small:
        return keep(small, None)
    if repeated(msg.flat, msg.raw, visitor, answers, kb):
        return handoff("repeat")
    if entry:
        return keep(entry.answer)
    if not on_topic(msg.raw):
        reply = LANGUAGE_REPLY if foreign(msg.tokens) else OFF_TOPIC_REPLY if off_topic(msg.flat) else UNCLEAR_REPLY
        return keep(reply, None)
    if match.confidence < UNCOVERED:
        return handoff("fallback")
    if answers and answers[-1] < CONFIDENT:
        return handoff("low_confidence")
    return keep(_HEDGE.format(answer=match.entry.answer), match.entry.id)
