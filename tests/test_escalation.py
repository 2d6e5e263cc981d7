"""Tests for the handoff decision: triggers, knowledge base, history and routing."""
from __future__ import annotations

import dataclasses

import pytest

from escalation import SKILLS, Decision, assess
from escalation.classifier import model
from escalation.features import _judged
from escalation.knowledge_base import CONFIDENT, knowledge_base
from escalation.smalltalk import IDENTITY_REPLY
from escalation.triggers import canonical


# Wordings the learned decision still gets wrong; kept visible until the corpus covers them.
MISS = pytest.mark.xfail(reason="the learned decision misreads this wording", strict=False)


def bot(confidence: float) -> dict:
    """A bot turn as the chat route stores it."""
    return {"sender": "bot", "text": "...", "confidence": confidence}


def visitor(text: str) -> dict:
    """A visitor turn in dict form."""
    return {"sender": "visitor", "text": text}


# --- requested ------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "agent!", "real human pls", "Live agent", "person please", "HUMAN", "customer service please",
    "can someone from your team chat with me", "let me speak to a counsellor", "i want to talk 2 a real person",
    "Could you put me through to an advisor?", "please have someone call me", "is anyone there?",
    "I want to talk to someone, not a bot", "I don't want to chat with a robot", "Please transfer me",
    "Is there a real counsellor I could ask?", "I'd appreciate speaking to a counsellor", "escalate please",
    "Can I speak to your manager", "hand me over to a human", "I'd like to consult with an expert",
    "Is anyone from the US team available?", "Would it be possible to speak with Sarah?", "Could a human take over?",
    "Can I please be transferred to an advisor", "Could I speak to one of your UK specialists?",
])
def test_requests_for_a_person_hand_off(text: str) -> None:
    assert (assess(text).handoff, assess(text).reason) == (True, "requested")


@pytest.mark.parametrize("text", [
    "huamn please", "I want a reprsentative", "get me a conselor", "can i speek to a human", "representitive please",
])
def test_requests_with_typos_hand_off(text: str) -> None:
    assert assess(text).reason == "requested"


@pytest.mark.parametrize("text", [
    "Quiero hablar con una persona", "pásame con un humano", "¿Hay alguien con quien pueda hablar?",
    "Je veux parler à un conseiller", "un vrai humain svp", "Mettez-moi en relation avec un conseiller",
    "Ich möchte mit einem Menschen sprechen", "Gibt es einen Menschen, mit dem ich sprechen kann?",
    "Quero falar com um atendente", "Posso falar com alguém da equipe?",
    "Vorrei parlare con un operatore", "Mi passi un operatore umano?",
    "kisi insaan se baat karni hai", "mujhe counsellor chahiye", "human se baat karao", "koi insaan hai kya",
    "J'ai besoin d'un humain", "Gibt es hier einen Menschen?", "C'è un operatore?", "Quero atendimento com uma pessoa",
])
def test_requests_in_other_languages_hand_off(text: str) -> None:
    assert assess(text).reason == "requested"


@pytest.mark.parametrize("text", [
    "do I need an education agent?", "human resource management courses", "what does a counsellor do at university?",
    pytest.param("I don't need to talk to anyone, just give me the fees", marks=MISS), "Do counsellors speak Hindi?",
    "Should I talk to a counsellor before choosing a course?", "Are you a human?", "am I talking to a real person?",
    "Can my parents speak to the visa officer for me?", pytest.param("Can my professor talk to the admissions team for me?", marks=MISS),
    "How do I contact a potential supervisor?",
    "I'm writing my SOP about why I want to become a counsellor",
    "Masters in human rights law in London", pytest.param("kisi se baat nahi karni, bas fees batao", marks=MISS),
    "Is the person who signs my bank letter my sponsor?",
])
def test_questions_about_people_stay_with_the_bot(text: str) -> None:
    assert assess(text).handoff is False


# --- frustration ----------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "useless bot", "this is stupid", "that's not what I asked", "you're not helping at all", "what a joke",
    "WHY IS THIS SO HARD TO GET AN ANSWER", "this chatbot sucks", "I asked you twice already", "damn bot",
    "You keep repeating yourself", "seriously useless", "No entiendes nada, eres inútil",
    "Tu ne comprends rien, c'est nul", "Das hilft mir nicht", "Non capisci niente", "kuch samajh nahi aa raha",
    "Isso não responde minha pergunta", "Non hai risposto alla mia domanda", "I'm losing my patience",
    "what are you even talking about", "none of this answers my question", "That's the same thing you said before",
    "This chat is a joke", "Can't you understand simple English?", "ugh", "ugh, this bot again",
    "you answered a totally different question, brilliant",
])
def test_frustration_hands_off(text: str) -> None:
    assert assess(text).reason == "frustration"


@pytest.mark.parametrize("text", [
    "Terrible answer", "What kind of answer is that?", "I'm getting nowhere with you", "Seriously?? This is the worst",
    "You gave me the same answer three times", "I asked something completely different", "Esto es ridículo",
])
def test_criticising_the_answer_is_frustration(text: str) -> None:
    assert assess(text).reason == "frustration"


@pytest.mark.parametrize("text", [
    "Sorry if this is a stupid question, but what is a CAS?", "THANK YOU SO MUCH",
    "Is it stupid to do a second master's?",
    "I don't understand the difference between OPT and CPT", "Is IELTS hard?", "What IELTS do I need for UCL and LSE?",
    # a sigh about something else, or someone else's anger, before the question
    "ugh my thesis is due friday. do uk unis take 3 year degrees for a masters?",
    "my dad is so mad that i'm going abroad lol, what is the fee for a canada study permit?",
])
def test_mild_or_self_directed_words_are_not_frustration(text: str) -> None:
    assert assess(text).handoff is False


# --- complex --------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "My visa was refused last month, what should I do?", "I had a refusal from Canada in 2023, should I mention it?",
    "I have a criminal record, can I still get a student visa?", "the university withdrew my offer",
    "I was charged twice for the consultation", "Can you check my SOP?",
    "What are my chances of getting into Imperial?",
    "Where is my CAS? The university said it was sent", "I overstayed my visa in the UK last year",
    "I have a 2 year gap because I was in prison, will it be a problem?",
    pytest.param("I suffer from depression, can I study abroad?", marks=MISS), pytest.param("My father passed away and I missed my exams", marks=MISS),
    pytest.param("I can't log in to the student portal", marks=MISS), "I paid your fees but nobody has contacted me",
    "Mi visa fue rechazada, ¿qué hago?", "Mein Visum wurde abgelehnt", "mera visa reject ho gaya",
    "I overstayed in Australia for 5 months in 2020, can I get a UK student visa now?",
    "my study permit for canada got refused last year. my aunt will sponsor me now, can I try the UK?",
    "mera UK visa 2 baar reject ho chuka hai, ab kya karun?",
])
def test_personal_cases_hand_off(text: str) -> None:
    assert assess(text).reason == "complex"


@pytest.mark.parametrize("text, entry", [("I have a 4 year gap after my graduation", "any-gap-year"),
                                         ("I have 6 backlogs, will a UK university accept me?", "any-backlogs")])
def test_a_gap_or_backlogs_alone_get_the_general_facts_and_the_offer_of_a_counsellor(text: str, entry: str) -> None:
    decision = assess(text)
    assert not decision.handoff and decision.topic == entry and decision.offers


def test_a_personal_case_with_general_facts_gets_them_and_the_offer_of_a_counsellor() -> None:
    decision = assess("I have 6 backlogs, can I get admission in Canada?")
    assert not decision.handoff and decision.topic and decision.offers


def test_a_plan_that_asks_the_next_step_gets_the_destinations_facts_and_a_snag_still_hands_over() -> None:
    plan = "I have just accepted my offer from the University of Otago. What do I need to get ready for the student visa?"
    decision = assess(plan)
    assert not decision.handoff and decision.topic == "nz-student-visa" and decision.offers
    snag = plan.replace(". What", ", but my passport spells my name differently. What")
    assert assess(snag).reason == "complex"


@pytest.mark.parametrize("text, topic", [
    ("i have 3 years of work experience, will it help my masters application", "any-work-experience"),
    ("can i defer my admission to next year", "any-deferral"),
])
def test_a_general_question_that_sounds_personal_gets_the_facts(text: str, topic: str) -> None:
    # the English rules do not read these as a personal case, and the model's reading alone does not hand them over
    decision = assess(text)
    assert not decision.handoff and decision.topic == topic


def test_a_general_question_only_the_model_reads_as_personal_gets_the_facts_and_the_offer() -> None:
    decision = assess("i have 3 years of work experience, will it help my masters application")
    assert not decision.handoff and decision.topic == "any-work-experience" and decision.offers


@pytest.mark.parametrize("text", ["你是机器人吗？", "هل أنت روبوت؟", "봇이에요?", "Ты бот?", "Êtes-vous un humain ?",
                                  "क्या आप बॉट हैं?", "Bạn là người thật hay bot?"])
def test_asking_whether_the_bot_is_a_person_gets_what_it_is_in_any_language(text: str) -> None:
    decision = assess(text)
    assert not decision.handoff and decision.reply == IDENTITY_REPLY


def test_a_deadline_within_hours_goes_to_a_person_though_our_help_page_answers_the_question() -> None:
    text = "My application portal closes at midnight tonight and it won't accept my transcript upload, what do I do??"
    assert assess(text).reason == "urgent"
    assert assess("where do I upload my transcripts on the student portal?").topic == "educonsult-document-upload"


def test_asking_when_the_university_will_issue_a_document_is_a_next_step_not_a_problem() -> None:
    decision = assess("accepted my unconditional offer and paid the deposit, when will the university issue my cas?")
    assert not decision.handoff and decision.topic == "uk-cas"


def test_anger_at_oneself_is_no_complaint() -> None:
    assert not assess("so angry with myself for not applying earlier. when is the January intake in Canada?").handoff


def test_a_sigh_about_something_else_then_a_question_gets_the_answer() -> None:
    decision = assess("ugh my laptop died again lol. anyway, how many hours can I work in Canada on a study permit?")
    assert not decision.handoff and decision.topic == "ca-work-while-studying"
    assert assess("ugh this bot is useless. anyway how many hours can I work in Canada?").reason == "frustration"
    # with no destination named the question is still read apart from the sigh, and asks which
    decision = assess("so tired after my exams ugh. anyway when are the intakes?")
    assert not decision.handoff and decision.choices
    # anger at someone else, even one who "won't answer", whatever the bot makes of the question after it
    assert not assess("my bank is the worst, they never answer the phone, so fed up. anyway can i open a uk account "
                      "before i arrive?").handoff


def test_a_question_on_how_to_reach_a_counsellor_gets_our_answer_and_an_offer_a_yes_takes_up() -> None:
    question = "can i get a video call with one of your counsellors or is it phone only?"
    decision = assess(question)
    assert not decision.handoff and decision.topic == "educonsult-book-consultation" and decision.offers
    history = [{"sender": "visitor", "text": question}, {"sender": "bot", "text": decision.reply, "offer": True}]
    assert assess("yes please", history).reason == "requested"
    assert assess("I want to talk to a counsellor").reason == "requested"  # asked for, not asked about


@pytest.mark.parametrize("text", [
    "Has my application been submitted yet?", "Can you confirm that you received my documents?",
    "What's happening with my application? It's been weeks", "my resume is attached, please check it",
    "US visa denied, what now?", "Mi oferta fue retirada", pytest.param("On m'a refusé le visa étudiant", marks=MISS),
    "Mein Studienplatz wurde storniert", "My father is my sponsor but he is retired now, is that ok?",
    "my application was withdrawn, what now?", "Can you find out why my university hasn't sent my I-20?",
    "I was refused an Australian student visa last month, can I apply again?",
])
def test_status_reviews_and_personal_cases_in_other_words_hand_off(text: str) -> None:
    assert assess(text).reason == "complex"


@pytest.mark.parametrize("text", [
    "What are the common reasons for visa refusal?", "What happens if my visa is refused, do I get my deposit back?",
    "my passport expires in 10 months, can I still apply for a student visa to Ireland?",
    "I'll speak to a counsellor later, for now just tell me the IELTS score for Canada",
    "my F1 was refused in 2022 but I got it on the second try and finished my masters. how long is OPT?",
    "What is your refund policy?", "How do I write a good SOP?", "Is a gap year acceptable for UK universities?",
    "Do universities accept students with backlogs?", "Do UK universities have mental health support?",
    "How do I reset my password?", "Can a university withdraw an offer?",
    "How do I check the status of my visa application?",
    "Can I study criminal justice in the US?", "My IELTS score is low, which universities accept 5.5?",
    "Can a visa be refused after I arrive?", "Is it common for an offer to be revoked?",
    "Will I be charged more than home students?", "Are there additional charges for the visa?",
    "Is racism a problem in the UK? I'm worried", "I'm mentally prepared for the move, what next?",
    "My sister passed her IELTS, which universities can she try?", "My brother was admitted to Oxford, can I apply too?",
    "my friend's australian visa was rejected in march. in general, why do GS refusals happen?",
    "Mi hermana tuvo su visado rechazado, ¿cuáles son las causas más comunes en general?",
    "mere bhai ko 214b mila tha, generally kitne mahine baad dobara apply karte hain?",
    "¿qué pasa si a alguien le cancelan la visa, puede volver a entrar?",
])
def test_general_questions_on_sensitive_topics_stay_with_the_bot(text: str) -> None:
    assert assess(text).handoff is False


# --- urgent ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "my flight is tomorrow and I have no CAS", "the deadline is in 2 days and my application isn't done",
    "I'm stuck at the airport and immigration won't let me through", "I lost my passport and I fly tomorrow",
    pytest.param("urgent help needed", marks=MISS), "my visa expires in 3 days", pytest.param("Es urgente, mi vuelo es mañana", marks=MISS),
    "mera flight kal hai aur CAS nahi mila",
    "been sitting here 6 hours at the border, they won't say why", "border officers took my phone and my passport",
])
def test_emergencies_and_close_deadlines_hand_off(text: str) -> None:
    assert assess(text).reason == "urgent"


@pytest.mark.parametrize("text", [
    "When is the UCAS deadline?", "Is there a priority visa service?", "I fly tomorrow, what should I pack?",
    "Do I need to apply urgently for September?", "Guten Morgen, welche Unterlagen brauche ich?",
])
def test_questions_about_timing_are_not_urgent(text: str) -> None:
    assert assess(text).handoff is False


@pytest.mark.parametrize("text", [
    "Is a counsellor available on Saturdays?", "Is it frustrating to live in London?",
    "How many times can I take IELTS?", "I have a different question: what is a CAS?",
    "Is my work experience irrelevant for a master's?", "My parents are angry that I want to study abroad",
    "Can my counsellor help me with accommodation too?", "Can you connect me with universities that accept backlogs?",
])
def test_look_alikes_of_handoff_phrases_stay_with_the_bot(text: str) -> None:
    assert assess(text).handoff is False


# --- repeat and history ---------------------------------------------------------------

@pytest.mark.parametrize("text,history", [
    ("what papers are needed for the F1 visa", ["What documents do I need for an F-1 visa?"]),
    ("How much money do I need monthly to live in the UK?", ["What's the monthly cost of living in the UK?"]),
    ("nope, I meant the deadline for January", ["When is the deadline for the September intake?"]),
    ("I asked about the PGWP, not the study permit", [visitor("What is the PGWP?"), bot(0.9)]),
    ("so can my cat travel with me on a student visa?", [visitor("Can I bring my cat on a student visa?"),
                                                            bot(0.2), visitor("my cat, on the student visa?"), bot(0.25)]),
    ("again: do UK unis take a 6 in writing?", ["is 6 in writing enough?"]),
])
def test_asking_again_hands_off(text: str, history: list) -> None:
    assert assess(text, history).reason == "repeat"


_MISSED = {"sender": "bot", "text": "Canada has many great universities and colleges."}  # imported: no confidence


@pytest.mark.parametrize("text,asked", [
    ("mi pregunta era otra: ¿puede venir él conmigo?", "¿puede mi esposo venir conmigo a Canadá mientras estudio?"),
    ("meine Frage war, ob er mitkommen darf", "Darf mein Mann mit nach Kanada, während ich studiere?"),
    ("我问的是他能不能一起去", "我丈夫可以陪我去加拿大读书吗？"),
    ("mera sawal tha ki husband saath ja sakta hai ya nahi", "kya mera husband canada mere saath ja sakta hai?"),
    ("вопрос был, может ли муж поехать со мной", "Может ли муж поехать со мной в Канаду на время учёбы?"),
    ("non, je parlais de mon mari, pas de moi", "Mon mari peut-il venir avec moi au Canada pendant mes études ?"),
    ("no, me refería a mi esposo", "¿Mi esposo puede venir conmigo a Canadá mientras estudio?"),
])
def test_saying_what_was_asked_after_a_reply_that_missed_hands_off(text: str, asked: str) -> None:
    assert assess(text, [visitor(asked), _MISSED]).handoff


@pytest.mark.parametrize("text,history", [
    ("Do I need a blocked account for Germany?", [visitor("How much is tuition at TU Munich?"), bot(0.2)]),
    ("What visa do I need for Canada?", [visitor("How much is tuition at the University of Toronto?"), bot(0.3),
                                         visitor("tuition for Toronto for international students?"), bot(0.3)]),
    ("¿Necesito seguro médico en Australia?", [visitor("¿Cuánto cuesta estudiar en Sídney?"), bot(0.2)]),
])
def test_a_new_question_after_weak_answers_is_not_a_repeat(text: str, history: list) -> None:
    assert assess(text, history).reason != "repeat"


@pytest.mark.parametrize("text,history", [
    ("And for Edinburgh?", ["What IELTS band does Manchester ask for?"]),
    ("And what about the TOEFL?", ["What IELTS score do I need for UK universities?"]),
    ("How much is the IHS?", ["How much is the UK student visa fee?"]),
    ("thanks", ["What IELTS do I need for Oxford?"]),
    ("How do I apply for Chevening?", [visitor("What is the Chevening scholarship?"), bot(0.95)]),
    # a tag on every message (the load bench's) is not what is asked about
    ("bench-4-5 How much does a student visa for Canada cost?",
     [visitor("bench-4-2 How long does a Canadian study permit take?"), bot(0.95),
      visitor("bench-4-3 Are there scholarships for international students in the Netherlands?"), bot(0.95),
      visitor("bench-4-4 What are the tuition fees for a master's degree in Germany?"), bot(0.95)]),
])
def test_follow_ups_are_not_repeats(text: str, history: list) -> None:
    assert assess(text, history).handoff is False


@pytest.mark.parametrize("text,history", [
    # narrower, on the same topic, after a sure answer
    ("Does the UK student visa fee include the health surcharge?",
     [visitor("How much does a UK student visa cost?"), bot(0.9)]),
    ("Can I get a spring start at a Dutch university instead?",
     [visitor("When do Dutch universities start their programmes?"), bot(0.92)]),
    ("¿Hay inicio en enero en los colleges de Canadá?",
     [visitor("¿Cuándo empiezan las clases en los colleges de Canadá?"), bot(0.9)]),
    # a place alone, said a second time after another question: it asks that question about the place
    ("how about in Ireland?", [visitor("Can students work part-time in Germany?"), bot(0.9),
                               visitor("how about in Ireland?"), bot(0.9),
                               visitor("What is the living cost in Berlin?"), bot(0.9)]),
])
def test_a_narrower_or_follow_up_question_after_a_sure_answer_is_not_a_repeat(text: str, history: list) -> None:
    assert assess(text, history).handoff is False
    assert model().judge(text, history) is None


def test_a_question_like_an_earlier_one_but_about_the_place_asked_since_gets_that_places_answer() -> None:
    history: list = []
    for text in ("How much is the UK student visa fee?", "What does tuition cost in Germany?"):
        history += [visitor(text), {"sender": "bot", "text": assess(text, history).reply, "confidence": 0.95}]
    decision = assess("How much does a student visa cost?", history)
    assert not decision.handoff and decision.topic == "de-visa-fee"
    history += [visitor("How much does a student visa cost?"), {"sender": "bot", "text": decision.reply, "confidence": 0.95}]
    assert assess("How much does a student visa cost?", history).reason == "repeat"  # the same answer again is no help


# --- small talk, off-topic, knowledge base --------------------------------------------

@pytest.mark.parametrize("text", [
    "hi", "good evening!", "thank you so much", "ok", "bye for now", "namaste", "who are you?", "are you a bot?",
    "what's the weather like today?", "tell me something funny", "asdfghjkl", "?",
    "can you do my algebra homework? it's due tomorrow morning",
    "can u fix my java code, it throws a NullPointerException and it's due tonight",
])
def test_small_talk_and_off_topic_get_a_friendly_reply(text: str) -> None:
    decision = assess(text)
    assert (decision.handoff, decision.reason) == (False, None) and decision.reply


@pytest.mark.parametrize("text,topic", [
    ("Which band score is needed in IELTS for a UK master's?", "uk-english-tests"),
    ("how long is the post study work visa in the UK", "uk-post-study-work"),
    ("Is studying in Germany free?", "de-tuition"),
    ("What is a CAS number?", "uk-cas"),
    ("How many hours can I work in Canada as a student?", "ca-work-while-studying"),
    ("Is the first consultation free?", "educonsult-fees"),
    ("When are you open?", "educonsult-hours"),
    ("What is OSHC?", "au-health-insurance"),
])
def test_faq_questions_retrieve_the_right_entry_confidently(text: str, topic: str) -> None:
    decision = assess(text)
    assert (decision.handoff, decision.topic) == (False, topic) and decision.confidence >= CONFIDENT


@pytest.mark.parametrize("word", ["taking", "stuff", "contract", "advised", "someday", "personal", "agency"])
def test_everyday_words_are_not_read_as_typos_of_request_words(word: str) -> None:
    assert canonical(word) == word


def test_knowledge_base_has_enough_unique_well_formed_entries() -> None:
    entries = knowledge_base().entries
    assert len(entries) >= 80 and len({e.id for e in entries}) == len(entries)
    assert all(e.skill in SKILLS and e.title and e.questions and e.keywords and e.answer for e in entries)


def test_uncovered_destination_gets_an_offer_of_a_counsellor_not_another_countrys_fact() -> None:
    decision = assess("Which visa do I need for a study trip to Antarctica?")
    assert (decision.handoff, decision.topic) == (False, None) and "counsellor" in decision.reply


# --- routing and contract -------------------------------------------------------------

@pytest.mark.parametrize("text,skill", [
    ("My F-1 visa was refused", "us"),
    ("I need to talk to someone about my CAS", "uk"),
    ("I can't log in to the portal", "tech"),
    ("I can't log in to UCAS", "uk"),
    ("the payment page on your website fails", "tech"),
    ("I want to speak to a counsellor", "general"),
    ("Is there a January intake in Canada?", "general"),
])
def test_skill_routes_to_the_right_team(text: str, skill: str) -> None:
    assert assess(text).skill == skill


def test_skill_falls_back_to_the_conversation_so_far() -> None:
    assert assess("let me speak to a person", ["What SAT score do I need for US universities?"]).skill == "us"


def test_decision_is_frozen_and_handoffs_come_with_a_courteous_reply() -> None:
    decision = assess("agent please")
    assert isinstance(decision, Decision) and decision.reply and 0.0 <= decision.confidence <= 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.handoff = False  # type: ignore[misc]


@pytest.mark.parametrize("history", [None, [], [None, 3, {"text": "hello"}, {"sender": "bot", "confidence": "x"}]])
def test_unusual_history_items_are_ignored(history: list | None) -> None:
    assert assess("hello", history).handoff is False


@pytest.mark.parametrize("text,history,handoff", [
    # an imported transcript keeps the bot's words but not its confidence: a reply on another subject missed
    ("no, I asked whether students can work in Canada during their studies",
     [{"sender": "visitor", "text": "can students work in Canada while studying?"},
      {"sender": "bot", "text": "Canada is a wonderful country with friendly people!"}], True),
    # ...and a reply that gives a figure answered, so the next question is a follow-up
    ("and how much does it cost to study there?",
     [{"sender": "visitor", "text": "how long does the Canadian study permit take?"},
      {"sender": "bot", "text": "Usually 6 to 10 weeks."}], False),
])
def test_a_bot_reply_without_its_confidence_is_judged_by_what_it_says(text: str, history: list, handoff: bool) -> None:
    assert assess(text, history).handoff is handoff


@pytest.mark.parametrize("question,reply,confidence", [
    ("How much is tuition in Canada?", "Canada has wonderful universities!", 0.0),
    ("How much is tuition in Canada?", "Usually CAD 20,000 to 40,000 a year.", 1.0),
    ("Macaristan'da okul ücretleri ne kadar?", "Üzgünüm, ne sorduğunuzu anlayamadım.", 0.0),  # an apology, in any language
    ("Macaristan'da okul ücretleri ne kadar?", "Macaristan çok güzel bir ülke!", None),  # no telling
])
def test_a_reply_stored_without_its_confidence_is_read_for_an_answer(question: str, reply: str,
                                                                      confidence: float | None) -> None:
    assert _judged(question, reply) == confidence


def test_replies_to_small_talk_do_not_count_as_weak_answers() -> None:
    history = [visitor("hello"), bot(0.0), visitor("thanks!"), bot(0.0)]
    assert assess("How much is the UK student visa fee?", history).handoff is False


def test_questions_in_other_languages_are_read_and_only_the_unplaceable_get_an_english_only_reply() -> None:
    decision = assess("¿Cuánto cuesta la visa de estudiante?")
    assert decision.handoff is False and "ca" in decision.choices
    decision = assess("¿Dónde puedo comprar zapatos baratos por la tarde?")
    assert decision.handoff is False and decision.topic is None and "English" in decision.reply
