"""Text normalisation shared by retrieval, triggers and routing."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# What Arabic writes onto the front of a word (and, then, with, as, for, will, the): a term is read after one of
# these, not after any letters, which would find "لا" (no) inside "فعلا" (really).
PROCLITICS = frozenset({"و", "ف", "ب", "ك", "ل", "س", "ال", "وال", "بال", "فال", "كال", "لل", "ول", "فل", "وب", "فب",
                        "وس", "فس", "ولل", "فلل"})

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'", "\u00df": "ss",
                         "%": " percent ",  # "60%" asks about a percentage
                         # letters no accent-stripping reaches, else "Đức" (Germany) would read as "uc" (Australia)
                         "\u0111": "d", "\u0110": "d", "\u0131": "i", "\u0142": "l", "\u0141": "l",
                         "\u00f8": "o", "\u00d8": "o", "\u00e6": "ae", "\u00c6": "ae", "\u0153": "oe", "\u0152": "oe"})
# English contractions are joined ("don't" -> "dont") so negations stay one token;
# other apostrophes (French elision, "quelqu'un") become a space.
_CONTRACTION = re.compile(r"([a-z])'(t|s|m|re|ve|d|ll)\b")
_ACCENTS = re.compile("[\u0300-\u036f]")  # Latin diacritics only; Devanagari signs are part of the word
TOKEN = re.compile(r"[a-z0-9\u0900-\u097f]+")
# Capitalised "US"/"U.S." is the country; lowercase "us" is almost always the pronoun.
_US = re.compile(r"\bU\.S\.(A\.)?|\bUS\b|\bUSA\b")

# Multi-word terms collapsed to one token before tokenising, so "study permit" or
# "F-1" match as units instead of as common words. Each comes with substrings one of which
# any match must contain: checking those first skips almost every regex scan.
_PHRASES = [(needles, re.compile(p), r) for needles, p, r in (
    (("1",), r"\bf[\s-]?1\b", " f1 "),
    (("20",), r"\bi[\s-]?20\b", " i20 "),
    (("901",), r"\bi[\s-]?901\b", " i901 "),
    (("160",), r"\bds[\s-]?160\b", " ds160 "),
    (("1b",), r"\bh[\s-]?1b\b", " h1b "),
    (("1",), r"\bj[\s-]?1\b", " j1 "),
    (("500",), r"\bsub[\s-]?class\s*500\b|\b500 visa\b", " subclass500 "),
    (("u.s", "usa", "us a", "u s", "united states", "america"),
     r"\bu\.?\s?s\.?\s?a\b|\bunited states( of america)?\b|\bamerica\b", " usa "),
    (("u.k", "kingdom", "britain", "england"),
     r"\bu\.k\.?|\bunited kingdom\b|\bgreat britain\b|\bbritain\b|\bengland\b", " uk "),
    (("zealand",), r"\bnew zealand\b", " newzealand "),
    (("purpose", "motivation"), r"\bstatements? of purpose\b|\bmotivation letter\b|\bletter of motivation\b", " sop "),
    (("recommendation", "reference"),
     r"\bletters? of (recommendation|reference)\b|\b(recommendation|reference) letters?\b", " lor "),
    (("permit",), r"\bstudy permits?\b", " studypermit "),
    # before the generic post-study phrase, which would otherwise take it
    (("post graduation work permit", "post-graduation work permit"), r"\bpost[\s-]?graduation work permit\b", " pgwp "),
    (("post", "psw"), r"\bpost[\s-]?(study|graduation)[\s-]?work( visa| permit)?\b|\bpsw\b", " poststudywork "),
    (("graduate ",), r"\bgraduate (route|visa)\b", " graduate poststudywork "),
    (("part",), r"\bpart[\s-]?time\b", " parttime "),
    (("living",), r"\bcost of living\b|\bliving (costs?|expenses)\b", " livingcost "),
    (("co-op", "co op", "coop"), r"\bco[\s-]?op\b", " coop "),
    (("back",), r"\bpay(ing)? (it |them |the loan )?back\b", " repayment "),
    (("loan",), r"\bstudent loans?\b", " education loan "),
    (("surcharge",), r"\bimmigration health surcharge\b", " ihs "),
    (("acceptance for studies",), r"\bconfirmation of acceptance for studies\b", " cas "),
    (("grant",), r"\bvisa (grant|granted|grants)\b|\b(grant|granted) (my |the |a )?visa\b", " visa decision "),
    (("practical training",), r"\boptional practical training\b", " opt "),
    (("health cover",), r"\boverseas student health cover\b", " oshc "),
    (("confirmation of enrolment", "confirmation of enrollment"), r"\bconfirmation of enrol?lment\b", " coe "),
)]

# Spelling variants and everyday words mapped onto the knowledge base's vocabulary.
SYNONYMS: dict[str, str] = {
    "uni": "university", "unis": "university", "univ": "university", "universities": "university",
    "varsity": "university", "colleges": "college",
    "us": "us", "states": "usa", "american": "usa", "british": "uk", "english": "english",
    "canadian": "canada", "aussie": "australia", "australian": "australia", "oz": "australia",
    "german": "germany", "deutschland": "germany", "irish": "ireland", "dutch": "netherlands",
    "holland": "netherlands", "nz": "newzealand", "kiwi": "newzealand",
    "masters": "master", "msc": "master", "ma": "master", "mtech": "master", "meng": "master",
    "ms": "master", "pg": "postgraduate", "postgrad": "postgraduate",
    "bachelors": "bachelor", "bsc": "bachelor", "ba": "bachelor", "btech": "bachelor",
    "ug": "undergraduate", "undergrad": "undergraduate", "doctorate": "phd", "doctoral": "phd",
    "fee": "cost", "fees": "cost", "price": "cost", "prices": "cost", "costs": "cost", "expense": "cost",
    "expenses": "cost", "charges": "charge", "expensive": "cost", "cheap": "cheapest",
    "papers": "documents", "paperwork": "documents", "docs": "documents", "hrs": "hours", "hr": "hours",
    "reject": "refuse", "rejected": "refuse", "rejection": "refuse", "rejections": "refuse", "refused": "refuse",
    "refusal": "refuse", "refusals": "refuse", "denied": "refuse", "denial": "refuse", "declined": "refuse",
    "repay": "repayment", "payback": "repayment",
    "husband": "spouse", "wife": "spouse", "partner": "spouse", "graduating": "graduate",
    "graduation": "graduate", "graduated": "graduate",
    "bursary": "scholarship", "bursaries": "scholarship", "scholarships": "scholarship",
    "grants": "scholarship", "grant": "scholarship",
    "housing": "accommodation", "dorm": "accommodation", "dorms": "accommodation",
    "dormitory": "accommodation", "hostel": "accommodation", "hostels": "accommodation",
    "halls": "accommodation", "lodging": "accommodation",
    "jobs": "job", "working": "work", "internships": "internship",
    "recommender": "lor", "referee": "lor", "referees": "lor", "reference": "lor",
    "references": "lor", "lors": "lor", "recommendation": "lor", "sops": "sop",
    "resume": "cv", "transcript": "transcripts", "marksheet": "transcripts",
    "marksheets": "transcripts", "visas": "visa", "permit": "permit",
    "counselor": "counsellor", "counselors": "counsellor", "counsellors": "counsellor",
    "adviser": "advisor", "advisers": "advisor", "advisors": "advisor",
    "consultants": "consultant", "appointments": "appointment", "appointmnt": "appointment", "consultations": "consultation",
    "consultaion": "consultation", "consulation": "consultation", "boook": "book",
    "enroll": "enrol", "enrollment": "enrolment", "programs": "programme",
    "program": "programme", "programmes": "programme", "courses": "course",
    # "processing" is how long a visa takes; "process" is how to apply: a stem must not join them
    "processing": "processingtime", "procesing": "processingtime", "processin": "processingtime",
    "requirement": "requirements", "required": "requirements", "eligibility": "requirements",
    "eligible": "requirements", "insurances": "insurance", "tution": "tuition",
    "scolarship": "scholarship", "scholorship": "scholarship", "univercity": "university",
    "universty": "university", "accomodation": "accommodation", "acommodation": "accommodation",
    "ielts": "ielts", "toefl": "toefl", "gre": "gre",
    # Hinglish content words
    "kharcha": "cost", "kharche": "cost", "paisa": "money", "paise": "money", "padhai": "study", "padhna": "study",
    "kaam": "work", "naukri": "job", "ghante": "hours", "ghanta": "hours", "rehna": "live", "rehne": "live",
    "likhna": "writing", "likhne": "writing",
    "biwi": "spouse", "pati": "spouse", "patni": "spouse", "parivar": "family", "bacche": "children",
    "shulk": "cost", "sasta": "cheapest", "sasti": "cheapest", "mehenga": "cost", "mehengi": "cost",
    "chhatravritti": "scholarship", "mahina": "month", "mahine": "month", "saal": "year",
    "baje": "time", "khulta": "open", "khulte": "open", "din": "days", "hafte": "weeks",
    "wat": "what", "wht": "what", "wot": "what", "abt": "about", "bout": "about", "ppl": "people", "thru": "through",
    "plss": "please", "pleasee": "please", "kinda": "kind", "sorta": "sort", "gonna": "going", "bcoz": "because",
    "coz": "because", "cuz": "because", "bcz": "because", "wid": "with", "wen": "when", "hw": "how",
    "pricing": "cost", "priced": "cost", "located": "location", "locations": "location",
    "percent": "percentage", "percentages": "percentage",
    "ruk": "stay", "rukna": "stay", "rukne": "stay", "baad": "after",
    "khula": "open", "dhoondhna": "search", "dhoondhne": "search", "dhundhne": "search", "dhundne": "search",
    "proccessing": "processingtime", "processsing": "processingtime", "prosessing": "processingtime",
}

STOPWORDS = frozenset("""
a an the and or but if of to in on at for from by with about as into than then so
i me my mine we our us you your yours he she it its they them their this that these those
is are was were be been being am do does did doing done have has had having will would
shall should can could may might must need needs needed want wants wanted like
what which who whom whose when where why how much many any some all each every more most
there here please pls plz kindly tell know let get got give just also too very really
hi hello hey thanks thank ok okay yes no not im id ive ill dont doesnt didnt cant
one ones thing things way something anything someone anyone anybody somebody
whats hows wheres whos whens whys thats its theres heres lets youre theyre isnt arent wasnt werent
wont wouldnt shouldnt couldnt havent hasnt hadnt youve youll youd weve hes shes ill
u ur r pls plz wanna gonna gotta thx lol yeah yep also still even actually basically exactly maybe
perhaps already again now then just only sure quite guys bro sir madam kind kinds kinda sort type
""".split())
# Function words of the other languages visitors write in: they carry no topic, and a message
# made mostly of them is not one the English knowledge base can be judged on.
FOREIGN_STOPWORDS = frozenset("""
el la los las un una unos de del en con por para que es son como cuanto cuanta donde cuando quiero puedo mi mis
le les des du et est avec pour dans sur je tu il nous vous mon ma mes combien comment quand ou pas moi toi
der die das den dem ein eine einen ich du sie wir ist sind mit fur von zu auf wie viel wann wo mein meine nicht
o os as um uma do da dos das em com por para eu voce meu minha quanto quando onde nao
il lo gli di da con per che io mio mia quanto quando dove sono non
y und aus tum tal
""".split())
# Hindi function words written in Latin letters: visitors mix them into English questions ("visa ki fees
# kitni hai"), so they are dropped like stopwords but do not make a message foreign.
HINGLISH = frozenset("""
kya hai hain ka ki ke ko se mein me mujhe mera meri mere aur bhi kaise kitna kitne kitni kab kahan koi ho hoga
sakta sakte sakti karna karni karo karte batao bas nahi nahin kisi baat chahiye milta milti lagta lagti padta
padte padti hota hoti aata aati ya liye wala wali jata jaate jaati aap aapka aapki aapke apka apki apke log
poora poore poori pura puri karu karun karein kare dete deti deta dijiye milega milegi chalega abhi
baad pehle tak toh agar jab tab kuch sab yaar bhai raha rahi rahe apna apni apne mil jayega jayegi
saath sath wahan wahaan yahan padega padegi padenge karwana karwani karwane hu hoon hun kar pe hogi lu loon ek har baar
karega karegi karenge banda bandi
""".split())


# Everyday words that say little about which answer is wanted; when the knowledge base lacks
# them they should not weigh like a rare name ("Purdue", "Bolton") does.
COMMON = frozenset("""
able about above accept accepted across act actually add after afternoon ago agree ahead allow allowed almost
alone along already alright although always amazing another answer anymore anyway anywhere appear around arrive
ask asked asking available away awesome back bad basic become before begin being believe best better between
big bit both bring build busy buy call came care carry case certain chance change check choose clear close come
coming complete confused consider continue correct could couple course current currently day days decide
decided definitely detail details different difficult do doing done down during each early easy else end
enough entire especially ever everyone everything exact example excited expect experience explain fact fair
far fast feel feeling few fill final finally find fine finish first follow following found free friend full
future general get gets getting give given go goes going gone good got great guess guide half happen happened
happy hard hear heard help helpful high hold hope hoping hour hours idea important include including
information instead interested into issue keep kind kinda knew know known large last late later least leave
left less let level life like likely little live long look looking lot lots love low made main make making
many matter mean means meant might mind minute miss moment month months move much must name near nearly
necessary need new next nice normal note nothing notice number often old once only open option options order
other others otherwise over own part particular past pay people perfect person pick place plan planning
please point possible prefer prepare pretty probably problem proper put question questions quick quickly
quite rather read ready real really reason recent recently right run said same saw say saying second see seem
seems seen send sent set several short should show simple since single small so soon sorry sort sound speak
specific start started starting still stuff such suggest suppose sure take taken taking talk tell telling
than thanks thing things think thinking though thought through time times today together told tomorrow too
took total totally true try trying turn type understand unless until upon use used useful using usual usually
various very wait want wanted way week weeks well went whatever while whole why wish within without wonder
wondering word words work worried worth would write wrong year years yes yet yesterday young
""".split())


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lowercase, strip Latin accents and join English contractions."""
    text = text.translate(_QUOTES).lower()
    if not text.isascii():
        text = _ACCENTS.sub("", unicodedata.normalize("NFKD", text))
    text = _CONTRACTION.sub(r"\1\2", text)
    return text.replace("'", " ")


def tokens(text: str) -> list[str]:
    """Folded word tokens, punctuation dropped."""
    return TOKEN.findall(fold(text))


@lru_cache(maxsize=16384)
def stem(word: str) -> str:
    """A light English stemmer: plurals, -ing, -ed and final -e, enough for matching."""
    if len(word) <= 3 or not word.isalpha() or not word.isascii():
        return word
    if word.endswith(("ies", "ied")) and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("ing") and len(word) > 5:
        word = word[:-3]
    elif word.endswith("ed") and not word.endswith("eed") and len(word) > 4:
        word = word[:-2]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=4096)
def flat(text: str) -> str:
    """Folded words joined by single spaces, capitalised "US" read as the country."""
    return " ".join(TOKEN.findall(fold(text if text.isupper() else _US.sub(" usa ", text))))


@lru_cache(maxsize=4096)
def terms(text: str) -> tuple[str, ...]:
    """Content terms for retrieval and similarity: phrases joined, synonyms mapped, stopwords out, stemmed."""
    folded = fold(text if text.isupper() else _US.sub(" usa ", text))
    for needles, pattern, repl in _PHRASES:
        if any(n in folded for n in needles):
            folded = pattern.sub(repl, folded)
    out = []
    for tok in TOKEN.findall(folded):
        tok = SYNONYMS.get(tok, tok)
        if tok not in STOPWORDS and tok not in FOREIGN_STOPWORDS and tok not in HINGLISH:
            out.append(stem(tok))
    return tuple(out)


def deletions(word: str) -> set[str]:
    """The word and every form of it with one letter left out: two words within one edit share one."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}
