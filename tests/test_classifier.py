"""The learned handoff decision: its corpus, its committed model, its safety floor and its cost."""
from __future__ import annotations

import json
import time
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st
from starlette.testclient import TestClient

from escalation import assess
from escalation.classifier import MODEL, digest
from escalation.features import concepts, normalise, word_line, words
from escalation.safety import advice, emergency
from escalation.train import CORPUS, build
from models import ChatSession, Message
from tests.conftest import Browser

ROWS = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
SAFETY = [r for r in ROWS if r.get("safety")]


def test_committed_model_and_corpus_are_trained_from_the_current_sources() -> None:
    import numpy as np

    with np.load(MODEL) as saved:
        assert str(saved["digest"]) == digest(), "stale model: run python -m escalation.train"
    assert build() == ROWS, "stale corpus: run python -m escalation.train"


def test_corpus_is_large_multilingual_and_balanced() -> None:
    langs = Counter(r["lang"] for r in ROWS)
    handoff = sum(r["handoff"] for r in ROWS)
    assert len(ROWS) >= 2500 and len(langs) >= 15 and handoff <= len(ROWS) - handoff
    assert all({"text", "history", "handoff", "why", "lang", "group"} <= r.keys() for r in ROWS)


@pytest.mark.parametrize("row", SAFETY, ids=lambda r: f"{r['lang']}-{r['safety']}-{r['text'][:20]}")
def test_safety_floor_catches_every_emergency_in_every_corpus_language(row: dict) -> None:
    kind = emergency(row["text"])  # sets written by other hands mark an emergency without naming its kind
    assert kind and row["safety"] in (kind, True) and assess(row["text"]).reason == "urgent"


@pytest.mark.parametrize("text", [
    "They refused me entry and are holding me in a room at Heathrow",
    "Me negaron la entrada y me tienen detenido en una sala",
    "Einreise verweigert, sie halten mich seit Stunden fest",
])
def test_a_refused_entry_with_someone_held_is_detention_wherever_it_happens(text: str) -> None:
    assert emergency(text) == "detention"


@pytest.mark.parametrize("text,kind", [
    ("I really don't want to stay alive after this", "selfharm"),
    ("mình không muốn sống nữa", "selfharm"),
    ("я больше не хочу жить", "selfharm"),
    ("immigration took me aside and say they will send me back tonight", "detention"),
    ("احتجزوني في مطار دبي منذ ساعتين", "detention"),
    ("my flatmate beat me and says he'll hurt me if I call anyone", "violence"),
    ("আমার রুমমেটকে মারধর করেছে, এখনো হুমকি দিচ্ছে", "violence"),
    ("mia sorella ha un dolore fortissimo alla schiena e non riesce ad alzarsi", "medical"),
    ("友達が胸が痛くて息が苦しいと言っています", "medical"),
    ("the airline won't let me board and my course starts on monday", "detention"),
    ("공항에서 세 시간째 붙잡혀 있어요", "detention"),
    ("мне угрожает сосед по комнате", "violence"),
    ("pasaportumu kaybettim, yarın uçuşum var", "passport"),
    ("mir wurde der Pass geklaut und ich fliege übermorgen", "passport"),
    ("someone stole my passport on the metro and I fly on friday", "passport"),
    ("immigration walon ne mujhe airport par 4 ghante se rok rakha hai", "detention"),
    ("someone is trying to break in to my flat and I'm alone", "violence"),
    ("寮で隣の人が包丁を持って脅してきます", "violence"),
    ("I honestly don't see the point anymore, nothing ever works out", "selfharm"),
    ("minha colega de quarto disse que vai se matar", "selfharm"),
    ("je suis bloquée à la douane depuis trois heures", "detention"),
    ("我在机场被边检拦下来了", "detention"),
    ("меня второй час держат на границе", "detention"),
    ("la mia amica fa fatica a respirare", "medical"),
    ("border force took me into a separate room at the airport an hour ago", "detention"),
    ("bei uns wurde eingebrochen und ich bin allein in der Wohnung", "violence"),
    ("سرقوا جوازي وطيارتي بكرة", "passport"),
    ("隣の部屋の男が殺すぞって怒鳴ってる、怖い", "violence"),
    ("میرا شوہر مجھے مار رہا ہے، کیا کروں", "violence"),
    ("ইমিগ্রেশনে আমারে আটকায় দিছে, ফ্লাইট মিস হয়ে যাবে", "detention"),
    # languages visitors write in beyond the corpus's eighteen
    ("แม่ของฉันหายใจไม่ออก ต้องทำยังไง", "medical"),
    ("என் நண்பன் தற்கொலை பற்றி பேசுகிறான்", "selfharm"),
    ("در فرودگاه بازداشت شدم و گوشیم را گرفتند", "detention"),
    ("ik word al drie uur vastgehouden op Schiphol", "detention"),
    ("zgubiłem paszport, a jutro mam lot do Londynu", "passport"),
    ("hindi makahinga ang kaibigan ko, ano ang gagawin ko", "medical"),
    ("i honestly don't see the point of being alive anymore", "selfharm"),
    ("capek banget, semua orang lebih baik tanpa aku", "selfharm"),
    ("herkes bensiz daha iyi olurdu", "selfharm"),
    ("franchement ils seraient tous soulagés si je n'étais plus là", "selfharm"),
    ("maine goliyan jama kar rakhi hain, ab aur nahi", "selfharm"),
    ("صاحب السكن ضربني وما اعرف وش اسوي", "violence"),
    ("मैं अपनी जान लेना चाहती हूँ, अब और नहीं होता", "selfharm"),
    ("a guy from my building keeps threatening me and I'm scared to go back", "violence"),
    ("my flatmate had an accident on his bike and he's in A&E now, what do i do", "medical"),
    ("il mio ex mi ha minacciata e ha ancora le chiavi di casa", "violence"),
    # breathing trouble, with the particles and endings each language joins to it
    ("기숙사 룸메이트가 숨쉬기가 어렵다고 해요", "medical"),
    ("I'm really short of breath and dizzy in my room, what should I do", "medical"),
    ("meu amigo está com falta de ar e dor no peito", "medical"),
    ("پاسپورتم را گم کرده‌ام و پس‌فردا پرواز دارم", "passport"),
    ("صاحبخانه‌ام تهدید کرده که بلایی سرم میاره", "violence"),
    ("kabhi kabhi lagta hai main hi na rahoon to sab theek ho jayega", "selfharm"),
    ("they've kept me at immigration in gatwick for hours now", "detention"),
    ("my brother was detained at the border last year and they are holding him again right now", "detention"),
    ("merci pour tout. je ne serai plus là la semaine prochaine, prenez soin de vous", "selfharm"),
])
def test_safety_floor_reads_each_kind_in_everyday_words(text: str, kind: str) -> None:
    assert emergency(text) == kind


@pytest.mark.parametrize("text", [
    "I'm dying to know when the September intake closes",
    "tò mò quá trời, học phí ở Úc bao nhiêu?",
    "this visa paperwork is killing me, how many photos do I need?",
    "I don't want to live in a shared flat, are studios expensive in Dublin?",
    "the speaking test nearly gave me a heart attack, when do results come out?",  # a figure of speech
    "what a groundbreaking insight",  # "breaking in" across two words
    "can I take a job over the winter break in Canada?",  # a break, not a break-in
    "my college is threatening to cancel my enrolment over unpaid fees, can they do that?",  # a warning, not a threat
])
def test_safety_floor_leaves_idioms_alone(text: str) -> None:
    assert emergency(text) is None


@pytest.mark.parametrize("text", [
    "I got locked in at the library entry, what are library hours in UK unis?",
    "what should someone do if they lose their passport abroad?", "I fly tomorrow, what should I pack?",
    "urgent question: is the IELTS valid for two years?", "Is there a counsellor for mental health at Monash?",
    "saya lagi ngatur budget, berapa biaya kuliah di Selandia Baru?",  # not Vietnamese "ngất" (fainted)
    "sou enfermeira, quais são os meses de entrada no Canadá?",  # not French "enfermé" (locked in)
    "Havalimanından yurda taksi ne kadar tutuyor?",  # "tutuyor" is what a taxi costs, not someone held
    "入国審査で止められることはありますか？",  # can one be stopped, asked in general
    "рейс задерживают, меня ждут в аэропорту?",  # a flight delayed
    "se uno studente viene fermato in aeroporto, cosa succede di solito?",  # asked in general
    "aduh mau pingsan liat harga kos di London",  # "about to faint" at a price
    "does OSHC pay the hospital if I had an accident?",  # what the insurance covers
    "สนามบินไหนใกล้มหาวิทยาลัยที่สุด",  # which airport is nearest
    "a lot of students lost their passport last year, is a copy enough to apply?",
    "my sister was held at heathrow for hours last year, is that common for students?",  # someone else's, and over
])
def test_safety_floor_ignores_general_questions(text: str) -> None:
    assert emergency(text) is None


@pytest.mark.parametrize("text,lang,word", [
    ("Perdí el pasaporte y mi vuelo sale mañana", "es", "embajada"),
    ("أضعت جواز سفري ورحلتي غدا", "ar", "سفارتك"),
    ("Immigration detained me at the border", "en", "embassy"),
    # languages beyond the interface's, which the floor reads from a few core terms
    ("แม่ของฉันหายใจไม่ออก ต้องทำยังไง", "th", "ฉุกเฉิน"),
    ("zgubiłem paszport, a jutro mam lot do Londynu", "pl", "ambasadą"),
    ("ik word al drie uur vastgehouden op Schiphol", "nl", "ambassade"),
])
def test_emergency_advice_comes_in_the_visitors_language(text: str, lang: str, word: str) -> None:
    decision = assess(text)
    assert (decision.reason, decision.language) == ("urgent", lang) and word in decision.reply


def test_every_advice_language_has_every_kind() -> None:
    kinds = {"selfharm", "detention", "violence", "medical", "passport"}
    assert all(advice(kind, lang) for kind in kinds
               for lang in ("en", "es", "ar", "zh", "hi", "vi", "tr", "nl", "pl", "th", "ta", "fa"))


@pytest.mark.parametrize("text,expected", [
    ("我要找顾问", ["我", "要", "找", "顾", "问", "我要", "要找", "找顾", "顾问"]),
    ("मुझे सलाहकार चाहिए", ["मुझे", "सलाहकार", "चाहिए"]),
    ("Está MAL!!! 😤", ["esta", "mal", "!!", "😤"]),
    ("Hayatım", ["hayatim"]),
])
def test_words_are_read_in_every_script(text: str, expected: list[str]) -> None:
    assert words(normalise(text)) == expected


@pytest.mark.parametrize("text,history,lang", [
    ("¿Cuánto cuesta la visa de estudiante?", [], "es"),
    ("ok", ["Wie viel kostet das Visum für Kanada?"], "de"),
    ("thanks", [], "en"),
])
def test_language_comes_from_the_message_or_the_chat_so_far(text: str, history: list, lang: str) -> None:
    assert assess(text, history).language == lang


ADVERSARIAL = ["due a " * 333, "a" * 2000, "😡" * 2000, "我" * 2000, "passport " * 222, "!?" * 1000,
               "urgent " * 285, "kill " * 400, "د" * 2000, "ab " * 666]


_MESSAGE = st.one_of(st.text(max_size=2000), st.sampled_from(ADVERSARIAL),
                    st.lists(st.sampled_from(["urgent", "human", "passport", "lost", "flight", "的", "é", " ", "!", "😡",
                                              "deadline", "due", "a", "visa", "Canada", "again"]),
                             max_size=400).map(" ".join))
_TURN = st.one_of(_MESSAGE, st.builds(lambda sender, text, confidence: {"sender": sender, "text": text,
                                                                        "confidence": confidence},
                                      st.sampled_from(["visitor", "bot"]), _MESSAGE,
                                      st.one_of(st.none(), st.floats(0, 1))))


# What an ordinary question costs, on the machine where the 5 ms budget was set (docs/escalation.md: corpus
# messages 1.1 ms on average). The budget is scaled by what the same question costs in the same run, so a machine
# slower than that one, or one slowed by other work, is not taken for a cost that grows with the input.
ORDINARY, ORDINARY_COST, BUDGET = "How much is the UK student visa fee?", 0.0011, 0.005


def _cpu(text: str, history: list, apart: float) -> float:
    """CPU time of this thread alone for one decision."""
    time.sleep(apart)  # runs spread out, so one burst of another process's work does not slow them all
    start = time.thread_time()
    assess(text, history)
    return time.thread_time() - start


@settings(max_examples=60, deadline=None)
@given(_MESSAGE, st.lists(_TURN, max_size=40))
def test_any_message_up_to_the_limit_is_decided_in_under_5_ms_of_cpu(text: str, history: list) -> None:
    """The whole decision, with a chat history as long as any: safety floor, model, rules, answering side."""
    def least(n: int, apart: float) -> tuple[float, float]:
        """The least of five runs of this input and of the ordinary question, each text fresh so no cache
        answers for it: other processes can slow a run (shared cores and caches; on a virtual machine the
        host's other guests count as this thread's time), never speed it up."""
        runs = [(_cpu((text + str(k))[-2000:], [f"{h}{k}" if isinstance(h, str) else {**h, "text": f"{h['text']}{k}"}
                                                 for h in history], apart), _cpu(f"{ORDINARY} {k}", [], apart))
                for k in range(n, n + 5)]
        return min(r[0] for r in runs), min(r[1] for r in runs)

    def within(costs: tuple[float, float]) -> bool:
        this, ordinary = costs
        return this < BUDGET * max(1.0, ordinary / ORDINARY_COST)

    # Five runs back to back; over the budget, five more spread over three seconds tell a real cost from a burst.
    assert within(least(0, 0.0)) or within(least(5, 0.3))


def test_urgent_chats_go_to_the_front_of_the_queue(app) -> None:
    with TestClient(app) as first, TestClient(app) as second:
        calm, scared = Browser(first), Browser(second)
        calm.get("/"), scared.get("/")
        calm.say("I want to talk to a human")
        scared.say("I lost my passport and my flight is tomorrow")
    queue = list(ChatSession.waiting())
    assert [c.reason for c in queue] == ["urgent", "requested"]


def test_a_yes_in_the_visitors_language_takes_up_the_bots_offer_of_a_counsellor(app) -> None:
    with TestClient(app) as client:
        page = Browser(client)
        page.get("/")
        page.post("/chat/language", {"language": "es"})
        page.say("what bank balance do I need for a student visa to Japan")
        offer = Message.select().where(Message.sender == "bot").order_by(Message.id.desc()).get()
        assert offer.offer and "¿quieres que te ponga en contacto" in offer.text
        page.say("sí")
    chat = ChatSession.get()
    assert (chat.status, chat.reason) == ("waiting", "requested")


def test_a_yes_without_an_offer_stays_with_the_bot() -> None:
    asked = [{"sender": "visitor", "text": "what bank balance do I need for a student visa to Japan"},
             {"sender": "bot", "text": "No tengo datos comprobados.", "confidence": 0.3}]
    assert not assess("sí", asked).handoff and assess("sí", [*asked[:1], {**asked[1], "offer": True}]).handoff


def test_decide_reads_the_language_of_a_message_once(app, monkeypatch) -> None:
    from escalation import language

    read = []
    detector = language._built()
    monkeypatch.setattr(language, "_built", lambda: type("Counting", (), {
        "compute_language_confidence_values": lambda self, text: read.append(text)
        or detector.compute_language_confidence_values(text)})())
    language.read.cache_clear()
    with TestClient(app) as client:
        page = Browser(client)
        page.get("/")
        page.say("¿Cuánto cuesta la visa de estudiante para Canadá?")
    assert read.count("¿Cuánto cuesta la visa de estudiante para Canadá?") == 1
    assert ChatSession.get().language == "es"


@pytest.mark.parametrize("text,named,not_named", [
    ("هل يمكنني التحدث مع شخص فعلا؟", "k:person", "k:not"),  # "لا" (no) is not inside "فعلا" (really)
    ("هل رأيتم سؤاله؟", "k:info", "k:bot"),  # nor "الة" (machine) inside "سؤاله" (his question)
    ("أحتاج إنسانا يساعدني", "k:person", "k:useless"),  # nor "انس" (forget it) at the start of "انسان" (a human)
    ("أريد التحدث بالمستشار", "k:person", "k:bot"),  # a term after the proclitic "بال" is read
])
def test_arabic_terms_are_read_after_a_proclitic_not_inside_a_word(text: str, named: str, not_named: str) -> None:
    found = concepts(word_line(text))
    assert named in found and not_named not in found



def test_a_korean_ending_joined_to_its_word_is_read() -> None:
    # "-냐고요" (I'm asking whether…) ends a word; a term only ever read at a word's start would miss it
    assert "k:reasked" in concepts(word_line("비자 인터뷰가 꼭 있냐고요"))
    assert "k:reasked" not in concepts(word_line("비자 인터뷰가 꼭 있나요"))


@pytest.mark.parametrize("text, kind", [
    ("my flatmate swallowed some pills an hour ago and now she is unconscious", "medical"),
    ("I took some pills for my headache, can I still go to the exam?", None),
])
def test_pills_taken_are_an_emergency_only_when_someone_no_longer_answers(text: str, kind: str | None) -> None:
    assert emergency(text) == kind
