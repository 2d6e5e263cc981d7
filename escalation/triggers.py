"""English handoff rules a single message shows on its own: requested, complex, frustration."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

from . import lexicon as lx
from .knowledge_base import knowledge_base
from .text import COMMON, STOPWORDS, TOKEN, fold, tokens
# Clauses are where negation and intent live: "I don't need a bot, get me a person" is two.
_CLAUSE_BREAK = re.compile(
    r"[.;:!?\u00bf\u00a1()\[\]\n\u0964]+|,(?!\s*(?:mit|con|avec|com|who|whom|that|dem|der|den|quien|qui|quem|cui"
    r"|que|i can|i could)\b)|\s(?:but|pero|mais|aber|lekin|just|bas|nur)\s"
)


@dataclass(frozen=True)
class Message:
    """A visitor message in the forms the triggers read."""

    raw: str

    @cached_property
    def folded(self) -> str:
        """Lowercased, accents stripped, contractions joined."""
        return fold(self.raw)

    @cached_property
    def tokens(self) -> list[str]:
        """Words without punctuation."""
        return tokens(self.raw)

    @cached_property
    def flat(self) -> str:
        """Tokens joined by single spaces: punctuation-free text for phrase patterns."""
        return " ".join(self.tokens)

    @cached_property
    def clauses(self) -> list[list[str]]:
        """Words per clause, typos of request words corrected."""
        parts = (TOKEN.findall(part) for part in _CLAUSE_BREAK.split(self.folded))
        return [[canonical(t) for t in part] for part in parts if part]


# --- typo tolerance -------------------------------------------------------------------

def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1:] for i in range(len(word))}


@lru_cache(maxsize=1)
def _typo_index() -> dict[str, str]:
    """Every person noun and its one-letter deletions, so "huamn" or "conselor" still match.

    Verbs are left out: their common typos are listed in the lexicon, and near-misses like
    "taking"/"talking" or "contract"/"contact" are real words.
    """
    index: dict[str, str] = {}
    for word in sorted(lx.PERSON):
        if len(word) >= 5 and word.isascii():
            for variant in _deletes(word) | {word}:
                index.setdefault(variant, word)
    return index


# Real words one letter away from a person noun.
_NOT_TYPOS = frozenset(lx.words("stuff someday somedays humane humid persona personal personnel agenda advised"))


@lru_cache(maxsize=1)
def _known_words() -> frozenset[str]:
    """Real words that must never be read as typos of a request word ("personal", "agency")."""
    lexicons = lx.PERSON | lx.PERSON_WEAK | lx.CONTACT_VERBS | lx.WANT_VERBS | lx.FILLERS
    return frozenset(lexicons | STOPWORDS | COMMON | _NOT_TYPOS | knowledge_base().words)


@lru_cache(maxsize=8192)
def canonical(token: str) -> str:
    """The request word a token is a likely typo of, else the token itself."""
    if token.endswith("s") and token[:-1] in lx.PERSON | lx.PERSON_WEAK:
        return token[:-1]
    if len(token) < 5 or not token.isascii() or token in _known_words():
        return token
    index = _typo_index()
    for variant in (token, *_deletes(token)):
        word = index.get(variant)
        if word and word[0] == token[0] and abs(len(word) - len(token)) <= 1:
            return word
    return token


# --- requested ------------------------------------------------------------------------

_ABOUT_QUESTION = re.compile(
    r"^(so |and |also |then |but )?("
    r"(do|does|did|will|would|shall|must) (i|we|one|students?|they|people|you) "
    r"(really |actually |still |even |always |also |first )?(need|have to|must|require|got to)\b"
    r"|(do|does|will|would) (i|we|students?|every student|everyone|each student|all students) (get|receive|have)"
    r" (a|an|my|our|the|one|their|his|her)\b"
    r"|should (i|we|one)\b"
    r"|is it (really |actually |even |always )?(necessary|required|mandatory|compulsory|needed|important|better"
    r"|worth|normal|common|advisable)\b"
    # what happens if someone..., asked in general: "pasa" and "someone" are no "put me through to someone"
    r"|what happens if|que pasa si|que sucede si|que passa si|o que acontece se|qu est ce qui se passe si"
    r"|was passiert wenn|cosa succede se)"
)
_NOUN_BEFORE = frozenset({"this", "the", "that", "our"})
# Verbs that only ask for a person with a particle: "put me through", "pass me to".
_NEEDS_PARTICLE = frozenset({"put", "hand", "pass", "switch", "route", "patch", "forward", "redirect", "ring"})
_PARTICLES = frozenset({"me", "us", "my", "this", "it", "through", "over", "on"})
_HELP_VERBS = frozenset(lx.words("help assist helfen ayudar ayudarme aider ajudar aiutare aiutarmi madad"))
_CLAUSE_TAIL = frozenset(lx.words("""
to with about this it now please pls right today con avec mit com se ko kann konnte
karne karna karni ke liye hai ho sakta sakti sake kar
"""))
# A relative clause after the person ("a human who can...", "einen Menschen, mit dem...") ties the verb to them.
_RELATIVE = frozenset(lx.words("who whom that dem der den quien qui quem cui jisse jinse"))
_WEAK_BARE = frozenset(lx.words("support customer service manager supervisor helpdesk operator boss"))
_PERSON_FIRST_PREPOSITIONS = frozenset(lx.words("mit con avec com zu col coi"))
_WH = frozenset({"how", "what", "why", "when", "where", "which"})
_PROGRESSIVE = frozenset(lx.words("am im are was were is"))
_AUXILIARIES = frozenset(lx.words("do does did will would is are"))  # "does every student get a counsellor?"
_BRIDGE_WORDS = frozenset(lx.words("""
of some who that can could this it someone somebody anyone human humans person real actual live word quick
in touch get
help support assistance advice hilfe ayuda aide ajuda aiuto madad from by von da de par por per van
un una une um uma ein einen einem eine uno con mit avec com se ko ek kisi gern gerne
be been being essere ser etre sein contacted called contactado contattato kontaktiert contacte
d l du des del al dos das di della dei il lo la le los las der die dem den atendimento atencion servicio assistenza
gesprach conversation conversacion conversa conversazione chat call meeting termin
"""))
# "Before I talk to anyone, ..." or "if I speak to a counsellor, ..." sets a condition, it asks for no one.
_SUBORDINATE = frozenset(lx.words("before until after if unless once whether"))
_BARE_VERB_REQUEST = re.compile(
    r"^(please |pls |plz |can you |could you |kindly )?(transfer|connect|escalate|forward|redirect|pass) "
    r"(me|this|this chat|my chat|my case)( please| pls| plz| now| asap)?$"
)

_REQUEST_PATTERNS = re.compile(
    # refusing the bot itself: "I don't want a bot", "no more robots", "bot se nahi"
    r"\b(dont|do not|no more|stop|enough|tired of|sick of|done with|fed up with|hate|no|pas|kein|keinen|nao|non)"
    r"( \w+){0,5}? (bot|bots|robot|robots|robo|roboter|machine|maquina|macchina|chatbot|chatbots|automated \w+)\b"
    r"|\b(bot|robot|machine|chatbot) (se )?(\w+ ){0,2}(nahi|nahin)\b"
    r"|\bescalate\b|\b(be|get|being|getting) (transferred|connected|put through|passed|redirected|forwarded"
    r"|escalated)\b"
    r"|\b(insaan|insan|human|person|counsellor|agent|banda|aadmi|koi)\b( \w+){0,4} (meri|mera|my) (madad|help)\b"
    r"|\b(atencion|atendimento|attention|assistance|support|service|soporte|suporte|hilfe|aiuto|assistenza|madad)"
    r" (humana|humano|humaine|humain|personal|personalizad[ao]|umana|menschliche|menschlicher)\b"
    r"|\b(human|personal|live|real) (support|assistance|help|service|attention|contact)\b"
    r"|\b(out of|outta) (this|the) (bot|chatbot|robot|machine|automated \w+|chat bot)\b"
    r"|^(so )?who (can|could) (i|we) (talk|speak|chat|contact|reach)( to| with)?$"
    r"|\b(is|are) (there )?(anyone|someone|somebody|anybody|a counsellor|a counselor|a human|an agent|an advisor"
    r"|a person|any counsellors|any agents|any humans|a real person)( \w+){0,4} (available|online|free|around|there"
    r"|here)"
    r"\b(?! (on|at|during|in|every|after|before|over|this|next|for)\b)"
    r"|\b(human|person|agent|counsellor|counselor|someone|somebody|advisor|adviser|staff|consultant|expert)( \w+){0,2}"
    r" (take over|step in|jump in|join (this|the|us|me|in)|handle this|look at this|look into this|deal with this)\b"
    r"|\b(connect|transfer|put|pass|forward) me (through )?(to|with) (?!(other |current |fellow )?(students|alumni"
    r"|universit\w+|college|bank|lender|people from))"
    # asking to be called: "call me back", "can someone phone me", "llamame"
    r"|(^|\b(please|pls|plz|kindly|can you|could you|can someone|could someone|can somebody|someone|somebody"
    r"|i want (you|someone) to|i need (you|someone) to|have someone|get someone to) )(call|phone|ring|contact"
    r"|whatsapp) me\b"
    r"|\b(call ?back|call me back|give me a (call|ring))\b"
    r"|\b(llamame|llameme|llamenme|appelez moi|rappelez moi|appelle moi|rappelle moi|ruf mich|rufen sie mich"
    r"|me liga|me ligue|liga pra mim|chiamami|richiamami|mujhe call)\b"
)


def _is_person(toks: list[str], i: int) -> bool:
    """A person noun that means one of our people, not a subject ("human rights") or someone else's."""
    tok = toks[i]
    if tok in ("people", "ppl") and i and toks[i - 1] in ("real", "actual", "live"):
        return True
    if tok not in lx.PERSON:
        return False
    if i + 1 < len(toks) and toks[i + 1] in lx.NOT_A_PERSON_AFTER:
        return False
    if any(toks[j] in lx.EXTERNAL_BEFORE for j in range(max(0, i - 2), i)):
        return False
    after = toks[i + 1:i + 4]
    if any(t in ("educonsult", "your", "ur", "you") for t in toks[i + 1:i + 6]):
        return True
    return not (after and after[0] in ("at", "from", "in", "of") and any(t in lx.EXTERNAL_AFTER for t in after[1:]))


def _negated(toks: list[str], v: int) -> bool:
    """A negation shortly before the verb: "I don't need to talk to anyone"."""
    window = toks[max(0, v - 4):v]
    if any(t in lx.NEGATIONS for t in window):
        return True
    return "no" in toks[max(0, v - 2):v] or any(a == "no" and b == "need" for a, b in zip(window, window[1:]))


def _bare_request(toks: list[str], persons: list[int], short: bool) -> bool:
    """The whole clause is a person noun with politeness around it: "agent!", "a real person please"."""
    if not short or len(toks) > 6:
        return False
    if not all(t in lx.FILLERS or i in persons or t in lx.PERSON_WEAK for i, t in enumerate(toks)):
        return False
    return bool(persons) or any(t in _WEAK_BARE for t in toks)


def _contact_request(toks: list[str], v: int, persons: list[int], weak: list[int]) -> bool:
    """A verb like talk/connect/hablar at `v` aimed at one of our people, in either order."""
    tok, nxt = toks[v], toks[v + 1] if v + 1 < len(toks) else ""
    if v and toks[v - 1] in _NOUN_BEFORE or (tok in _NEEDS_PARTICLE and nxt not in _PARTICLES):
        return False  # "this chat", "put it on hold"
    if _negated(toks, v) or any(t in lx.THIRD_PARTY_SUBJECTS for t in toks[max(0, v - 3):v]):
        return False
    if tok.endswith("ing") and any(t in _PROGRESSIVE for t in toks[max(0, v - 2):v]):
        return False  # "am I talking to a person?" describes the chat
    if tok in ("ask", "asking") and nxt == "my":
        return False  # "ask my agent"
    if any(t in _SUBORDINATE for t in toks[max(0, v - 2):v]):
        return False
    if "should" in toks[max(0, v - 3):v] and (toks[0] in _WH or toks[0] == "should"):
        return False  # "what should I ask a counsellor?" asks for advice
    if any(v < p <= v + 7 for p in persons + weak):
        return True
    # The person first: "can a counsellor call me", "mit einem Menschen sprechen", "insaan se baat",
    # "someone I can talk to" (a modal question ending on the verb).
    me_after = nxt in lx.ME_WORDS or toks[v + 1:v + 3] in (["with", "me"], ["to", "me"])
    at_end = all(t in _CLAUSE_TAIL for t in toks[v + 1:]) and any(t in lx.MODALS for t in toks)
    return any(
        0 < v - p <= 6 and (
            me_after or at_end
            or any(t in _PERSON_FIRST_PREPOSITIONS for t in toks[max(0, p - 3):p])
            or (p + 1 < len(toks) and toks[p + 1] in lx.POSTPOSITIONS)
            or any(t in _RELATIVE for t in toks[p + 1:p + 3])
        )
        for p in persons
    )


def _help_request(toks: list[str], v: int, persons: list[int]) -> bool:
    """Help asked of someone ("can someone help me?"), not what counsellors do ("can my counsellor help me?")."""
    if toks[0] in _WH or _negated(toks, v) or v + 1 >= len(toks) or toks[v + 1] not in lx.ME_WORDS:
        return False
    owned = ("my", "your", "the", "our", "his", "her")
    return any(0 < v - p <= 5 and (p == 0 or toks[p - 1] not in owned) for p in persons)


def _bridges(token: str) -> bool:
    """A word that may stand between "want" and the person wanted."""
    return token in lx.FILLERS or token in lx.CONTACT_VERBS or token in lx.PERSON or token in _BRIDGE_WORDS


def _want_request(toks: list[str], v: int, persons: list[int]) -> bool:
    """Wanting a person: "I want / need / would like / ich will ... a person", or Hindi "insaan chahiye"."""
    tok = toks[v]
    wants = (tok in lx.WANT_VERBS or (tok == "like" and v and toks[v - 1] in ("id", "would", "wd"))
             or (tok == "will" and v and toks[v - 1] in ("ich", "wir"))
             or (tok == "have" and v > 1 and toks[v - 1] in ("i", "we") and toks[v - 2] in lx.MODALS))
    if not wants or _negated(toks, v) or (tok == "get" and (toks[0] in _WH or toks[0] in _AUXILIARIES)):
        return False
    # Only filler, contact verbs or other people may stand between: "I want to *change* my counsellor"
    # or "I want to *become* a counsellor" are not requests.
    if any(v < p <= v + 7 and all(_bridges(t) for t in toks[v + 1:p]) for p in persons):
        return True
    return tok.startswith("chah") and any(0 < v - p <= 3 for p in persons)


def _clause_requests(toks: list[str], short: bool) -> bool:
    """Whether one clause asks for a person: verb + person, want + person, or a bare person noun."""
    persons = [i for i in range(len(toks)) if _is_person(toks, i)]
    weak = [i for i, t in enumerate(toks)
            if t in lx.PERSON_WEAK and not any(toks[j] in lx.EXTERNAL_BEFORE for j in range(max(0, i - 2), i))]
    if not persons and not weak:
        return False
    if _ABOUT_QUESTION.match(" ".join(toks)) or any(t in lx.HINDI_NEGATIONS for t in toks):
        return False
    if _bare_request(toks, persons, short):
        return True
    for v, tok in enumerate(toks):
        if tok in lx.CONTACT_VERBS:
            if _contact_request(toks, v, persons, weak):
                return True
        elif tok in _HELP_VERBS:
            if _help_request(toks, v, persons):
                return True
        elif _want_request(toks, v, persons):
            return True
    return False


_TESTING = re.compile(r"\b(just|only) testing\b|\bthis is a test\b|\btest message\b|^test(ing)?\b")
# a person wanted some other time ("I'll talk to a counsellor later, for now just tell me the fee") is no request now
_LATER = re.compile(r"\b(not now|not yet|not right now|not today|maybe later|later if|later when|later once"
                    r"|just browsing|just looking|for now just|abhi nahi|abhi nahin|abhi bas|baad me|baad mein)\b")


def requested(msg: Message) -> bool:
    """The visitor asks for a person, in any of the supported languages."""
    if _TESTING.search(msg.flat) or _LATER.search(msg.flat):
        return False
    if _REQUEST_PATTERNS.search(msg.flat) or _BARE_VERB_REQUEST.match(msg.flat):
        return True
    short = len(msg.tokens) <= 10
    return any(_clause_requests(toks, short) for toks in msg.clauses)


# --- frustration ----------------------------------------------------------------------

_INSULT = (
    r"(useless|pointless|worthless|pathetic|rubbish|garbage|trash|crap|crappy|stupid|dumb|idiot|idiotic|moron"
    r"|moronic|ridiculous|hopeless|clueless|incompetent|annoying|nonsense|bullshit|absurd|dumbest|stupidest"
    r"|retarded|brainless|inutil|estupido|estupida|tonto|tonta|idiota|basura|porqueria|pesimo|nul|nulle"
    r"|inutile|debile|stupide|nutzlos|dumm|blod|bescheuert|unbrauchbar|sinnlos|burro|burra|lixo|porcaria"
    r"|ridicul\w*|ridicol\w*|lacherlich|absurd\w*|pessim\w*|horrivel|terrivel|horrible|nefasto|broken"
    r"|stupido|stupida|schifo|bekaar|bekar|bakwas|bakwaas|faltu|bewakoof|bewkoof|pagal|ghatiya)"
)
# the bot or the service, and its answers: in English "answer" is also what anyone gives ("he won't answer my texts")
_US = (r"you|u|ur|youre|your|bot|chatbot|robot|machine|assistant|service|system"
       r"|tu|tes|vous|du|deine|dein|voce|sei|tum|aap|eres|estas|bist"
       r"|respuesta|respuestas|reponse|reponses|antwort|antworten|resposta|respostas|risposta|risposte|jawab")
_BOT_TARGET = rf"({_US}|answers?|repl(y|ies)|responses?)"
# "ugh exam season is killing me. anyway, can I work in Ireland?": a sigh about something else, then the question
_ASIDE = re.compile(r"^(?P<aside>.{0,240}?) (anyway|anyways|anyhow|quick q|quick question|q tho|question tho|btw"
                    r"|by the way|on another note|moving on|that aside|aside from that)\b")
_AT_US = re.compile(rf"\b({_US})\b")


def aside_then_question(flat: str) -> bool:
    """Whether a message sighs about something other than the bot or the service, then moves on to a question."""
    aside = _ASIDE.match(flat)
    return bool(aside) and not _AT_US.search(aside.group("aside"))


# "I've got my offer from Deakin. What do I need to get ready?" tells a plan to ask the next step, which the
# destination's facts answer; a snag in it ("but my transcripts say another name", a deadline) is still a case.
_NEXT_STEP = re.compile(r"\b(what (do|should) i (need|do|prepare|check|get ready)|what are the (next )?steps"
                        r"|what is (it|this|that|a)\b|when (will|do|does|should)|how do i (apply|get|start)"
                        r"|can (he|she|they|my \w+) (get|join|come|work|study|go))")
_SNAG = re.compile(r"\b(but|wrong|mess|wreck|worried|worry|refus\w*|reject\w*|flagged|problem|mismatch\w*"
                   r"|issue(?! (my|the|a|an|your|me|it|them)\b)"  # "when will the uni issue my CAS" asks, "an issue" is one
                   r"|withdr\w*|cancel\w*|fake|lost|stolen|deadline|tomorrow|tonight|today|urgent)\b")


def next_step_asked(flat: str) -> bool:
    """Whether a personal message asks the next step of a plan, with no snag in it."""
    return bool(_NEXT_STEP.search(flat)) and not _SNAG.search(flat)


_NOT_ANGRY = r"(?! (question|questions|q|doubt|query))"  # "sorry if this is a stupid question"
_FRUSTRATION = re.compile(
    rf"\b{_BOT_TARGET}( \w+){{0,3}} {_INSULT}\b{_NOT_ANGRY}"
    rf"|\b{_INSULT}( de| di| of)? (bot|chatbot|robot|machine|answers?|repl(y|ies)|responses?|service|assistant"
    rf"|system|thing"
    r"|chat|app|website|respuesta|reponse|antwort|resposta|risposta|jawab)\b"
    r"|\b(thats|its|(this|that|it|the|your)( chat| bot| chatbot| service| thing| answer| reply| assistant)?"
    r" (is|was|are|were))( \w+){0,2} (useless|pointless|stupid|ridiculous|rubbish|garbage|joke|crap|nonsense"
    rf"|bullshit|absurd|pathetic|worthless|hopeless|unacceptable|annoying|frustrating|insane|madness)\b{_NOT_ANGRY}"
    # milder words count only when aimed at the bot or its answers
    r"|\b(you|u|youre|this bot|the bot|this chatbot|this chat|this assistant|your (answers?|replies|responses|service)"
    r"|this service|this thing)( are| is| re| r| was| were)?( so| really| very| totally| just| absolutely)* (terrible"
    r"|horrible|awful|bad|lame|slow|unhelpful|the worst|sucks?|suck)\b"
    r"|\bwhat a (joke|waste|mess|useless|stupid|terrible|pathetic)\b"
    r"|\b(asked|said|told you|told|explained|repeated|typed)( this| it| you| that| the same thing)?"
    r" (twice|(two|three|four|five|several|many|multiple|\d+) times)\b"
    r"|\bwhy (cant|cannot|wont|dont|do not|arent) you( just| even| simply)? (help|answer|understand|tell me|give me"
    r"|get it)\b"
    r"|\bjust (answer|help me)\b"
    # judging the answer itself, going round in circles, the same reply again
    r"|\bwhat (kind|sort|type) of (an )?(answer|reply|response|help|service|bot) (is|was) (that|this)\b"
    r"|\b(call|calling) (that|this) (an )?(answer|help|service)\b|\bthats all you (got|have|can say)\b"
    r"|\b(getting|got|get|going) nowhere\b|\b(going|go|goes|talking) (round|around) in circles\b"
    r"|\bnot getting anywhere\b|\b(same|identical) (answer|reply|response|message|text|link|thing) (again|over|every"
    r"|each|three|twice|\d)|\b(gave|give|giving|sent|send|told|said|given|repeated)( \w+){0,4} (twice|(two|three|four"
    r"|five|several|many|multiple|\d+) times)\b|\bsuch a (waste|joke|mess|pain)\b"
    r"|\b(this|that|its|thats|it)( is| was| s)? the worst\b(?! (case|time|month|part|city|season|weather))"
    r"|(^|\b(what a|what an|such a|such an|that was a|thats a|that is a|this is a|your|these|those|the same|another) )"
    r"(terrible|horrible|awful|bad|poor|lame|weird|useless|stupid|silly|irrelevant|generic|vague|unhelpful|pathetic"
    r"|rubbish|garbage|nonsense) (answer|answers|reply|replies|response|responses|bot|chatbot|service|help)\b"
    r"|\bi (asked|meant|wanted|said)( for| about)? (something|sth|smth)( \w+)? (else|different)\b"
    r"|\b(thats|that is|this is|i asked)( a)?( totally| completely)? different question\b"
    r"|\b(answered|answering|answer|replied to) (a|the|another)( totally| completely| whole)? (different|wrong|other)"
    r" question\b"
    r"|\b(nothing|none of (this|that|it|what you \w+))( \w+){0,3} (makes?|made) (any )?sense\b"
    r"|\b(you|u|this bot|the bot) keeps? \w+ing\b|\b(missing|miss|missed) the point\b|\bwrong again\b|\bstill wrong\b"
    r"|\b(you|u|ur|youre) (\w+ )?(have|got|has|re|are) (no|zero) (idea|clue)\b|\bno idea what (you|ur|youre)\b"
    r"|\b(sending|giving|telling|showing) me the same\b|\bstop (sending|giving|repeating|saying|copying|pasting)\b"
    r"|\b(damn|damned|bloody|freaking|fricking|fucking|stupid|silly|dumb|useless|crappy|shitty|rubbish|worthless)"
    r" (bot|chatbot|robot|machine|ai|thing|assistant|computer|program|software)\b"
    r"|\b(the )?(second|third|fourth|fifth|tenth|nth|2nd|3rd|4th|5th) time (you|youve|youre|i|im|ive|that|this)\b"
    r"|\b(giving|gave|give|telling|told) me (the )?(wrong|incorrect|false|bad|outdated|irrelevant) (info|information"
    r"|answers?"
    r"|advice|details)\b|\b(thats|that is|this is|your answer is|the answer is) (wrong|incorrect|not correct|not right"
    r"|false|outdated)\b|\b(you|u|it) keeps? (repeating|saying|giving|sending|telling)\b|\brepeating yourself\b"
    r"|\b(fuck\w*|fck\w*|fuk\w*|shit\w*|bullshit|wtf|ffs|stfu|omfg|dammit|goddamn\w*|bloody hell|screw (you|this)"
    r"|piss\w* off|pissed|mierda|joder|putain|merde|bordel|scheisse|verdammt|merda|porra|caralho|cazzo|vaffanculo"
    r"|bhenchod|chutiya|saala)\b"
    r"|\b(you|u|youre|ur|this|that|it|thats|its|bot|your answers?)( are| is| re| r)?( still| really| even| just"
    r"| clearly| obviously)? (not|never|dont|doesnt|didnt|arent|isnt|aint|cant|cannot|wont|wasnt|werent) (\w+ ){0,2}?"
    r"(help|helping|helpful|useful|understand|understanding|listen|listening|answer|answering|read|reading"
    r"|get it|getting it|make sense|making sense)\b"
    r"|\b(not helpful|unhelpful|no help at all|of no (use|help)|not useful"
    r"|not( \w+){0,4} what i (asked|wanted|meant|need|needed|was asking|was looking for|said)"
    r"|(thats|that is|this is) not (what i|it|my question|the question|an answer|helpful)"
    r"|wrong answer|(thats|that is|this is|its|it is|your answer is|the answer is)( totally| completely)?"
    r" (irrelevant|not relevant)|(didnt|did not|doesnt|does not|never) answer"
    r"|answer (my|the) (question|damn question)|read my (question|message)"
    r"|are (you|u|ya) (even )?(reading|listening|serious|kidding|joking|stupid|dumb|deaf)"
    r"|what (even |the hell |tf |the heck )(is|was) (this|that)|what (even )?(is|was) (this|that) (answer|reply"
    r"|response)"
    r"|i (already|just) (said|told you|asked|explained)|told you (already|twice|before)"
    r"|how many times (do|must|should|have|will) (i|you)( have to| need to)? (ask|say|tell|repeat|explain|type|write)"
    r"|how (is|can) (this|that|you) (even |possibly )?(be )?(a |an |called )?(service|help|helpful|support|answer"
    r"|assistant)"
    r"|for the (second|third|fourth|fifth|tenth|hundredth|nth|last|millionth|2nd|3rd|4th|5th) time"
    r"|again and again|over and over|same (answer|thing|reply|response|message) (again|over)"
    r"|keep (giving|saying|repeating|sending) (me )?(the same|that|this)"
    r"|makes? (no|zero|little) sense|(doesnt|does not) make (any )?sense|waste of (my )?time|wasting (my|our) time"
    r"|time waste|what (are|r) (you|u) (even |actually )?(talking|going|on) (about|on about)|what are you on about"
    r"|(losing|lost|running out of|run out of) (my )?patience|my patience is"
    r"|(dont|do not) think (you|u) (understood|understand|get it|got it|read|are listening|listened|know)"
    r"|(you|u) (clearly |obviously )?(misunderstood|misread|misunderstand)"
    r"|(bringt|hilft|nutzt) (mir )?(gar |rein |uberhaupt )?nichts"
    r"|(none of (this|that|it|these|your \w+)|nothing)( \w+){0,3} (answers?|answered|helps?|helped)"
    r"|(same|identical) (\w+ )?(thing|answer|reply|response|message|text) (as |that )?(you|u) (said|gave|told|sent"
    r"|wrote)"
    r"|(you|u) (already )?(said|told me) (that|this|the same) (before|already)"
    r"|(give|giving|gave) up on (this|you|the bot|the chat)|\bi give up\b|about to give up"
    r"|answer (me )?(properly|correctly|clearly|seriously)|^come on\b"
    r"|(cant|cannot|dont) you (even |just )?(understand|read|see|get it|follow)"
    r"|had enough|fed up|sick of (this|you|it|waiting)|tired of (this|you|it|waiting)"
    r"|give me a (real|proper|straight|actual) answer|what the hell|smh|facepalm"
    # a sigh ("ugh") said alone or at us is a complaint; before the IELTS or an exam, it is not; nor is someone
    # else's anger ("my mom is so mad")
    rf"|^(ugh+|argh+)( (ugh+|argh+))*$|\b(ugh+|argh+)( \w+){{0,3}} {_BOT_TARGET}\b"
    r"|(im|i am|getting|so|very|really|extremely|this is|thats|that is|its|how|super|too)( so| very| really| getting)?"
    r" frustrat\w*|(?<!\bis )(?<!\bare )(?<!\bwas )(?<!\bwere )(im|i am|i m|i was|i feel|feeling|getting|so|really"
    r"|very|we are|makes me|you make me)"
    r"( so| really| very| getting| extremely)? (frustrated|annoyed|irritated|angry|furious|livid|outraged|upset|mad)"
    r"(?! (at|with) myself)"  # anger at oneself ("for missing the intake") is no complaint about us
    r"|(making|make|makes|made) me (so |really |very )?(frustrated|annoyed|angry|furious|upset|mad)"
    r"|(angry|annoyed|upset|mad|furious) (with|at) (you|this|your)"
    r"|terrible service|worst (bot|service|experience|chat|support|company|assistant)|forget it|seriously$"
    r"|no (me )?(sirves|sirve|ayudas|estas ayudando|entiendes)|no es lo que (pregunte|pedi)|estoy hart[oa]"
    # "you did not answer my question" in the other languages
    r"|nicht( \w+){0,4} (gefragt|gemeint|wollte)|(beantwortet|beantwortest) (meine frage )?nicht"
    r"|nao( \w+)? (responde|respondeu|respondem|entendeu|entende|ajudou)"
    r"|non (hai|ha|mi hai) (risposto|capito|aiutato)|non (risponde|rispondi)"
    r"|no (me )?(respondes|respondiste|contestas|has respondido|entendiste|ayudaste)"
    r"|(ne|n) (repond|reponds|repondez|comprends|comprenez)( \w+)? pas|pas (repondu|compris)"
    r"|samajh( \w+){0,2} (nahi|nahin) (rahe|rahi|paa|pa|paye|sakte|sakti)\b|meri baat (samajh|sun)( \w+){0,2} (nahi|nahin)"
    r"|que (mierda|porqueria|basura)|tu ne (comprends|sers) (rien|a rien)|tu comprends rien|tu sers a rien"
    r"|ca (ne )?m aide pas|ca ne sert a rien|n importe quoi|pas ce que j ai demande|ras le bol|j en ai marre"
    r"|en ai marre|c est nul|du verstehst (mich )?(nicht|nichts)|verstehst du (mich )?nicht"
    r"|hilft (mir )?(nicht|nichts|gar nicht)|hilfst mir nicht|das habe ich nicht gefragt|so ein (mist|quatsch)"
    r"|quatsch|blodsinn|nao (me )?(ajuda|ajudou|entende|entendeu|serve)|voce nao (entende|ajuda)"
    r"|nao foi isso que (eu )?perguntei|que droga|saco cheio|non (mi )?(aiuti|aiuta|serve|servi|capisci|capisce)"
    r"|non e quello che ho chiesto|fa schifo|che schifo|sono stufo|sono stufa"
    r"|samajh nahi (aata|aa raha|aati|rahe|raha)( kya| yaar| yar| bhai| hai| ho| na| tumhe| aapko)*$|kuch samajh nahi|kisi kaam ka nahi|kuch kaam ka nahi"
    r"|koi fayda nahi|dimag kharab|bakwas band)\b"
)
_INCREDULOUS = re.compile(
    r"\b(seriously|really|are you kidding( me)?|wtf|come on)\s*(\?\s*){2,}|\bseriously\s*[?!]+\s*$"
)
_FOREIGN_JUDGEMENT = re.compile(
    rf"\b(esto|eso|c est|cest|ce|das|isso|isto|questo|ye|yeh|tu|du|voce|sei|eres)( es| est| ist| e| hai| bist| sind)?"
    rf"( \w+){{0,2}} {_INSULT}\b{_NOT_ANGRY}"
)
_BARE_INSULT = re.compile(
    r"^((so|very|totally|what|a|such|you|are|is|this|bot|the|omg|ugh|really|just|seriously|completely|absolutely"
    rf"|utterly|literally|pretty|fucking|bloody|how|too|im|i am) )*({_INSULT}|frustrated|frustrating|annoyed|angry"
    r"|furious|upset)( bot| thing)?$"
)
_ACRONYMS = frozenset(lx.words("""
ielts toefl pte gre gmat sat act uk usa us cas atas ihs opt cpt stem sevis ds mba msc phd lor sop cv gpa
ucas ircc pgwp oshc coe gs gte daad nz eu eea uae ok id bs ms ma ba bsc btech it ai cs hr pr nhs brp tb
fafsa css mit ucl lse kcl nyu ucla usc uni pal loa gic sop lors sops det ielts ukvi uscis dso otp pdf
"""))
_POSITIVE = re.compile(
    r"\b(thank\w*|thx|great|awesome|love|perfect|amazing|excellent|good|nice|cool|wow|hello|hi|hey|congrat\w*"
    r"|happy|yay)\b"
)


def _shouting(raw: str) -> bool:
    """Three or more all-caps words that are not acronyms, making up most of the message."""
    words = re.findall(r"[^\W\d_]{2,}", raw)
    plain = [w for w in words if w.lower() not in _ACRONYMS]
    caps = [w for w in plain if w.isupper()]
    return len(caps) >= 3 and sum(map(len, caps)) >= 10 and len(caps) >= 0.8 * len(plain)


def frustration(msg: Message) -> bool:
    """Anger at the bot, insults, "you didn't answer my question", or shouting."""
    if _FRUSTRATION.search(msg.flat) or _BARE_INSULT.match(msg.flat) or _INCREDULOUS.search(msg.folded) \
            or _FOREIGN_JUDGEMENT.search(msg.flat):
        return True
    return _shouting(msg.raw) and not _POSITIVE.search(msg.flat)


# --- complex --------------------------------------------------------------------------

_FIRST_PERSON = re.compile(
    r"^(got|just got|been|was|have been|had)\b|\bwhat now\b|\b(i|im|ive|id|me|my|mine|myself|m|we|our|ours|mujhe"
    r"|mera|meri|mere|maine|hamara|humara|karu|karun|karoon"
    r"|mi|mis|mio|mia|miei|mein|meine|meinem|meinen|ich|mir|mich|je|j|mon|ma|mes|moi|eu|meu|minha|meus|yo)\b"
)
# A condition in front makes a question general: "what if my visa is refused?".
_CONDITIONAL_MODALS = frozenset(lx.words("can could would might may"))
_HYPOTHETICAL = _CONDITIONAL_MODALS | lx.words(
    "if incase unless suppose supposing whether avoid prevent reduce reasons reason common why"
)
_ACTUAL = frozenset(lx.words("had have ive was were been got already previously before last twice once again baar"))

_REFUSAL = re.compile(
    r"\b(refus\w*|reject\w*|rejet\w*|denied|denial|declined|rechaz\w*|deneg\w*|negad[oa]s?|negaron|recusad\w*|recusaram"
    r"|abgelehnt|verweigert|rifiutat\w*|respint\w*)\b"
)
_REFUSED_THING = re.compile(
    r"\b(visa|visas|visum|visto|visado|permit|f1|f 1|cas|i 20|application|applications|admission|entry|boarding"
    r"|ukvi|embassy|consulate|ircc|uscis|sevis|university|universities|uni|college|offer|study permit|uk|usa|us|canada"
    r"|australia|germany|ireland|netherlands|new zealand|schengen|antrag|solicitud|demande|pedido|domanda"
    r"|candidatura|aplicacion|dossier|inscription|inscripcion|matricula|bewerbung)\b"
)
# Someone else's refusal, told before a question asked in general ("my cousin was refused; what are the most
# common reasons?"), is context for a general question, not the visitor's own case.
_SOMEONE_ELSE = re.compile(
    r"\b(my|mi|mon|ma|meu|minha|mein|meine|mio|mia|mera|meri|mere) (sister|brother|cousin|friend|friends"
    r"|roommate|classmate|colleague|uncle|aunt|niece|nephew|neighbour|neighbor|primo|prima|hermano|hermana"
    r"|amigo|amiga|cousine|frere|soeur|sœur|ami|amie|irmao|irma|bruder|schwester|freund|freundin|cugino|cugina"
    r"|fratello|sorella|amico|amica|dost|behen|bhai)\b"
)
_IN_GENERAL = re.compile(
    r"\b(in general|generally|most common|common reasons?|usually|typically|en general|mas comunes|mas comun"
    r"|generalement|les plus courant\w*|em geral|mais comuns|im allgemeinen|haufigsten|in generale"
    r"|piu comuni)\b"
)
# Patterns that hold only when the visitor speaks about themselves and not hypothetically.
# A study record with backlogs or a gap: a personal case for the rules, which the general entry on it may answer
_PROFILE = [re.compile(p) for p in (
    r"\b(\d+|one|two|three|four|five|six|seven|eight|nine|ten) (backlogs?|arrears?|atkts?|kts?|supplementar\w*"
    r"|compartments?|resits?|re sits?)\b|\b(i have|i had|ive|ive got|i got|having|with my|my)( \w+){0,2} (backlogs?"
    r"|arrears?|atkts?|kts?|supplementar\w*|compartments?|resits?)\b",
    r"\b(\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|long|big|huge|large) ?\+? ?"
    r"(years?|yrs?|yr|months?)? (of )?(study |education |educational |career |academic |employment )?gap\b(?! year)"
    r"|\bgap of (\d+|one|two|three|four|five|six|seven|eight|nine|ten|several|many|almost|nearly|over|more than)\b"
    r"|\bmy (study |education |academic |career )?gap\b(?! year)"
    r"|\bi (have|had|ve|took|ve had|have had|ve got) (a |an )?(\w+ ){0,2}gap\b(?! year)",
)]
# a record, immigration trouble or a withdrawn offer of the visitor's own: a case for a counsellor whatever general
# facts we hold
_GRAVE = [re.compile(p) for p in (
    # criminal history
    r"\bcriminal (record|records|history|case|cases|conviction|convictions|charge|charges|background|offen[cs]e)\b"
    r"|\b(convicted|conviction|arrested|jail|jailed|prison|imprisoned|court case|police case|charged with|charge sheet"
    r"|dui|dwi|felony|misdemeanou?r|antecedentes penales|casier judiciaire|vorstrafe\w*|precedenti penali"
    r"|case against me)\b",
    # immigration trouble
    r"\b(deport\w*|overstay\w*|over stay\w*|removal (order|notice|letter|decision)|entry ban|re entry ban|banned from"
    r"|illegally|illegal immigrant|undocumented|out of status|status violation|lost (my )?status|detained|detention"
    r"|asylum|refugee|smuggl\w*|forged|forgery|misrepresent\w*|lied (on|in|about)|false (information|documents?)"
    r"|fake (documents?|certificates?|degree|bank statement|offer letter|marksheets?|experience letter)"
    r"|curtail\w*|worked (more|over) than (\d+|twenty) hours|(caught|reported|warned|investigated) (for )?(working"
    r"|overstaying|cheating|plagiari\w*|using)|working (extra|more|over) hours)\b",
    # offers, CAS or status withdrawn
    r"\b(offer|offers|admission|admit|place|seat|cas|i 20|acceptance|enrolment|enrollment|sevis|visa|registration"
    r"|status|f 1|permit|record|scholarship|funding|stipend|loan|sponsorship|bursary|award|grant|application"
    r"|oferta|offre|angebot|studienplatz|zulassung|proposta|offerta|admision|vaga|plaza|posto)"
    r"( \w+){0,4} (withdrawn|rescinded|revoked|cancell?ed|taken back|pulled|terminated|curtailed|cut short|retirad[ao]"
    r"|cancelad[ao]|anulad[ao]|revocad[ao]|retiree?|annulee?|storniert|widerrufen|zuruckgezogen|annullat[ao]|void"
    r"|invalid|no longer valid|null and void"
    r"|revocat[ao]|ritirat[ao])\b"
    r"|\b(withdrew|rescinded|revoked|cancell?ed|terminated|curtailed|took back|pulled)( \w+){0,3} (offer|admission"
    r"|place|cas"
    r"|i 20|sevis|visa|enrolment|enrollment)\b",
)]
_PERSONAL = _GRAVE + [re.compile(p) for p in (
    # failed studies, low grades
    r"\b(failed|flunked|failing|repeated)( \w+){0,3} (exam|exams|subject|subjects|module|modules|course|courses"
    r"|year|years|semester|semesters|sem|paper|papers|class|classes|grade|unit|units|board|boards|12th|10th|final"
    r"|finals)\b",
    # appeals are about the visitor's own refusal; "what is an administrative review?" is general
    r"\b(appeal|appeals|appealed|administrative review|judicial review|reconsideration)\b",
    r"\b(academic probation|on probation|expelled|dismissed from|kicked out|dropped out|drop out|dropout"
    r"|withdrew from|withdrawn from|discontinued|suspended from|academic misconduct|plagiarism|malpractice)\b",
    r"\b(my|i have|i got|i scored|ive got|i only have)( a| an| only| very| quite| really| too)* (low|bad|poor|weak)"
    r" (gpa|cgpa|grades|marks|percentage|academics|academic record)\b"
    r"|\bmy (gpa|cgpa|grades|marks|percentage|academics) (is|are)( only| very| quite| really| too| so)* (low|bad"
    r"|poor|weak)\b",
    # health and disability
    r"\b(disabilit\w*|disabled|wheelchair|blind|visually impaired|deaf|hearing impaired|autis\w*|adhd|dyslexi\w*"
    r"|dyspraxi\w*|mental health|mental illness|mentally (ill|unwell|exhausted|drained|struggling)|depress\w*"
    r"|anxiety|panic attacks?|bipolar|schizophreni\w*|going through (a lot|a hard time|a difficult time|a tough time"
    r"|a rough (time|patch)|something)|struggling (mentally|emotionally)|(mentally|emotionally) (struggling|drained)"
    r"|ptsd|ocd|eating disorder|chronic (illness|pain|condition|disease)|medical condition|health condition"
    r"|health (issue|issues|problem|problems)|cancer|epilep\w*|diabet\w*|pregnan\w*|therap(y|ist)|psychiatr\w*"
    r"|medication|hiv|tb positive|surgery|hospitali[sz]ed|in hospital|illness|sick(?! of))\b",
    r"\b(havent|have not|hasnt|has not|didnt|did not|still not|not yet|never|still havent|still dont|dont)"
    r"( \w+){0,2} (received|receive|recieved|got|gotten|get|heard|hear back|been contacted|been called|been informed"
    r"|had a (reply|response)|arrived|come|came|been (issued|sent|delivered|processed|approved))\b"
    r"(?! (it|why|what|how|the point|you|this|that)\b)"
    r"|\bwhere (is|s|are) my (cas|i 20|visa|refund|application|offer|passport|letter|coe|documents?|payment|money|loan"
    r"|result|results|decision|counsellor|counselor|agent|advisor|brp|evisa|receipt|invoice|confirmation|admit"
    r"|acceptance|certificate)\b|\bwheres my\b|\b(its|it has|it s) been( \d+| two| three| four| five| six| several"
    r"| many| few| a few| a| one| over a| more than a)? (days?|weeks?|months?|ages|forever|so long|too long)\b"
    r"|\b(did|have|has) my (\w+ )?(documents?|application|file|payment|forms?|transcripts?|lor|sop) (get|got|reach"
    r"|reached|arrive|arrived|go|gone)\b"
    r"|\b(happening|going on|happened|the update|the status|news) (with|on|about) my\b"
    r"|\b(have|has|did) (you|your team|they|educonsult) (submit|submitted|send|sent|file|filed|apply|applied|process"
    r"|processed|upload|uploaded|forward|forwarded|book|booked)( \w+){0,2} my\b",
    r"\b(problem|problems|issue|issues|trouble|mistake|error|errors|wrong)( \w+){0,2} (with|in|on) my (visa|application"
    r"|cas|i 20|offer|documents?|passport|file|case|account|payment|booking|coe|sevis|status|name|details)\b",
    r"\b(i was|i got|i have been|ive been|we were|we got) (scammed|cheated|defrauded|tricked)\b|\bscammed me\b",
    r"\bmy (\w+ )?(visa|permit|status|i 20|brp|evisa|stamp|cas) (has |had |is |was )?(expired|expires"
    r"|expiring|lapsed|ran out|run out|running out)\b",
    # documents sent for a look, eligibility judged on the visitor's own profile
    r"\b(attached|attaching|attach|uploaded|here is|heres|sending)\b( \w+){0,8} (check|review|look at|go through"
    r"|proofread|read|evaluate|feedback|have a look|thoughts)\b|\b(please|pls|can you|could you) (check|review"
    r"|proofread"
    r"|evaluate) (it|this|that|them)\b|\bplease (check|review|evaluate|assess)$"
    r"|\b(eligible|qualify|chance|chances|good enough|competitive)\b( \w+){0,5} (with|given|based on) my (profile"
    r"|grades"
    r"|marks|score|scores|percentage|cgpa|gpa|background|experience|record|academics)\b",
    # trouble with the police; legal advice for the visitor's own case
    r"\b(trouble|problem|issue|case|complaint|record|history) with (the )?police\b"
    r"|\b(caution|warning|case|complaint|record|fine|arrest) (from|by|with) (the )?police\b"
    r"|\bpolice (case|complaint|record|trouble|caution|warning|station|custody)\b|\blegal (advice|help)\b",
    # someone else has not done what the visitor waits for
    r"\b(university|uni|college|school|they|embassy|consulate|counsellor|counselor|agent|advisor|you|team|educonsult"
    r"|he|she|it)( still)? (hasnt|has not|havent|have not|didnt|did not|never|wont|will not|isnt|is not)( yet)?"
    r" (sent|issued|released|given|replied|responded|processed|approved|answered|updated|confirmed|contacted|called)\b"
    r"|\b(find out|look into|check) (why|whether|if|what happened)\b"
    r"|\b(counsellor|counselor|advisor|adviser|consultant|agent|team|you|they|university)( \w+){0,3} never (called"
    r"|replied|responded|got back|contacted|emailed|came back|sent|answered)\b"
    r"|\b(hasnt|has not|havent|have not|didnt|did not|isnt|wont|why hasnt) (my|the|your)( \w+)? (counsellor|counselor"
    r"|advisor|adviser|consultant|agent|university|uni|college|embassy|team|school) (called|replied|contacted|sent"
    r"|responded|emailed|got back|answered|issued|updated)\b"
    r"|\b(has|have|was|is|were|are) my (\w+ )?(application|applications|documents?|file|payment|cas|i 20|offer|form"
    r"|forms|case|booking|refund)( been)? (submitted|sent|received|processed|approved|accepted|reviewed|issued|done"
    r"|completed|checked|uploaded|forwarded)\b"
    r"|\b(confirm|check|tell me)( \w+){0,3} (you|they|the university|your team) (received|got|have|has) my\b",
    # accidents and missed exams
    r"\b(i had|i was in|i met with|i got into|i was involved in) (an |a )?(\w+ )?(accident|injury|surgery)\b"
    r"|\bmissed (my|the|all my|most of my) (exams?|classes|semester|term|finals|modules?)\b",
    # checks, warnings and wrong details on documents
    r"\b(administrative processing|additional (checks|processing|review)|(low|poor) attendance|attendance (issue"
    r"|problem|warning)|reported me|warning letter|show cause)\b"
    r"|\b(wrong|incorrect|misspelt|misspelled) (name|date|dates|dob|date of birth|details|course|programme|program"
    r"|spelling|surname|information)\b",
    # safety and money trouble that has happened, not "is racism a problem in the UK?"
    r"\b(being|been|was|were|got|am|im|feel|felt|getting) (harassed|bullied|abused|threatened|assaulted|blackmailed"
    r"|stalked|discriminated|attacked|robbed|mugged|evicted)\b|\b(faced|facing|experienced|experiencing|victim of"
    r"|suffered|suffering) (racism|discrimination|harassment|bullying|abuse|assault)\b|\b(harassing|threatening"
    r"|blackmailing|stalking|bullying|abusing) me\b|\b(feel|felt|am|im|i am) (unsafe|not safe)\b|\bhomeless\b"
    r"|\bfinancial (hardship|difficulty|difficulties|crisis|problems?)\b"
    r"|\b(cant|cannot|unable to|not able to|couldnt|struggling to|wont be able to) pay (my|the)( \w+){0,2} (instal\w*"
    r"|fees|tuition|rent|deposit|invoice|loan|balance)\b",
    # billing and our own systems, as the visitor's own problem
    r"\b(charged|billed) me\b|\b(you|they|i was|i got|ive been|i have been|we were|we got|got|was|been)"
    r" (charged|billed)( me)? (twice|double|two times|wrong|wrongly|incorrectly|extra|more than)"
    r"|\b(my|our) (invoice|bill|receipt|charge|fee|fees|amount|payment)( \w+){0,3} (is|was|are|were|looks|seems) (wrong"
    r"|incorrect|too high|more than|higher than|different)\b"
    r"|\b(the|your|this) (invoice|bill|receipt|charge)( \w+){0,3} (is|was|looks|seems) (wrong|incorrect|too high)\b"
    r"|\b(payment|charge|transaction|money|amount)( \w+){0,3} (twice|two times|double|multiple times)\b"
    r"|\b(shows|showing|says|still) (as )?(unpaid|not paid|pending|failed)\b"
    r"|\b(extra|unexpected|unknown|unauthori[sz]ed|duplicate|strange|hidden|additional) (charge|charges|payment"
    r"|deduction|transaction|debit)\b"
    r"|\bstill (dont|do not|havent|have not) (have|got) (my|the|any) (offer|cas|i 20|visa|letter|documents|refund"
    r"|confirmation|receipt|reply|response|update|coe|loa)\b"
    r"|\b(error|errors|problem|issue|fails?|failing)\b( \w+){0,3} (when|while|whenever) (i|trying|try|\w+ing)\b"
    r"|\b(error|errors|problem|issue|bug|glitch|stuck|fail\w*)( \w+){0,6} (on|in|with) (your|the) (site|website"
    r"|portal|app|page|system|form|dashboard)\b",
    # family circumstances that change who can sponsor or sign
    r"\b(divorc\w*|separated|single (parent|mother|father|mom|mum|dad)|custody|legal guardian|guardian|adopted"
    r"|adoption|orphan\w*|stateless|dual (citizenship|nationality)|name (mismatch|change|changed|is different|spelled)"
    r"|different (names?|surnames?|spelling)|spelling (mistake|error) in my)\b"
    r"|\b(sponsor|guarantor)( \w+){0,4} (retired|unemployed|lost (his|her|their) job|passed away|died|bankrupt|sick"
    r"|not working|self employed|changed|abroad|cannot|cant|can t)\b",
)]
_ALWAYS = re.compile(
    # refusal follow-ups and appeals
    r"\b(inadmissib\w*|214 ?b|221 ?g)\b"
    # billing, refunds and complaints
    r"|\bdouble (charged|charge|payment|billed)\b|\bovercharg\w*|\bbilling (issue|problem|error|mistake|complaint"
    r"|dispute)\b"
    r"|\bwrong (amount|charge|invoice|bill)\b|\bcharge ?back\b"
    r"|\b(paid|charged|billed|deducted|debited)( \w+){0,4} (twice|two times|double|multiple times)\b"
    r"|\b(someone|somebody|some one) (is using|used|accessed|logged into|logged in to|hacked|got into|changed) my\b"
    r"|\b(took|taken|deducted|debited|charged)( \w+){0,2} (my )?(money|payment|amount)\b"
    r"|\bmy account (will be|is being|was|has been|got|is) (deleted|closed|suspended|blocked|disabled|deactivated"
    r"|hacked|locked|compromised)\b"
    r"|\bunauthori[sz]ed\b"
    r"|\b(not|never|havent|have not|didnt|did not|im not|am not) (receiving|receive|received|getting|get|got)"
    r" (the |my |any |a )?(verification|confirmation|reset|otp|activation|login|password|one time) ?(email|code|link"
    r"|sms"
    r"|message|mail|pin)?\b"
    r"|\bdispute (the |a |this )?(charge|payment|transaction)\b"
    r"|\b(payment|money|amount)( was| got| has been)? (deducted|debited|taken)( twice| but| and)"
    r"|\b(reembolso|devolucion del dinero|remboursement|rembourser|remboursez|rimborso|rimborsare|ruckerstattung"
    r"|erstattung|geld zuruck|dinheiro de volta|paisa wapas|paise wapas)\b"
    r"|\b(complain|complaint|complaints|reclamacion|beschwerde|reclamacao|reclamo)\b"
    # documents to review, chances to judge
    r"|\b(can|could|will|would) you( please)? (write|draft|prepare|improve|fix|correct|edit) (my|the|a) "
    r"(sop|statement|essay|cv|resume|lor|letter|application)\b|\b(please|pls|plz) (write|draft|prepare) my\b"
    r"|\b(here is|heres|attached|ive attached|i have attached|ive uploaded|i have uploaded|i uploaded|im sending"
    r"|i am sending|sending you|i sent you|ive sent) (is |are )?(my|the) (sop|statement|essay|cv|resume|lor|draft"
    r"|documents?|transcripts?|application|profile)\b"
    r"|\bmy (sop|statement|essay|cv|resume|lor|letter|profile|application|documents?|draft)( is| are| looks| sounds"
    r"| seems)( \w+){0,2} (good|ok|okay|fine|strong|enough|right|correct|sufficient|competitive|acceptable|decent)\b"
    r"|\b(is|does|do|are|will) (my|mine|this) (\w+ )?(sop|statement|essay|cv|resume|lor|letter|profile|application"
    r"|documents?|draft)( \w+){0,2} (look|sound|seem|good|ok|okay|fine|strong|enough|right|correct|sufficient"
    r"|competitive|acceptable|decent)\b"
    r"|\b(my|our) (\w+ )?chances?\b|\bchances? (of|for) (me|my|getting|admission|acceptance|selection|approval"
    r"|success)\b"
    r"|\bprofile (evaluation|assessment|review)\b|\bwill i (get|be) (in|admitted|accepted|selected|approved|rejected"
    r"|refused|the visa|a visa|my visa|an offer|admission|into)\b|\bcan i get (in|into|admitted"
    r"|admission)( \w+){0,4} with my\b"
    # tech problems with our own systems
    r"|\b(cant|cannot|unable to|not able to|couldnt|could not|wont let me|doesnt let me|failed to|fails to|trouble"
    r"|problem|problems|issue|issues|error|stuck|difficulty)( \w+){0,3} (log ?in|login|logging in|sign ?in|signin"
    r"|signing in|sign up|signup|access|upload|uploading|reset|otp|verification code|password|portal|account|website"
    r"|site|webpage|page|app|link|dashboard|payment page|payment portal|pay online|make (the |a )?payment"
    r"|complete (the |my )?payment|checkout|download)\b"
    r"|\b(log ?in|login|sign ?in|portal|website|site|webpage|page|app|link|payment|upload|otp|code|password|account"
    r"|button|form|card|dashboard|email)( \w+){0,4} (not working|isnt working|is not working|doesnt work|does not work"
    r"|didnt work|did not work|not loading|wont load|doesnt load|broken|is down|crash\w*|error|errors|failed|fails"
    r"|failing|keeps (crashing|failing|loading|saying|showing|spinning|logging|giving|throwing)|stuck|expired"
    r"|invalid|locked|blocked"
    r"|not (opening|sending|arriving|coming|accepted|going through)|declined|bounced|glitch\w*|bug\w*"
    r"|never (arrives|arrived|comes|came|works|worked|loads|loaded)|(doesnt|does not|didnt|did not|hasnt|has not)"
    r" (arrive|come|load|open|work))\b"
    r"|\b(error (message|code)|404|500 error|page not found|server error|locked out|account (is )?(locked|blocked"
    r"|suspended|disabled|hacked)|hacked)\b"
    # crises
    r"|\b(suicid\w*|kill myself|end my life|want to die|self ?harm\w*|hurt myself|no reason to live)\b"
    r"|\b(father|mother|dad|mom|mum|papa|mama|parent|parents|brother|sister|wife|husband|son|daughter|grandmother"
    r"|sponsor|guarantor|guardian|friend|partner|cousin|spouse"
    r"|grandfather|grandma|grandpa|granny|nani|dadi|uncle|aunt|relative|child|baby|fiance|fiancee|sibling|padre"
    r"|madre|vater|mutter|pai|mae)( \w+){0,4} (passed away|died|dead|dying|hospitali[sz]ed|in hospital"
    r"|in the hospital|admitted to hospital|icu|accident|critical condition|seriously ill|very ill|very sick|is sick"
    r"|fell ill|surgery|heart attack|stroke|cancer|emergency|unwell|diagnosed|funeral|killed|went missing"
    r"|critically ill|ill|sick(?! of)|injured)\b"
    r"|\b(death|died|passed away|funeral|bereavement|loss)( \w+){0,3} (in )?(my|the|our) family\b"
    r"|\bfamily (emergency|emergencies|crisis|tragedy|death|situation)\b|\bmedical emergency\b|\bbereavement\b"
    r"|\b(complex|complicated|unusual|tricky|sensitive|messy|difficult|special) (situation|case|issue|problem|matter"
    r"|circumstances?)\b|\bsomething (complex|complicated|personal|sensitive|unusual|tricky)\b"
    r"|\b(case|situation|circumstances?) (is|are) (a bit |bit |quite |very |really |pretty |kind of )?(complex"
    r"|complicated|unusual|tricky|sensitive|messy|difficult)\b"
    r"|\b(nobody|no one|noone|no body|none of you|nobody from your team) (has |have |ever |even )?(contacted|called"
    r"|replied|responded|emailed|answered|got back|gotten back|reached out|helped|followed up|updated|informed|told"
    r"|messaged|written)\b"
    r"|\b(keep|keeps|kept) getting (an |the |this )?(error|message|failure|problem)\b"
    r"|\b(promised|said|told me)( \w+){0,5} (never did|but never|but didnt|but did not|but nothing|but no one"
    r"|but nobody)\b"
    r"|\bi paid( \w+){0,5} (but|and) (nobody|no one|nothing|still|havent|have not|didnt|did not|never|no)\b"
    r"|\b((my|our) (lawyer|solicitor|attorney)|legal action|take legal|sue you|sue them|suing"
    r"|consumer court|take you to court|go to court)\b"
)


# "Can you check my SOP?" asks us; "will admissions read my essay?" asks about someone else.
_REVIEW = re.compile(
    r"\b(check|review|look at|look over|go through|go over|proofread|proof read|read|evaluate|assess|edit|rate"
    r"|critique|verify|vet|feedback on)( \w+){0,2} (my|mine|this|attached|the attached)( \w+){0,2} (sop|sops|statement"
    r"|essay|essays|cv|resume|lor|lors|letter|letters|documents?|docs|application|profile|transcripts?|draft|form"
    r"|forms|ds 160|ds160|file|files|portfolio|proposal|paperwork|eligibility|chances|case|situation)\b"
)
# Account, application and document status only a person can look up, unless the visitor
# asks how to check it themselves ("how do I track my visa application?").
_STATUS = re.compile(
    r"\b(status|update|updates|progress|news) (of|on|about|for|regarding) (my|our)\b"
    r"|\bmy (\w+ )?(application|visa|cas|i 20|offer|refund|case|file|payment|booking|appointment|documents?|account"
    r"|coe|loan|admission|enrolment) (status|update|progress)\b"
    r"|\b(check|track|look into|look up|pull up|access|view|see|find|confirm|verify|cancel|reschedule|change|update"
    r"|delete|close)( \w+){0,2} my (application|applications|account|case|file|booking|payment|profile|cas|i 20|offer"
    r"|appointment|documents?|details|record|records|consultation|meeting|session|subscription|package|plan|data"
    r"|email|phone number|number)\b"
    r"|\b(did|have|has) (you|your team|anyone|someone) (receive|received|get|got|see|seen|check|checked|review|reviewed"
    r"|look at|looked at) my\b"
    r"|\bmy (counsellor|counselor|advisor|adviser|consultant|agent|case manager) (hasnt|has not|didnt|did not|never"
    r"|isnt"
    r"|is not|wont|will not|doesnt|does not|still|stopped|ignor\w*|not)\b"
    r"|\b(been|still|im|i am) waiting( for| on)? (\d+|a|one|two|three|four|five|six|several|many|few|over|more than)"
    r"( \w+)? (days?|weeks?|months?)\b|\bstill waiting (for|on) (my|the|your|a)\b"
)
_SELF_SERVICE = re.compile(r"^(how|where) (do|can|could|should|would|to) (i|we|one)?\b|^how to\b")
# "how do I check my visa application?" asks how to look it up, not for someone to review it
_CHECK_MYSELF = re.compile(r"^(how|where) (do|can|could|should) (i|we) (check|track|see|view|look up|find)\b"
                           r"|^how to (check|track|see|view|look up|find)\b")
# A refund asked for, not a refund policy asked about ("do I get a refund if my visa is refused?").
_REFUND = re.compile(r"\b(refund(s|ed|ing)?|money back|paise wapas|paisa wapas)\b")
_CONDITIONAL = re.compile(
    r"\b(if|in case|incase|policy|policies|refundable|what happens|whether|suppose|rules|terms|agar|toh)\b"
)
_THIRD_PARTY = frozenset(lx.words("""
university universities uni college colleges admissions admission they officer officers embassy consulate committee
school schools person people reviewers tutor professor ukvi ircc uscis tutors professors
"""))


def _word_index(flat: str, pos: int) -> int:
    """Which word of a space-joined message the character at `pos` starts."""
    return flat.count(" ", 0, pos)


def _hypothetical(tokens: list[str], end: int) -> bool:
    """A condition ("if", "why", "avoid") before position `end` with no sign it already happened."""
    start = max(0, end - 7)
    before = tokens[start:end]
    # "Can you check..." asks us to act; only "can a visa be refused..." is a general question.
    conditions = [t for i, t in enumerate(before, start) if t in _HYPOTHETICAL
                  and not (t in _CONDITIONAL_MODALS and tokens[i + 1:i + 2] in (["you"], ["u"], ["someone"]))]
    return bool(conditions) and not any(t in _ACTUAL for t in before)


_OWN = frozenset(lx.words("i im ive me my we our mera meri mere"))
# a refusal since mended ("refused last year but I got it on the second try and finished my course")
_MENDED = re.compile(r"\b(all sorted|sorted now|(got|granted) it (on|in|at) the (second|2nd|next|third|3rd) (try|attempt|time)"
                     r"|(approved|granted|got it|got the visa) (later|eventually|afterwards|the (second|next) time)"
                     r"|finished my (course|degree|studies|masters|bachelors))\b")


def _refusal_told(flat: str) -> re.Match[str] | None:
    """Where a message tells of a refusal of something one applies for, not mended since."""
    refusal = _REFUSAL.search(flat)
    return refusal if refusal and _REFUSED_THING.search(flat) and not _MENDED.search(flat) else None


def own_refusal(msg: Message) -> bool:
    """The visitor's own refusal told as having happened: "I was rejected for a study permit", "my visa got
    refused" (not "if my visa is refused", nor a cousin's)."""
    flat = msg.flat
    refusal = _refusal_told(flat)
    if not refusal:
        return False
    at = _word_index(flat, refusal.start())
    # "my cousin's visa was refused" is someone else's; "mine was refused... my uncle sponsors me now" is not
    other = _SOMEONE_ELSE.search(flat, 0, refusal.start())
    if other and at - _word_index(flat, other.start()) <= 8:
        return False
    # "my student visa for canada was refused": the owner may come a few words before the verb
    return (any(t in _ACTUAL for t in msg.tokens[max(0, at - 4):at])
            and any(t in _OWN for t in msg.tokens[max(0, at - 6):at]) and not _hypothetical(msg.tokens, at))


def grave(text: str) -> bool:
    """A record, immigration trouble or a withdrawn offer of the visitor's own, told as having happened ("I
    overstayed in 2018")."""
    msg = _start(text)
    if _SOMEONE_ELSE.search(msg.flat) or not _FIRST_PERSON.search(msg.flat):
        return False
    return any(not _hypothetical(msg.tokens, _word_index(msg.flat, m.start()))
               for m in (p.search(msg.flat) for p in _GRAVE) if m)


def complex_case(msg: Message, profile: bool = True) -> bool:
    """A personal case the bot must not answer: refusals, records, refunds, reviews, health, crises; with
    `profile`, a gap or backlogs too."""
    flat = msg.flat
    told_of_someone_else = bool(_SOMEONE_ELSE.search(flat) and _IN_GENERAL.search(flat))
    if _ALWAYS.search(flat) and not told_of_someone_else:
        return True
    if _REFUND.search(flat) and _FIRST_PERSON.search(flat) and not _CONDITIONAL.search(flat):
        return True
    if _STATUS.search(flat) and not _SELF_SERVICE.match(flat):
        return True
    review = _REVIEW.search(flat)
    if review and not _CHECK_MYSELF.match(flat):
        at = _word_index(flat, review.start())
        if not any(t in _THIRD_PARTY for t in msg.tokens[max(0, at - 5):at]):
            return True
    if not _FIRST_PERSON.search(flat):
        return False
    refusal = _refusal_told(flat)
    if refusal and not told_of_someone_else:
        if not _hypothetical(msg.tokens, _word_index(flat, refusal.start())):
            return True
    for pattern in (*_PROFILE, *_PERSONAL) if profile else _PERSONAL:
        match = pattern.search(flat)
        if match and not _hypothetical(msg.tokens, _word_index(flat, match.start())):
            return True
    return False


# The rules' patterns are not linear in length, and cost most where short words crowd ("due a due a..."),
# so they read a message's start only: its first characters, and of those its first words.
RULES_READ, RULES_WORDS = 160, 32


@lru_cache(maxsize=64)
def _start(text: str) -> Message:
    # one reading per message, shared by the rules, `profile_only` and `grave`, each asked of the same text
    return Message(" ".join(text[:RULES_READ].split(" ")[:RULES_WORDS]))


def english_rules(text: str) -> str | None:
    """The handoff reason the English rules read in a message's start: a second reader beside the model."""
    msg = _start(text)
    for reason, trigger in (("requested", requested), ("complex", complex_case), ("frustration", frustration)):
        if trigger(msg):
            return reason
    return None


def profile_only(text: str) -> bool:
    """Of a message the English rules read as a case: whether nothing but a gap or backlogs makes it one."""
    return not complex_case(_start(text), profile=False)
