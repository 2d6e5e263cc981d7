"""EduConsult's bot: answer from the knowledge base, or hand the chat to a counsellor."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable

from .answers import NOW_SUFFIX, OFFER, PERSONAL_SUFFIX, answer, main_ask
from .classifier import COMPLEX_RULES_BAR, HANDOFF, HANDOFF_ANSWERED, HANDOFF_READ, model
from .knowledge_base import COUNTRIES, OURS, knowledge_base
from .features import normalise, reasked, turns, words
from .language import chat_language, detect_sure
from .repetition import repeated, split_history
from .routing import SKILLS, guess_skill
from .smalltalk import (IDENTITY_REPLY, LANGUAGE_REPLY, OFF_TOPIC_REPLY, UNCLEAR_REPLY, accepts, asks_identity,
                         smalltalk_reply)
from .topic import foreign, off_topic, on_topic
from .safety import advice, emergency
from .text import flat
from .triggers import Message, aside_then_question, english_rules, grave, next_step_asked, own_refusal, profile_only

__all__ = ["assess", "Decision", "SKILLS", "REASONS", "COUNTRIES"]

REASONS = ("requested", "frustration", "repeat", "complex", "urgent", "fallback", "low_confidence")

HANDOFF_REPLIES = {
    "requested": "Of course. I'm connecting you with a counsellor now.",  # the status says who is online
    "urgent": "That sounds time-sensitive, so I'm connecting you with a counsellor right away.",
    "complex": "This needs a counsellor to look at your situation personally. I'll connect you with one now.",
    "frustration": "I'm sorry I haven't been more helpful. I'm connecting you with a counsellor who can sort this out.",
    "repeat": "Sorry I couldn't answer that properly. I'll connect you with a counsellor who can help with this.",
    "fallback": ("That's a good question, and I'd rather a counsellor answer it properly. "
                 "I'll connect you with one now."),
    "low_confidence": ("I'm not sure I have the right answer for that, so I'll connect you with a counsellor "
                       "who can help."),
}
_TEAMS = {"us": "us", "uk": "uk"}  # destinations with their own counsellor team
# The decision reads a long message by its start and end (the safety floor reads all of it), the chat's
# latest turns, and of an earlier visitor message its start: a request, a repeat or a language shows there,
# and the cost of a turn stays bounded however long the chat or its messages.
ENDS, TURNS, EARLIER = 200, 6, 120
SURE_URGENT = 0.98


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
    spoken: str | None = None  # this message's own language, when the detector is sure of it
    offers: bool = False  # the reply offers a counsellor: a "yes" to it next hands the chat over


def _offered(history: Iterable[Any]) -> bool:
    """Whether the bot's last message offered to connect the visitor with a counsellor: marked so when it
    was stored, in whatever language it was shown; a history without marks has the English sentence."""
    last = [h for h in history or () if isinstance(h, dict) and h.get("sender") == "bot"][-1:]
    return bool(last) and (bool(last[0].get("offer")) or OFFER in str(last[0].get("text") or ""))


def _recent(history: Iterable[Any]) -> list[Any]:
    """The latest TURNS turns, each earlier visitor message cut to its first EARLIER characters."""
    out: list[Any] = []
    for item in list(history or ())[-TURNS:]:
        if isinstance(item, str):
            out.append(item[:EARLIER])
        elif isinstance(item, dict) and item.get("sender", "visitor") == "visitor":
            out.append({**item, "text": str(item.get("text") or "")[:EARLIER]})
        else:
            out.append(item)
    return out


def _small_talk(tokens: list[str], msg: Message) -> str | None:
    """The reply to a greeting, thanks or goodbye, or to a question about who is answering; else None."""
    return smalltalk_reply(tokens, msg.flat) or (IDENTITY_REPLY if asks_identity(msg.raw) else None)


def assess(text: str, history: Iterable[Any] = ()) -> Decision:
    """Decide whether the bot answers `text` or hands the chat to a counsellor, and which team takes it."""
    text = text or ""
    msg = Message(text if len(text) <= 2 * ENDS else f"{text[:ENDS]} {text[-ENDS:]}")
    history = _recent(history)
    visitor, answers = split_history(history)
    found = answer(msg.raw, history)
    team = found.entry.skill if found.entry and found.entry.skill != "general" else _TEAMS.get(found.country or "")
    skill = guess_skill(msg.flat, msg.raw) or team
    if skill is None:
        skill = next(filter(None, (guess_skill(Message(t).flat, t) for t in reversed(visitor))), "general")
    language, spoken = chat_language(msg.raw, visitor), detect_sure(msg.raw)  # one read per text, cached

    def handoff(reason: str, reply: str | None = None) -> Decision:
        return Decision(True, reason, reply or HANDOFF_REPLIES[reason], 0.0, skill, language=language, spoken=spoken)

    def keep(reply: str) -> Decision:
        return Decision(False, None, reply, 0.0, skill, language=language, spoken=spoken)

    kind = emergency(text)
    if kind:
        return handoff("urgent", advice(kind, language))
    # A personal case the knowledge base holds the general facts for ("will UBC accept me with a 6?") gets
    # those facts and an offer of a counsellor, which a yes takes up: reading it as complex (or a deadline)
    # does not hand it over unasked.
    # A refusal, a record or an overstay of the visitor's own, told as having happened, is a case for a counsellor
    # however general the question asked about it.
    own_case = own_refusal(msg) or grave(msg.raw)
    personal = ("complex", "urgent") if found.kind == "personal" and not own_case else ()
    # A confident answer about EduConsult itself (a lost password, where to upload) is the firm's own fact,
    # which the model's reading of a personal case or a deadline does not overrule; the English rules'
    # reading of a reported problem ("I can't log in") still does. In another language the entry was found through
    # a glossary word or two ("contact", "address"), which says less than the model's reading of the whole message.
    own_facts = found.kind == "answer" and found.entry.id.startswith(OURS) and language == "en"
    # Asked again after a weak answer is a repeat however well the new wording is answered.
    # a question the knowledge base answers, or one whose topic it is sure of and asks the destination for
    taken = found.entry or found.kind == "clarify"
    bar = (HANDOFF_ANSWERED if msg.raw.isascii() else HANDOFF_READ) if taken else HANDOFF
    chatter = off_topic(flat(main_ask(msg.raw)))
    if chatter:  # "weather in london tomorrow": a word of time or of someone's trouble in chatter says less
        bar = max(bar, HANDOFF_ANSWERED)
    reason, share = model().weigh(msg.raw, history, bar, again=HANDOFF)
    if chatter and reason in ("complex", "urgent", "requested"):
        # homework "due tonight" is no study-abroad deadline and "can you do my homework?" asks the bot, not for a
        # person; the floor above has read any emergency, and the English rules still read a request said outright
        reason = None
    rules = english_rules(msg.raw)
    if aside_then_question(msg.flat):
        # a sigh about exams or the weather, then a question the knowledge base answers: no complaint to hand over
        rules = None if rules == "frustration" else rules
        reason = None if reason == "frustration" else reason
    if reason is None and reasked(msg.raw, turns(history)):
        # "you didn't answer my question": the visitor says the bot's reply missed, which only a person mends now
        reason = "repeat"
    # A confident general answer (gap years, backlogs, deferring) to an English question that merely sounds
    # personal ("i have 8 backlogs, can i still go?") gives those facts and the offer of a counsellor when only
    # the model reads a personal case; a case the English rules name ("my visa was refused") still hands over.
    # In another language the English rules cannot read the case, so the model's reading stands.
    # A gap or backlogs, which the English rules read as a case, is what the general entry on it answers, unless
    # the rules read something more in it (a refusal, a record).
    profile = rules == "complex" and found.kind == "answer" and found.entry.country == "any" and profile_only(msg.raw)
    if ((reason in ("complex", "urgent") or profile) and found.kind == "answer"
            and (found.entry.country == "any" or reason == "complex" and next_step_asked(msg.flat))
            and not own_facts and language == "en" and msg.raw.isascii() and (not rules or profile)):
        found = replace(found, kind="personal", reply=f"{found.reply} {PERSONAL_SUFFIX}")
        personal = ("complex", "urgent")
    # ...but a deadline the model is all but sure of ("the portal closes at midnight and won't take my upload")
    # needs a person before the hour, whatever our help page says
    overruled = ("complex", "urgent") if own_facts and not (reason == "urgent" and share >= SURE_URGENT) else personal
    if reason and reason not in overruled:
        # English rules name a request, complaint or personal case more surely than the model's likeliest
        # class; but a deadline the model reads as urgent stays so, to go to the head of the queue.
        explicit = rules
        if reason == "requested" and not explicit and smalltalk_reply(msg.tokens, msg.flat) == IDENTITY_REPLY:
            # "are you a human?" asks what answers, and the model reads little beyond the word for a person
            return keep(IDENTITY_REPLY)
        return handoff(explicit if explicit and (explicit, reason) != ("complex", "urgent") else reason)
    if _offered(history) and accepts(words(normalise(msg.raw))):
        return handoff("requested")
    if not msg.tokens and found.kind == "none":
        # a script the English rules do not read: a greeting or thanks in it is still small talk
        return keep(_small_talk(words(normalise(msg.raw)), msg) or UNCLEAR_REPLY)
    reason = rules
    if (reason == "requested" and own_facts and share < HANDOFF and found.entry.topic != "talk-to-counsellor"
            and any(mark in msg.raw for mark in "?？؟")):
        # "can I book a video call with a counsellor?", "do your counsellors speak German?": a question about
        # reaching one, which the firm's own fact answers; the offer lets the visitor take a person at once
        reply = found.reply if "connect you" in found.reply else f"{found.reply} {NOW_SUFFIX}"
        return Decision(False, None, reply, found.confidence, skill, found.entry.id,
                        (), language, spoken, True)
    if reason and reason not in personal and (reason != "complex" or share >= COMPLEX_RULES_BAR or own_case):
        return handoff(reason)
    small = _small_talk(msg.tokens, msg)
    if small and not (small == IDENTITY_REPLY and found.kind == "answer"):
        # "what do you do with my documents?" asks more than who the bot is: a confident answer says it
        return keep(small)
    # A confident answer the chat has not had yet ("how much is the visa?" after the UK's fee, then Germany's
    # tuition) answers a follow-up that merely sounds like an earlier question.
    anew = found.kind == "answer" and found.anew
    if not found.picked and repeated(msg.flat, msg.raw, visitor, answers, knowledge_base(), anew):
        return handoff("repeat")
    if foreign(msg.tokens) and found.kind in ("none", "unsure") and language != "en":
        # Read through the glossary, a question in another language gets the English answer (the chat adds,
        # in the visitor's language, that it is in English); only one it cannot place gets this reply. English
        # with a few words other languages also use ("non EU", "eu") is still English.
        return keep(LANGUAGE_REPLY)
    if chatter:
        return keep(OFF_TOPIC_REPLY)
    if found.kind == "none" and not on_topic(msg.raw):
        return keep(UNCLEAR_REPLY)
    return Decision(False, None, found.reply, found.confidence, skill, found.entry.id if found.entry else None,
                    found.choices, language, spoken, OFFER in found.reply)
