"""Answering a study-abroad question from the knowledge base: for the destination asked, or not at all."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Iterable

from .destinations import OTHER, destinations
from .features import normalise, written_topics
from .glossary import glossary
from .knowledge_base import (CALIBRATION, CONFIDENT, COUNTRIES, DESTINATION_TOPICS, OURS, Entry, KnowledgeBase,
                             knowledge_base)
from .text import FOREIGN_STOPWORDS, SYNONYMS, flat, terms, tokens

OFFER = "like me to connect you"  # every reply that offers a counsellor says this, so a "yes" can take it up
CLARIFY_REPLY = "The answer depends on the destination. Which country are you asking about: {names}?"
NO_FACT_REPLY = ("I don't hold a checked fact about {topic} for {country}, and I'd rather not guess. "
                 "A counsellor can find out for you: would you " + OFFER + "?")
NO_PLACE_REPLY = ("I don't hold checked facts about studying in {place}, and I'd rather not guess. "
                  "A counsellor can tell you whether we can help there: would you " + OFFER + "?")
UNSURE_REPLY = ("I'm not sure I've understood that. Could you put it another way, naming the country if it is "
                "about one? Or would you " + OFFER + " with a counsellor?")
WHICH_TOPIC_REPLY = ("Do you mean {first} or {second}{place}? Tell me which and I'll answer, or would you "
                     + OFFER + " with a counsellor?")
INVITE_REPLY = ("Happy to help with studying in {country}. What would you like to know: the student visa, tuition, "
                "living costs, scholarships, work while studying or something else?")
UNCOVERED_REPLY = ("I don't hold a checked answer to that. A counsellor can help with it: would you "
                   + OFFER + "?")
PERSONAL_SUFFIX = ("How that applies in your own case depends on the university and your whole profile, "
                   "which a counsellor can check: would you " + OFFER + "?")
NOW_SUFFIX = "Or would you " + OFFER + " with a counsellor here now?"
PERSONAL_AGAIN = ("The general facts on {topic} are in my answer above; whether they settle your own case needs "
                  "a counsellor who can look at your profile. Would you " + OFFER + "?")

# Each destination as a reply names it. The chat shows a reply's list of them ("the United States, Canada or
# France") in the visitor's language, name by name, and the destination buttons with the same names.
COUNTRY_NAMES = {"us": "the United States", "uk": "the United Kingdom", "ca": "Canada", "au": "Australia",
                 "de": "Germany", "ie": "Ireland", "nz": "New Zealand", "nl": "the Netherlands", "fr": "France"}
LIST_SEPARATOR_TEXT = ", "
OR_TEXT = " or "

# Words that carry no topic in a follow-up: "same for nz pls", "what about Germany then".
_FILLER = frozenset(terms("same abt bout wat wht regarding instead similar country countries question one thing "
                          "things hmm ok okay then too also pls please equivalent side version different differ "
                          "thinking going kind range ballpark something well h buy another option options n nd pick picked "
                          "choose chose btw matter matters"))
_GENERAL = re.compile(r"\b(in general|generally|most countries|all countries|every country|any country|abroad"
                      r"|overseas|worldwide|different countries|foreign study|study in a foreign country|foreign universit\w*|bahar|videsh)\b")
# A question across destinations: the destination of the visitor's previous message is not its place.
_ACROSS = re.compile(r"\b(which|what|wat|best|top|cheapest|compare|comparing|comparison|between|other|different|many)"
                     r" (countries|country|destinations?)\b|\b(compare|comparing|comparison|versus|vs)\b")
# "is it the same story in holland?", "is nz any cheaper?": the question before, about another place, whatever
# else is said
_SAME = re.compile(r"\b(same|similar) (story|situation|thing|case|deal|rules?|process|problem|there|question|q|qs)\b"
                   r"|\b(is|it|its|that) (the )?same (in|for|with)\b"
                   r"|\b(does|do|would|will) (this|that|it|these|those|the same) (also )?(apply|count|hold|work) (in|to|for|there)\b"
                   r"|\b(any|much|a lot|even|way) (cheaper|costlier|pricier|more expensive|less expensive"
                   r"|faster|quicker|slower|easier|harder|longer|shorter|better)\b")
_FIRST_PERSON = re.compile(r"\b(i|im|ive|my|me|mine|we|our|mera|meri|mere|mujhe|mai|main)\b")
# "can she work full time?" after a question on bringing a wife: someone the question before named
_SOMEONE = re.compile(r"\b(she|he|her|him|his)\b")
_PERSONAL = re.compile(r"\b(enough|sufficient|chances?|accept me|admit me|take me|get in|get admission|eligible"
                       r"|qualify|is that ok|is that fine|good enough|will that do|will it do|is that a problem"
                       r"|is it a problem|will it affect|will that affect|affect my|hurt my|kill my"
                       r"|problem hogi|problem hoga|milega|chalega|ho jayega|can i still|could i still|will it help|would it help"
                       r"|does it help|help my|explain my)\b")
# A message about EduConsult itself ("your fees", "do you guys...", Hinglish "aap log").
_ADDRESSED = re.compile(r"\b(your|ur|yours|you guys|u guys|you people|u people|you charge|do you|can you|are you|are u"
                        r"|r u|will you|do u|can u|will u|does educonsult|you offer|u offer|you provide|u provide|educonsult|u"
                        r"|with you|to you|of you"
                        r"|aap|aapka|aapki|aapke|apka|apki|ap log|tumhara|tumhari)\b")
# A destination put to EduConsult with nothing else asked ("do u do australia too?") asks whether we cover it.
_COVER = re.compile(r"\b(do|does|cover|covers|covering|handle|handles|help|helps|work|works|deal|deals|karte|karoge)\b")
_COVERED = "which countries do you cover"
_ALSO = re.compile(r"\b(also|too|as well|only)\b")
_TELLING = 1.75  # the idf of a word that says what a question asks ("scholarship"), not where or that it is abroad
# "do you also help students going to Italy?": whether we cover a place, not a fact about it
_HELP_THERE = re.compile(r"\b(do|can|will|could) (you|u|you guys|u guys|educonsult)( also| even)? (help|advise|assist|support"
                         r"|cover|handle|guide|work with|deal with|send students|process)\b")
# "wat all do u guys do?" is all everyday words, yet asks what EduConsult does.
_WHAT_YOU_DO = re.compile(r"\b(what|wat|wht)\b.* (do|does) (u|you|u guys|you guys|you people|educonsult)\b.* (do|offer)\b")
_SERVICES = "what services does educonsult offer"
# With no destination named, the general entry answers when it matches the question nearly as well as the
# topic's best country entry: the question then asks what is true everywhere, not one country's figure.
_ANYWHERE = 0.9  # chosen on dev
_AMOUNT = re.compile(r"\b(how much|what score|which score|what band|minimum|score needed|score required"
                     r"|kitna|kitni|kitne)\b")
# A runner-up topic this close, which the destination also holds, makes the top one a coin toss: ask which.
_TIED = 0.95  # on dev it turns wrong answers into questions and loses no right one
_UNNAMED = 0.8  # ...or this close, when the question names neither by a cue
_NAMED = 0.7  # ...or this close, when the question names the runner-up by a cue
_WHERE = 0.65  # the line for asking which destination: chosen on dev
_RIVAL = 0.6  # below the line, a runner-up weaker than this is no real alternative to offer
_LOOKBACK = 3  # visitor messages a follow-up may refer back to
_TOGETHER = re.compile(r"\+|\b(total|together|in all|altogether|n also|and also|aur|plus|combined)\b", re.I)
# "…? thats my main q. also whats the weather like in galway": a later sentence opened as an aside, and one that
# only says which question is the main one, are left out of what is asked.
_ASIDE = re.compile(r"(?<=[.?!])\s+(also|btw|by the way|separately|and separately|just wondering|and just wondering|oh and"
                    r"|ps|p\.s\.?|unrelated|random q\w*|side q\w*|off topic)\b", re.I)
_ASIDE_LAST = re.compile(r"(?<=[.?!])\s+[^.?!]*\b(btw|by the way)\W*$", re.I)  # "...? and whats ur refund policy btw"
# "ugh its raining again. anyway, when are the intakes?": a remark, then the question it moves on to
_MOVING_ON = re.compile(r"[.!,]\s+(anyway|anyways|anyhow|moving on|that aside|aside from that|on another note)\b[\s,:-]*",
                        re.I)
_MAIN_SAID = re.compile(r"(?<=[.?!])\s+[^.?!]{0,30}\b(main q\w*|main worry|main concern|main thing)[^.?!]*[.?!]?", re.I)
# A message that tells something and asks one thing ("My uncle sponsors me. How much is the visa fee?"): the one
# question says what is asked; the sentences around it say where and whose case it is.
_SENTENCE = re.compile(r"(?<=[.!?。！？؟])\s+|(?<=[。！？])")
_QUESTION_MARKS = "?？؟"
# ...unless the question leans on what came before ("is that enough?", "can I still apply?")
_BACK = re.compile(r"\b(that|this|it|still|enough|those|these|then)\b")
# What the visitor sets aside ("besides tuition, what is rent?", "IHS kitna, visa fee ke alawa"): not what is asked
_EXCEPT = re.compile(r"\b(apart from|besides|other than|excluding|except|not counting|not including|on top of)"
                     r"( the| my| a)? [\w-]+( [\w-]+)?"
                     r"|( [\w-]+){1,2} (ke alawa|ke alava|ke ilawa|ke siwa|ko chhodkar)\b")
# A plan told rather than asked ("I want to study in Australia"), read on the normalised message
_PLAN = re.compile(r"\b(i want|i wanna|i wish|i plan|planning|i am thinking|im thinking|thinking of|hoping to"
                   r"|i hope to|going to study|i aim|i intend|id like to|i'd like to|i would like to|i d like to"
                   r"|interested in studying|chahta|chahti|chahte|karna hai|karni hai|quiero|quisiera|voudrais"
                   r"|je veux|quero|gostaria|mochte|ich will|voglio|istiyorum|ingin|berencana|muon)\b"
                   r"|اريد|ارغب|انوي|चाहता|चाहती|我想|我打算|хочу|планирую|싶어|싶습니다|予定")
_ELSEWHERE = re.compile(r"\b(another|other|different|some other|any other)\s+(country|countries|place|places"
                        r"|destination|destinations|option|options)\b")
_BRIEF = 3  # a follow-up of at most this many terms ("and the price?") leans on the question before it
# Characters of a message retrieval reads: its start (where a destination is often named) and its end (where
# the question usually is). Labelled questions run to about 250; reading more only costs time.
_HEAD, _TAIL = 150, 450


@dataclass(frozen=True)
class Answer:
    """The bot's reply to a study question and how likely it is to be right."""

    kind: str  # answer | personal | clarify | no-fact | elsewhere | unsure | none
    reply: str
    confidence: float
    entry: Entry | None = None
    country: str | None = None  # the destination asked about, a COUNTRIES key
    topic: str | None = None
    choices: tuple[str, ...] = ()
    level: str | None = None  # bachelor | master | phd | diploma, when named
    features: dict[str, float] = field(default_factory=dict, compare=False, repr=False)
    picked: bool = False  # the message picks one of the two topics the bot's last reply asked between
    anew: bool = False  # an answer the bot's recent replies have not given: a like question is then a follow-up


@lru_cache(maxsize=1)
def calibration() -> dict:
    """The fitted logistic model over retrieval features, and the line below which the bot does not answer."""
    return json.loads(CALIBRATION.read_text(encoding="utf-8"))


def probability(features: dict[str, float], model: dict | None = None) -> float:
    """Estimated probability that serving the top entry is right."""
    model = model or calibration()
    z = model["bias"] + sum(w * features.get(name, 0.0) for name, w in model["weights"].items())
    return round(1 / (1 + math.exp(-z)), 3)

def _says_what(kb: KnowledgeBase, text: str) -> bool:
    """Whether a text holds a word that says what is asked ("scholarship", a topic's cue), not only where, or that
    it is about studying abroad or a visa."""
    return bool(destinations().cued(text)) or any(kb.idf.get(t, 0.0) >= _TELLING for t in kb.query(text))


def read(kb: KnowledgeBase, text: str) -> str:
    """The message in the knowledge base's words: a question in another language becomes the English of
    the study-abroad words it uses, with the words it shares with the knowledge base (IELTS, Canada...)."""
    if len(text) > _HEAD + _TAIL:
        text = f"{text[:_HEAD]} {text[-_TAIL:]}"
    english, used = glossary().read(text)
    if english is None and (text.isascii() or not written_topics(text)):
        return text
    # its function words are not the knowledge base's words ("mit" is "with", not MIT), nor are the words the
    # glossary read ("unis" of "États-Unis"), and a place it names in the English way ("München") still says where
    # Hinglish and common misspellings mixed in ("munich me rehna kitna mehenga") say what is asked, in English
    kept = [w for t in tokens(text) if t not in FOREIGN_STOPWORDS and t not in used
            for w in [t if t in kb.words else SYNONYMS.get(t, t)] if w in kb.words]
    words = f" {flat(text)} "
    named = [h.words for h in destinations().hits(text)
             if h.place and h.words not in FOREIGN_STOPWORDS and f" {h.words} " in words]  # as written, not mended
    reading = " ".join([english or "", *kept, *(w for w in named if w not in kept)])
    if not text.isascii() and not _says_what(kb, reading):
        # the study topic, named in the visitor's own words where the glossary lacks them ("стипендии", "장학금")
        names = destinations().topic_names
        reading = " ".join([reading, *(names.get(t, t.replace("-", " ")) for t in sorted(written_topics(text)))])
    return reading if reading.strip() else text


@lru_cache(maxsize=256)
def names_place(text: str) -> str | None:
    """The destination a message naming only a place names ("Royaume-Uni", "ألمانيا"), if the bot reads it so."""
    hit = destinations().country(read(knowledge_base(), text))
    return hit.code if hit else None


def _history(kb: KnowledgeBase, history: Iterable[Any]) -> tuple[list[str], list[str]]:
    """The last visitor texts (read as by `read`) and bot texts, oldest first: a follow-up refers back no
    further than `_LOOKBACK` messages, so a long chat costs a turn no more than a short one."""
    visitor: list[str] = []
    bot: list[str] = []
    for item in reversed(list(history or ())):
        if isinstance(item, dict):
            said, text = (bot if item.get("sender") == "bot" else visitor), item.get("text")
        else:
            said, text = visitor, item
        if text and isinstance(text, str) and len(said) < _LOOKBACK:
            said.append(text)
    return [read(kb, t) for t in reversed(visitor)], bot[::-1]


def _only_place(text: str):
    """The destination a text names, when it names one and no other."""
    found = destinations().hits(text)
    return found[0] if found and {h.code for h in found} == {found[0].code} else None


def _asks(kb: KnowledgeBase, text: str) -> set[str]:
    return kb.query(text) - _FILLER


def _names(codes: Iterable[str]) -> str:
    names = [COUNTRY_NAMES[c] for c in codes]
    return names[0] if len(names) == 1 else LIST_SEPARATOR_TEXT.join(names[:-1]) + OR_TEXT + names[-1]


def _offered_topics(said: str) -> tuple[str, ...]:
    """The two topics a "Do you mean ... or ...?" reply offered, or none. The chat shows that reply in the
    visitor's language with the topics' names left in English, so a reply naming two topics that is not an
    entry's answer (which ends "as of <month>") is one too."""
    names = destinations().topic_names
    found = tuple(t for t in names if names[t] in said)
    asked = said.startswith(WHICH_TOPIC_REPLY.split("{")[0]) or (len(found) == 2 and "(as of " not in said)
    return found if asked else ()


def _ours(kb: KnowledgeBase, said: str) -> bool:
    """Whether a bot reply was one of EduConsult's own entries: a question after it ("how much does it cost?")
    is put to EduConsult too."""
    return any(e.answer[:60] in said for e in kb.entries if e.id.startswith(OURS))


def features(kb: KnowledgeBase, text: str, country: str | None, followup: bool,
             ours: bool = False) -> tuple[list, dict[str, float]]:
    """The ranking of topics for a question and the features its confidence is estimated from."""
    ours = ours or bool(_ADDRESSED.search(flat(text)))
    ranked = kb.rank(text, country, ours)
    if not ranked:
        return ranked, {}
    top = ranked[0].score
    second = ranked[1].score if len(ranked) > 1 else 0.0
    query = kb.query(text)
    ideal = sum(kb.idf.get(t, 0.0) for t in query) or 1.0  # about what a perfect match would score
    places = destinations()
    cued = places.cued(text)
    if country is not None:  # "a chest X-ray for NZ" names the medical checks, which that destination's visa steps give
        cued |= {places.within[c] for c in cued if c in places.within}
    rival = ranked[1].topic if len(ranked) > 1 else None
    # a runner-up the destination also holds an entry for: the neighbouring topic a wrong answer comes from
    neighbour = (rival in DESTINATION_TOPICS and ranked[0].topic in DESTINATION_TOPICS
                 and (country is None or country in kb.by_topic[rival]))
    unknown = sum(kb.weight(t) for t in query if t not in kb.idf) / (sum(kb.weight(t) for t in query) or 1.0)
    feats = {
        "coverage": ranked[0].coverage, "margin": (top - second) / top, "score": min(top, 30.0) / 10,
        "fit": min(top / ideal, 3.0), "country": float(country is not None), "followup": float(followup),
        "cued": float(ranked[0].topic in cued), "miscued": float(bool(cued) and ranked[0].topic not in cued),
        "own": float(country is not None and ranked[0].entry.country == country),  # not won by other countries' entries
        "unknown": round(unknown, 3),  # share of the question in words the index has never seen
        "general": float(ranked[0].topic not in DESTINATION_TOPICS),  # one answer everywhere: no neighbour to confuse
        "neighbour": round(second / top, 3) if neighbour else 0.0,
    }
    # How much of the question a general or EduConsult entry matches in words the index knows: all of a short
    # question is a real match however low it scores; a few words of one mostly unknown is chatter that
    # landed on a broad entry.
    feats["whole"] = round(feats["general"] * ranked[0].coverage * (1 - unknown), 3)
    # a question put to EduConsult that one of its own entries matches: chatter rarely says "your"
    feats["ours"] = feats["whole"] if ours and ranked[0].entry.id.startswith(OURS) else 0.0
    return ranked, feats


def _general(kb: KnowledgeBase, text: str, country: str | None) -> bool:
    """Whether a question is surely one answered the same everywhere: "will my 2 year gap hurt my chances?"
    asked after a destination's answer is about the gap, not about that answer."""
    ranked, feats = features(kb, text, country, True)
    return bool(ranked) and ranked[0].topic not in DESTINATION_TOPICS and probability(feats) >= CONFIDENT


@lru_cache(maxsize=512)
def _speaks_for(places, facts: str) -> bool:
    """Whether a general entry's facts are those of destinations we cover ("the UK's MBBS takes five years"):
    they are not the facts of another country, which the visitor named."""
    return any(hit.place and hit.code in COUNTRIES for hit in places.hits(facts))


def main_ask(text: str) -> str:
    """The message without a later sentence opened as an aside ("btw, is Galway windy?"), or without a remark it
    moves on from."""
    text = _MAIN_SAID.sub("", text)
    on = _MOVING_ON.search(text)
    if on and not any(mark in text[:on.start()] for mark in _QUESTION_MARKS) and on.end() < len(text):
        text = text[on.end():]
    aside = _ASIDE.search(text) or _ASIDE_LAST.search(text)
    return text[:aside.start()] if aside and "?" in text[:aside.start()] else text


def _told(written: str, text: str, places, only_place: bool = False) -> str | None:
    """The invitation to ask, for a plan told without a question ("I want to study in Australia", "Canada mein
    padhai karna chahta hoon"): it names our destinations, by place rather than by a visa term, and no topic; it says
    it is a plan, or nothing the bot reads but the place ("أريد الدراسة في بريطانيا"). None for anything else."""
    hits = places.hits(text)
    codes = list(dict.fromkeys(h.code for h in hits))
    if (codes and all(c in COUNTRIES for c in codes) and all(h.place for h in hits) and not places.cued(text)
            and not any(mark in written for mark in _QUESTION_MARKS)
            and (only_place or _PLAN.search(normalise(written)))):
        return INVITE_REPLY.format(country=_names(codes))
    return None


def only_question(text: str) -> str | None:
    """The one question a message asks, when the sentences around it ask nothing."""
    parts = [p for p in _SENTENCE.split(text.strip()) if p.strip()]
    asks = [any(mark in p for mark in _QUESTION_MARKS) for p in parts]
    if len(parts) < 2 or sum(asks) != 1 or asks[-1] and parts[-1].rstrip()[-1:] not in _QUESTION_MARKS:
        return None
    return parts[asks.index(True)]


def answer(text: str, history: Iterable[Any] = (), model: dict | None = None, line: float | None = None) -> Answer:
    """Answer a question for the destination it is about (or the one the chat is about), ask which, or decline."""
    kb, places = knowledge_base(), destinations()
    visitor, bot = _history(kb, history)
    text = main_ask(text)
    question = only_question(text)
    lead = text[:len(text) - len(question)] if question and text.endswith(question) else ""
    said = read(kb, lead) if lead and len(lead.split()) <= _BRIEF + 2 else None
    if said is not None and not places.cued(said) and not places.hits(said):
        text, question = question, None  # "hmm thats a lot. what about Dublin?": a reaction, then the question
    text, written = read(kb, text), text
    kept, termed = _EXCEPT.sub(" ", text), None
    if kept != text:
        lost = {h.code for h in places.hits(text)} - {h.code for h in places.hits(kept)}
        if not any(h.place for h in places.hits(text) if h.code in lost):
            # "scholarships apart from DAAD?" still asks about Germany, which only the term left out named
            termed = places.country(text) if lost else None
            text = kept
    if places.outside(text):
        return Answer("none", UNCOVERED_REPLY, 0.0)
    hit = places.country(text) or termed
    if hit is None and text != written:
        # a place we do not cover, named in the visitor's words ("Stipendium Hungaricum"), which the glossary lacks
        hit = next((h for h in places.hits(written) if h.code == OTHER), None)
    asked, followup, words = text, False, flat(text)
    if _HELP_THERE.search(words):
        named = {h.code for h in places.hits(text) if h.place}
        covered = "countries-covered" in places.cued(text)  # "which destinations do you advise on? maybe Sweden"
        if hit is not None and hit.code == OTHER and not covered:
            return Answer("elsewhere", NO_PLACE_REPLY.format(place=hit.words.title()), 0.0, country=OTHER)
        if covered or not places.cued(text) and (len(named) > 1 or named and _ALSO.search(words)):
            asked, hit = _COVERED, None  # "do u help with australia and germany also?": whether we cover them
    level = places.level(text)
    asks = _asks(kb, text)
    again = hit is not None and visitor and (asks <= _asks(kb, visitor[-1]) or _SAME.search(words))
    if not asks or level and visitor and not _asks(kb, places.unlevelled(text)) or again:
        # "what about Germany then", "the uk equivalent and how long" (asking nothing the question before did not),
        # or a destination button pressed after "which country?": the earlier question, there.
        earlier = next((t for t in reversed(visitor[-_LOOKBACK:]) if _asks(kb, t)), None)
        covers = earlier is None and _ADDRESSED.search(words) and _COVER.search(words)
        if covers and hit is not None:
            earlier = _COVERED
        if earlier is None and hit is None and _WHAT_YOU_DO.search(words):
            asked = _SERVICES
        elif covers and hit is None and places.hits(text):
            asked = _COVERED  # "do you also do ireland and new zealand?": two places, asked of at once
        elif earlier is not None and hit is None and _ELSEWHERE.search(words):
            asked, followup = earlier, True  # "what about another country?": the earlier question, for which?
        elif earlier is None and hit is not None and (invite := _told(written, text, places, only_place=not asks)):
            return Answer("invite", invite, 0.0, country=hit.code)
        elif earlier is None or hit is None and not level:
            return Answer("none", UNCOVERED_REPLY, 0.0)
        elif hit is None:
            # "even if i'm doing a phd?": the earlier question, asked for that level, for the destination it had
            asked, followup = f"{earlier} {text}", True
            hit = places.country(earlier)
        else:
            asked, followup = earlier, True
    elif hit is None and visitor and not _ACROSS.search(words):
        # the destination of the question before, or the one destination the bot's answer to it named
        # ("Germany is the cheapest" -> "how do I apply there?")
        hit = places.country(visitor[-1]) or (_only_place(bot[-1]) if bot else None)
        followup = hit is not None
    personal = bool(_FIRST_PERSON.search(words) and _PERSONAL.search(words))
    someone = _SOMEONE.search(words) and "dependants" not in places.cued(text)  # not named here: named before
    if (personal or someone) and visitor and asked == text and not _general(kb, text, hit.code if hit else None):
        asked = f"{visitor[-1]} {text}"  # "is that enough for me?" is about what was just asked
    level = places.level(asked)
    code = hit.code if hit else None
    invite = _told(written, text, places) if asked == text and not followup else None
    if invite:  # a plan told, not a question: what would help?
        return Answer("invite", invite, 0.0, country=code, level=level)
    ranked, feats = features(kb, asked, code, followup, code is None and bool(bot) and _ours(kb, bot[-1]))
    question = question if asked == text else None
    if question and ranked and not _BACK.search(flat(question)):
        question = read(kb, question)
        alone = features(kb, question, code, followup, False)
        # who comes along is part of what is asked ("my wife comes too. Which visa would she get?")
        if (alone[0] and alone[0][0].topic in places.cued(question)
                and (ranked[0].topic != alone[0][0].topic or places.cued(text) - places.cued(question))
                and "dependants" not in places.cued(text)):
            asked, (ranked, feats) = question, alone
    if not ranked:
        return Answer("none", UNCOVERED_REPLY, 0.0, country=code, level=level)
    # The answer to "Do you mean the visa fee or processing times?": the one of the two the reply names.
    offered = _offered_topics(bot[-1] if bot else "")
    chosen = next((r for r in ranked[:2] if r.topic in offered), None)
    top = chosen or ranked[0]
    if (followup and code in COUNTRIES and top.entry.id.startswith(OURS) and chosen is None
            and not _ADDRESSED.search(words)):
        # "what's the next step for the visa?" after a UK question asks the UK's process, not ours
        top = next((r for r in ranked if not r.entry.id.startswith(OURS)), top)
    if asked != text and code in COUNTRIES and top.topic not in DESTINATION_TOPICS and chosen is None:
        # "and for Ireland?" after a general answer asks the destination's own fact on what was asked
        named = [r.topic for r in ranked if r.topic in places.cued(asked) and code in kb.by_topic[r.topic]]
        there = next(iter(named), places.there.get(top.topic))
        if there in DESTINATION_TOPICS and code in kb.by_topic[there]:
            top = replace(top, topic=there, entry=kb.by_topic[there][code], anywhere=0.0)
    broader, unheld = places.within.get(top.topic), False
    if broader and code in COUNTRIES and code not in kb.by_topic[top.topic]:
        # its facts are the destination's entry on the broader topic, when that entry names what was asked...
        there = kb.by_topic[broader].get(code, top.entry)
        if top.topic not in places.cue_topics or top.topic in places.cued(there.answer):
            top = replace(top, topic=broader, entry=there, anywhere=0.0)
        else:
            # ...else the general entry's, when it speaks of that destination ("is Duolingo accepted in the UK?": it
            # is no UK SELT), or none we hold (the hourly pay of student jobs in Germany)
            unheld = code not in {h.code for h in places.hits(top.entry.answer)}
    held = kb.by_topic[top.topic]
    general = top.topic not in DESTINATION_TOPICS and "any" in held
    p = probability(feats, model)
    line = CONFIDENT if line is None else line

    def made(kind: str, reply: str, entry: Entry | None = None, choices: tuple[str, ...] = ()) -> Answer:
        return Answer(kind, reply, p, entry, code, top.topic, choices, level, feats, chosen is not None)

    if unheld:
        name = places.topic_name(top.topic, top.entry.title[0].lower() + top.entry.title[1:])
        return made("no-fact", NO_FACT_REPLY.format(topic=name, country=_names([code])))
    if text != written and asked == text and chosen is None and not _says_what(kb, asked):
        # the glossary read where and "study abroad", and nothing that says what is asked
        return made("unsure", UNSURE_REPLY)
    # about EduConsult only when put to it: "is a master's in Sweden free?" asks about Sweden, not our fees
    ours = held.get("any") and held["any"].id.startswith(OURS) and not _ADDRESSED.search(words)
    if code == OTHER and (not general or ours or _speaks_for(places, held["any"].answer)):
        return made("elsewhere", NO_PLACE_REPLY.format(place=hit.words.title()))
    names = places.topic_names
    rival = ranked[1].topic if len(ranked) > 1 else None
    # below the line only when the question names one of the two, so the choice offered is about what was asked
    cued = places.cued(asked)
    # a question that names the top topic by a cue and not its rival has said which it means
    between = (top.topic in names and rival in names and (p >= line or {top.topic, rival} & cued)
               and not (p >= line and top.topic in cued and rival not in cued))
    if between and code and {top.topic, rival} <= cued:
        # "the permit fee, and is biometrics extra?": an answer that gives the other too; of two asked together
        # ("visa fee + IHS total"), the one named first
        together = _TOGETHER.search(asked) or sum(map(written.count, _QUESTION_MARKS)) > 1  # or one after the other
        first = places.first_named(asked, (top.topic, rival)) if together else top.topic
        here = kb.by_topic[first].get(code) if first else None
        if here and ({top.topic, rival} - {first}) <= places.cued(here.answer):
            if first != top.topic:
                top, held = ranked[1], kb.by_topic[first]
                general = top.topic not in DESTINATION_TOPICS and "any" in held
            between = False
    tied = _RIVAL if p < line else _NAMED if rival in cued else _TIED if top.topic in cued else _UNNAMED
    if chosen is None and between and feats["neighbour"] >= tied and visitor and (
            asked == text and len(asks) <= _BRIEF or personal and asked != text):
        # "what about the fee" after a question on the visa: the question before says which of the two it is;
        # "is that enough for me?" is about the answer just given
        before = visitor[-1] if asked != text else f"{visitor[-1]} {text}"
        context = kb.rank(before, code, bool(_ADDRESSED.search(words)))
        pick = next((r.topic for r in context if r.topic in (top.topic, rival)), None)
        if pick:
            top, between = next(r for r in ranked if r.topic == pick), False
            held = kb.by_topic[top.topic]
    if chosen is None and between and feats["neighbour"] >= tied:
        # two neighbouring topics of one destination (the fee or the processing time?): ask, never guess
        place = f" for {_names([code])}" if code in COUNTRIES else ""
        return made("unsure", WHICH_TOPIC_REPLY.format(first=names[top.topic], second=names[rival], place=place))
    # With no destination named, a topic whose answer differs by country gets the question which country
    # from a lower line: the reply asks rather than states, and the question asked again for the country
    # chosen must clear the line itself.
    # an amount or a score differs by destination however well the general entry matches the words
    anywhere = (top.anywhere >= _ANYWHERE and not _AMOUNT.search(flat(asked))
                and (top.topic not in places.compared or _ACROSS.search(flat(asked))))
    where = (code is None and top.topic in DESTINATION_TOPICS and not anywhere
             and not _GENERAL.search(flat(asked)) and (p >= _WHERE or top.topic in places.cued(asked)))
    if p < line and chosen is None and not where:
        return made("unsure", UNSURE_REPLY)
    choices = tuple(c for c in COUNTRIES if c in held)
    if code in COUNTRIES:
        entry = held.get(code) or (held["any"] if general else None)
        if entry is None:
            name = places.topic_name(top.topic, top.entry.title[0].lower() + top.entry.title[1:])
            return made("no-fact", NO_FACT_REPLY.format(topic=name, country=_names([code])))
    elif general or (anywhere or _GENERAL.search(flat(asked))) and "any" in held:
        entry = held["any"]  # the general entry fits the question best, or the question asks in general
    elif len(held) == 1 and top.topic not in DESTINATION_TOPICS:
        entry = top.entry  # a term only one destination uses, such as the I-20
    elif choices:
        return made("clarify", CLARIFY_REPLY.format(names=_names(choices)), choices=choices)
    else:
        entry = held.get("any") or top.entry
    facts = f"{entry.answer} {entry.as_of()}".strip()
    given = any(entry.answer in b for b in bot[-_LOOKBACK:])
    if personal:
        if given:
            return made("personal", PERSONAL_AGAIN.format(topic=places.topic_name(entry.topic, entry.title)), entry)
        return made("personal", f"{facts} {PERSONAL_SUFFIX}", entry)
    return replace(made("answer", facts, entry), anew=bool(bot) and not given)
