"""The bot answers the question asked, for the destination asked, or says it can't."""
from __future__ import annotations

import re
from collections import Counter

import pytest

from escalation import assess
from escalation.answers import CLARIFY_REPLY, WHICH_TOPIC_REPLY, answer, read
from escalation.eval_answers import expected, judge, load, split
from escalation.knowledge_base import COUNTRIES, DESTINATION_TOPICS, install, knowledge_base, learned_questions, load_entries
from escalation.smalltalk import GREETING_REPLY, THANKS_REPLY
from i18n import translated

# Held-out figures the labelled set must keep (docs/answers.md quotes the measured ones).
FLOOR_IN_SCOPE_CORRECT = 0.91
CEILING_WRONG = 0.02


def visitor(text: str) -> dict:
    return {"sender": "visitor", "text": text}


def bot(text: str) -> dict:
    return {"sender": "bot", "text": text}


@pytest.fixture(scope="module")
def held_out() -> Counter:
    rows = [r for r in load() if split(r["group"]) == "test"]
    return Counter((expected(r) != "none", judge(r)) for r in rows)


def test_held_out_questions_are_answered_with_the_right_entry(held_out: Counter) -> None:
    in_scope = sum(n for (scoped, _), n in held_out.items() if scoped)
    assert held_out[(True, "correct")] / in_scope >= FLOOR_IN_SCOPE_CORRECT


def test_held_out_replies_are_rarely_wrong(held_out: Counter) -> None:
    wrong = held_out[(True, "wrong")] + held_out[(False, "wrong")]
    assert wrong / sum(held_out.values()) <= CEILING_WRONG


def test_held_out_questions_never_teach_the_index() -> None:
    learned = {text for texts in learned_questions().values() for text in texts}
    held_out = {r["text"] for r in load() if split(r["group"]) == "test"}
    assert learned and not learned & held_out


def test_unseen_batches_never_teach_the_index() -> None:
    from escalation.eval_answers import unseen_rows
    learned = {text for texts in learned_questions().values() for text in texts}
    unseen = {r["text"] for r in unseen_rows()}
    assert unseen and not learned & unseen and not unseen & {r["text"] for r in load()}


def test_split_is_by_group_and_stable() -> None:
    rows = load()
    assert {split(r["group"]) for r in rows} == {"test", "dev"}
    assert all(split(r["group"]) == split(r["group"]) for r in rows[:20])


@pytest.mark.parametrize("row", [r for r in load() if r["expect"][:2] in COUNTRIES and "history" not in r],
                         ids=lambda r: r["text"][:40])
def test_an_entry_of_another_country_is_never_served(row: dict) -> None:
    topic = assess(row["text"]).topic
    assert topic is None or knowledge_base().get(topic).country in (row["expect"][:2], "any")


@pytest.mark.parametrize("first,code", [
    ("How many hours a week can I work in the UK on a student visa?", "ca"),
    ("What does a master's cost in tuition in the UK?", "de"),
])
def test_and_for_another_country_is_the_same_topic_there(first: str, code: str) -> None:
    earlier = assess(first).topic
    later = assess(f"and for {COUNTRIES[code]}?", [visitor(first), bot("...")]).topic
    assert earlier.startswith("uk-") and later == f"{code}-{earlier[3:]}"


def test_a_question_without_a_country_gets_destination_choices() -> None:
    decision = assess("how much is the fee for a student visa?")
    held = {e.country for e in knowledge_base().entries if e.topic == "visa-fee"} - {"any"}
    assert set(decision.choices) == held and decision.topic is None and not decision.handoff
    assert all(COUNTRIES[c].split()[-1] in decision.reply for c in decision.choices)


@pytest.mark.parametrize("code", ["ca", "au", "fr"])
def test_a_destination_button_answers_the_earlier_question(code: str) -> None:
    question = "how much is the fee for a student visa?"
    history = [visitor(question), bot(assess(question).reply)]
    assert assess(COUNTRIES[code], history).topic == f"{code}-visa-fee"


@pytest.fixture
def without_canada_dependants():
    install([e for e in load_entries() if e.id != "ca-dependants"])
    yield
    install(load_entries())


def test_a_missing_fact_is_declined_with_an_offer_not_taken_from_another_country(without_canada_dependants) -> None:
    decision = assess("can my husband come along to Canada while I study?")
    assert (decision.handoff, decision.topic) == (False, None)
    assert "Canada" in decision.reply and "counsellor" in decision.reply


def test_a_destination_we_do_not_cover_is_declined() -> None:
    decision = assess("what bank balance do I need for a student visa to Japan")
    assert decision.topic is None and "Japan" in decision.reply and "counsellor" in decision.reply


def test_a_general_entry_about_our_destinations_is_no_answer_for_another_one() -> None:
    # the general medicine entry holds the UK's, US's and Canada's facts, not Russia's
    decision = assess("how much does an MBBS cost in Russia")
    assert decision.topic is None and "Russia" in decision.reply
    assert assess("how long should my statement of purpose be for a master's in Sweden").topic == "any-sop"
    # a question about the place is not one about EduConsult's own prices or services
    assert assess("is a masters free in sweden").topic is None
    assert assess("what do you charge for applications to sweden").topic == "educonsult-fees"


def test_asking_whether_we_help_with_a_place_we_do_not_cover_is_answered_for_that_place() -> None:
    decision = assess("can you guys also help me apply to universities in Norway?")
    assert decision.topic is None and "Norway" in decision.reply and not decision.handoff


@pytest.mark.parametrize("text", ["is there a counsellor who speaks Korean?", "any Italian speaking adviser on your team"])
def test_a_language_named_beside_speaking_is_no_destination(text: str) -> None:
    assert answer(text).country is None


@pytest.mark.parametrize("text", ["what is the blocked account amount for germany", "uk graduate route length"])
def test_answers_end_with_the_month_their_facts_were_checked(text: str) -> None:
    decision = assess(text)
    entry = knowledge_base().get(decision.topic)
    assert decision.reply.endswith(entry.as_of()) and re.search(r"\(as of [A-Z][a-z]+ 20\d\d\)$", decision.reply)


def test_a_personal_follow_up_gets_an_offer_not_the_same_entry_again() -> None:
    first = "how much money must I show for a canadian study permit"
    given = assess(first)
    later = assess("my father has 40 lakh in a fixed deposit, is that sufficient for me?",
                   [visitor(first), bot(given.reply)])
    entry = knowledge_base().get(given.topic)
    assert later.topic == given.topic and entry.answer not in later.reply and "counsellor" in later.reply


def test_yes_to_an_offered_counsellor_hands_over() -> None:
    offer = assess("what bank balance do I need for a student visa to Japan")
    decision = assess("yes please", [visitor("what bank balance do I need for a student visa to Japan"),
                                     bot(offer.reply)])
    assert (decision.handoff, decision.reason) == (True, "requested")


def test_below_the_line_no_facts_are_shown() -> None:
    found = answer("What does the NZ student visa cost?", line=1.0)
    assert found.entry is None and found.kind == "unsure" and "counsellor" in found.reply


def test_two_neighbouring_topics_below_the_line_get_a_question_and_the_reply_picks_one() -> None:
    first = "australia student visa time and cost"
    asked = answer(first, line=1.0)
    assert asked.entry is None and asked.reply.startswith(WHICH_TOPIC_REPLY.split("{")[0])
    assert "visa fee" in asked.reply and "processing" in asked.reply and "Australia" in asked.reply
    picked = answer("the fee", [visitor(first), bot(asked.reply)])
    assert picked.entry is not None and picked.entry.id == "au-visa-fee"


@pytest.mark.parametrize("language", ["en", "es", "ar"])
@pytest.mark.parametrize("reply, entry", [("the fee", "au-visa-fee"), ("how long it takes", "au-visa-processing"),
                                          ("la tarifa", "au-visa-fee"), ("كم الرسوم", "au-visa-fee")])
def test_the_reply_to_which_topic_is_answered_not_handed_over_as_a_repeat(language: str, reply: str,
                                                                        entry: str) -> None:
    first = "australia student visa time and cost"
    asked = answer(first, line=1.0).reply
    shown = asked if language == "en" else translated(language, asked)  # as the chat stores it
    assert shown and (shown != asked or language == "en")
    decision = assess(reply, [visitor(first), bot(shown)])
    assert not decision.handoff and decision.topic == entry


@pytest.mark.parametrize("text, reply", [("مرحبا", GREETING_REPLY), ("السلام عليكم", GREETING_REPLY),
                                         ("شكرا جزيلا", THANKS_REPLY), ("谢谢", THANKS_REPLY), ("नमस्ते", GREETING_REPLY),
                                         ("xin chào", GREETING_REPLY), ("merhaba", GREETING_REPLY)])
def test_greetings_and_thanks_in_other_scripts_are_small_talk(text: str, reply: str) -> None:
    assert assess(text).reply == reply


def test_asked_for_a_destination_a_test_specific_question_gets_its_english_requirements() -> None:
    assert assess("is duolingo accepted for a canadian study permit").topic == "ca-english-tests"
    assert assess("is the duolingo english test accepted by universities abroad").topic == "any-duolingo"
    # the UK's entry never names Duolingo; the Duolingo entry says what it is worth there
    assert assess("do british universities take the duolingo test or only ielts?").topic == "any-duolingo"


def test_a_question_the_general_entry_answers_fully_gets_no_country_question() -> None:
    found = answer("do i need health insurance as a student")
    assert found.kind == "answer" and found.entry.id == "any-health-insurance" and not found.choices


def test_confidence_is_a_probability_and_clarify_text_names_every_choice() -> None:
    found = answer("when are the intakes?")
    assert 0.0 <= found.confidence <= 1.0 and found.kind == "clarify"
    assert found.reply.startswith(CLARIFY_REPLY.split("{")[0])


def test_every_entry_names_its_country_topic_source_and_check_month() -> None:
    entries = knowledge_base().entries
    assert all(e.country in (*COUNTRIES, "any") and e.topic and e.source for e in entries)
    assert all(re.fullmatch(r"20\d\d-(0[1-9]|1[0-2])", e.checked) for e in entries)
    assert len({(e.country, e.topic) for e in entries}) == len(entries)


def test_every_destination_holds_every_destination_topic() -> None:
    held = {(e.country, e.topic) for e in knowledge_base().entries}
    assert [(c, t) for c in COUNTRIES for t in DESTINATION_TOPICS if (c, t) not in held] == []


@pytest.mark.parametrize("text,entry", [
    ("quais bolsas de estudo existem na Alemanha?", "de-scholarships"),
    ("wie viele Stunden darf ich in Kanada neben dem Studium arbeiten?", "ca-work-while-studying"),
    ("можно ли работать во время учёбы в Канаде?", "ca-work-while-studying"),
    ("Avustralya'da üniversiteler hangi ayda başlıyor?", "au-intakes"),
    ("berapa dana minimal untuk visa pelajar Kanada?", "ca-proof-of-funds"),
    ("¿cuánto cuesta el alquiler en Sídney para estudiantes?", "au-living-costs"),
])
def test_a_question_in_another_language_gets_its_country_and_topic(text: str, entry: str) -> None:
    decision = assess(text)
    assert (decision.handoff, decision.topic) == (False, entry)


def test_visa_terms_of_two_destinations_are_not_guessed_between() -> None:
    assert answer("does the IND or the GIC decide faster").country is None


def test_retrieval_reads_a_bounded_part_of_a_long_message() -> None:
    long = "visa " * 400 + "which one do I need for Canada"
    assert len(read(knowledge_base(), "签证" * 1000).split()) <= 300
    assert answer(long).country == "ca"


@pytest.mark.parametrize("text, entry", [
    ("lost my portal password", "educonsult-password-reset"),
    ("i am uploading my transcripts now, where on the portal do they go", "educonsult-document-upload"),
    ("what do you do with my passport scan, is it safe", "educonsult-privacy"),
    ("what exactly do u guys do", "educonsult-services"),  # only everyday words, put to EduConsult
    # "someone ... get back to me" reads as a request to the handoff model (docs/escalation.md, known gaps)
    pytest.param("how fast does someone get back to me here", "educonsult-response-time",
                 marks=pytest.mark.xfail(reason="the learned decision reads a person in it as a request", strict=False)),
    ("¿Sus asesores hablan español?", "educonsult-counsellor-languages"),  # about them, not asking for one
    ("Ваши консультанты говорят по-русски?", "educonsult-counsellor-languages"),
])
def test_a_question_about_educonsult_itself_gets_its_entry_not_a_handoff_or_an_introduction(text: str, entry: str) -> None:
    decision = assess(text)
    assert not decision.handoff and decision.topic == entry


@pytest.mark.xfail(reason="the learned decision reads it as a question the password-reset entry answers", strict=False)
def test_a_reported_problem_with_the_portal_still_goes_to_a_counsellor() -> None:
    assert assess("I can't log in to the student portal").reason == "complex"


# A destination's name in the visitor's language, inside a question on tuition fees.
_FOREIGN_NAMES = {
    "vi": ("Mức học phí ở {} là bao nhiêu?", {"us": "Mỹ", "uk": "Vương quốc Anh", "au": "Úc", "de": "Đức", "nl": "Hà Lan",
                                             "fr": "Pháp", "ie": "Ai Len"}),
    "zh": ("在{}读书学费贵不贵？", {"us": "美國", "uk": "英国", "ca": "加拿大", "au": "澳洲", "de": "德国", "ie": "爱尔兰",
                              "nz": "纽西兰", "nl": "荷兰", "fr": "法国"}),
    "ar": ("ما هي الرسوم الدراسية في {}؟", {"us": "أميركا", "uk": "إنجلترا", "de": "ألمانيا", "ie": "إيرلندا", "nz": "نيوزلندا"}),
    "hi": ("{} में पढ़ने की ट्यूशन फीस?", {"us": "यूएसए", "uk": "यूके", "au": "आस्ट्रेलिया", "nz": "न्यूज़ीलैंड", "nl": "हॉलैंड"}),
    "es": ("¿Qué matrícula se paga en {}?", {"us": "EE. UU.", "nl": "Holanda", "nz": "Nueva Zelanda"}),
    "pt": ("Qual é a mensalidade {}?", {"us": "nos EUA", "de": "na Alemanha"}),
    "id": ("Biaya kuliah di {} berapa?", {"ie": "Irlandia", "fr": "Perancis"}),
    "ru": ("Обучение в {} сколько стоит?", {"us": "США", "de": "Германии", "ca": "Канаде", "nl": "Голландии"}),
    "ko": ("{} 유학 학비는요?", {"au": "호주", "de": "독일"}),
    "ja": ("{}の学費はいくらですか", {"uk": "イギリス", "nz": "ニュージーランド"}),
}


@pytest.mark.parametrize("text, code", [(template.format(name), code) for template, names in _FOREIGN_NAMES.values()
                                        for code, name in names.items()], ids=lambda v: v if len(v) == 2 else None)
def test_a_destination_named_in_another_language_is_that_destination(text: str, code: str) -> None:
    found = answer(text)
    assert found.country == code and (found.entry is None or found.entry.country == code)


@pytest.mark.parametrize("text, entry", [
    ("Sinh viên quốc tế tại Đức làm thêm được không?", "de-work-while-studying"),  # Đức is not Úc inside it
    ("Đi du học Đức thì tiền học phí thế nào?", "de-tuition"),
    ("Bộ giáo dục ở Úc có cấp học bổng không?", "au-scholarships"),  # giáo dục (education) names no Germany
    ("Was kostet das Studentenvisum für Irland mit Kindern?", "ie-visa-fee"),  # "mit" is "with", not MIT
    ("Avustralya'da tüm okullarda eğitim ücreti ne kadar?", "au-tuition"),  # "tüm" is "all", not TUM
    ("is it realistic to settle abroad with PR after my studies?", "any-pr-after-study"),  # not Seattle
    ("how long do toefl scores stay valid?", "any-english-tests"),  # "long do" is not London
    ("austrlia student visa fee", "au-visa-fee"),  # a letter left out of Australia, not one changed in Austria
])
def test_a_word_inside_or_like_another_never_names_a_country(text: str, entry: str) -> None:
    assert assess(text).topic == entry


@pytest.mark.parametrize("text, code", [("去加拿大读本科，我高中在精英国际学校，学费贵吗？", "ca"),  # 精英国际 holds 英国
                                        ("用什么办法国内就能申请德国签证？", "de")])  # 办法国内 holds 法国
def test_a_chinese_word_across_a_countrys_name_names_no_country(text: str, code: str) -> None:
    assert answer(text).country == code


def test_a_word_starting_inside_another_in_a_spaced_script_names_nothing() -> None:
    assert answer("Сколько стоит высшее образование в Канаде?").country == "ca"  # "высшее" holds "сш", not США


@pytest.mark.parametrize("text, entry", [
    ("去美国读书要交多少签证费？", "us-visa-fee"),
    ("英国的签证费用贵吗？", "uk-visa-fee"),
    ("加拿大留学生可以做兼职吗？", "ca-work-while-studying"),
    ("澳洲毕业后工作签证可以留多久？", "au-post-study-work"),
    ("去英国读研可以带配偶吗？", "uk-dependants"),
    ("德国大学一般几月开学？", "de-intakes"),
])
def test_a_chinese_question_gets_its_topic(text: str, entry: str) -> None:
    assert assess(text).topic == entry


@pytest.mark.parametrize("later, entry", [
    ("¿Y para Irlanda?", "ie-visa-fee"),
    ("¿y Canadá?", "ca-visa-fee"),
    ("¿Qué tal Francia?", "fr-visa-fee"),
    ("Còn Canada thì sao?", "ca-visa-fee"),
    ("Thế còn Úc?", "au-visa-fee"),
    ("Đức thì sao?", "de-visa-fee"),
    ("E para a Austrália?", "au-visa-fee"),
    ("Und in Deutschland?", "de-visa-fee"),
    ("Et pour l'Irlande ?", "ie-visa-fee"),
    ("А для Германии?", "de-visa-fee"),
])
def test_a_destination_alone_in_another_language_asks_the_earlier_question_there(later: str, entry: str) -> None:
    first = "what does the student visa cost for the UK"
    assert assess(later, [visitor(first), bot(assess(first).reply)]).topic == entry


@pytest.mark.parametrize("text, entry", [
    ("Sind deutsche Universitäten kostenlos?", "de-tuition"),
    ("¿Cuánto es la matrícula en universidades canadienses?", "ca-tuition"),
    ("Faculdades australianas são gratuitas?", "au-tuition"),
    ("Quelle est la bourse pour une université irlandaise ?", "ie-scholarships"),
])
def test_a_destination_named_by_its_adjective_in_another_language_is_that_destination(text: str, entry: str) -> None:
    assert assess(text).topic == entry


@pytest.mark.parametrize("text", [
    "ballpark cost of studying for one year?",
    "roughly what are studying costs for foreigners",
    "what does a student visa usually cost?",
    "are students allowed a part time job?",
])
def test_a_cost_or_work_question_naming_no_country_asks_which(text: str) -> None:
    decision = assess(text)
    assert decision.choices and decision.topic is None and not decision.handoff


@pytest.mark.parametrize("first, later, entry", [
    ("which destination is cheapest for an MSc?", "and for ireland?", "ie-tuition"),
    ("least expensive country for a postgrad degree?", "what about the us", "us-tuition"),
    ("which country is best for post study work options?", "and new zealand?", "nz-post-study-work"),
    ("what makes a good statement of purpose?", "and for canada?", "any-sop"),  # true everywhere: stays
])
def test_a_destination_after_a_general_answer_asks_its_own_fact(first: str, later: str, entry: str) -> None:
    said = assess(first)
    assert said.topic and said.topic.startswith("any-")
    assert assess(later, [visitor(first), bot(said.reply)]).topic == entry


@pytest.mark.parametrize("later", [
    "which countries allow students a part time job?",
    "in what country can i stay longest after graduating?",
    "best destination for a cheap masters?",
])
def test_a_question_across_countries_keeps_no_earlier_destination(later: str) -> None:
    first = "how long is the post-graduation work permit in canada"
    decision = assess(later, [visitor(first), bot(assess(first).reply)])
    assert not (decision.topic or "").startswith("ca-")


@pytest.mark.parametrize("text", [
    "how do my grandparents get a visitor visa to see me graduate in Leeds?",
    "tourist visa for my brother to Canada for two weeks",
    "can my uncle's company get me a work visa for my cousin in Sydney?",
])
def test_a_journey_other_than_study_is_declined_whatever_the_destination(text: str) -> None:
    decision = assess(text)
    assert decision.topic is None and not decision.choices


def test_a_visitor_visa_beside_the_visitors_own_studies_is_still_a_study_question() -> None:
    assert assess("can my husband join me on a visitor visa while I study in Canada?").topic == "ca-dependants"


@pytest.mark.parametrize("first, later, entry", [
    ("uk masters tuition roughly?", "n australia?", "au-tuition"),  # chat shorthand for "and"
    ("scholarships for a phd in germany?", "same question for new zealand pls, got an offer from otago", "nz-scholarships"),
])
def test_a_destination_said_in_passing_asks_the_question_before_there(first: str, later: str, entry: str) -> None:
    said = assess(first)
    assert assess(later, [visitor(first), bot(said.reply)]).topic == entry


def test_a_place_named_only_to_compare_with_leaves_the_chats_destination() -> None:
    first = "does canada need a medical exam for a study permit"
    decision = assess("and an interview too, like the americans have?", [visitor(first), bot(assess(first).reply)])
    assert decision.topic == "ca-visa-interview"


def test_chatter_words_beside_a_study_question_leave_it_a_study_question() -> None:
    # a job at a pizza place is still work on an F-1; the weather tomorrow is still chatter
    assert assess("on an f1 in boston, can i take shifts at a pizza place off campus?").topic == "us-work-while-studying"
    decision = assess("weather in dublin tomorrow?")
    assert (decision.handoff, decision.topic) == (False, None)


def test_a_term_left_out_still_names_its_destination() -> None:
    assert assess("what scholarships are there besides DAAD?").topic == "de-scholarships"


@pytest.mark.parametrize("text, entry", [
    ("is my data shared with third parties when i upload my passport to educonsult?", "educonsult-privacy"),
    ("je veux savoir combien coûte le permis d'études pour le Canada", "ca-visa-fee"),
    # renting words ask about accommodation
    ("landlord in brisbane wants a bond of 4 weeks rent, normal?", "au-accommodation"),
    ("what does 'flatting' mean in wellington", "nz-accommodation"),
])
def test_privacy_permit_fee_and_renting_wordings_find_their_entries(text: str, entry: str) -> None:
    assert assess(text).topic == entry


def test_the_same_question_about_a_new_place_is_a_follow_up_not_a_repeat() -> None:
    decision = assess("same question but for Dublin", [visitor("part-time work hours in London for students?"),
                                                       bot("(an answer about that)")])
    assert (decision.handoff, decision.topic) == (False, "ie-work-while-studying")


def test_a_follow_up_takes_the_one_destination_the_bots_answer_named() -> None:
    history = [visitor("which country is cheapest for a master's?"),
               bot("Germany is usually the most affordable: most public universities charge no tuition.")]
    assert answer("and when do I need to apply there?", history).country == "de"


@pytest.mark.parametrize("text,history,entry", [
    ("is the uk any cheaper?", [visitor("what does a bachelor's cost in canada"), bot("CAD 20,000-40,000 a year.")],
     "uk-tuition"),
    ("same story in ireland?", [visitor("student rooms in berlin are impossible to find"), bot("Halls have waiting lists.")],
     "ie-accommodation"),
    ("in canada how many hours can a student work, is it 20 like australia?", [], "ca-work-while-studying"),
    ("us dorms, do first years have to live in them?", [], "us-accommodation"),
])
def test_the_place_asked_about_is_the_one_the_question_is_about(text: str, history: list, entry: str) -> None:
    assert answer(text, history).entry.id == entry


def test_a_two_letter_word_is_not_a_misspelt_place() -> None:
    assert answer("how much is visa fee").kind == "clarify"  # not the US visa ("is visa")


def test_two_destinations_asked_at_once_get_the_answer_they_share() -> None:
    assert answer("which english test should i take if i apply to unis in canada and ireland").entry.id == "any-english-tests"
    assert answer("which english test should i take for canada").entry.id == "ca-english-tests"


def test_a_follow_up_about_a_destination_is_not_answered_with_our_own_process() -> None:
    history = [{"sender": "visitor", "text": "how do i get an i-20 for the usa"},
               {"sender": "bot", "text": "Your university issues the I-20 once you accept the offer."}]
    assert answer("got it, then what is the next step for the visa", history).entry.id == "us-student-visa"


def test_an_aside_after_the_question_is_left_out_of_what_is_asked() -> None:
    text = "how much is the student visa fee for canada? btw is vancouver rainy all year"
    decision = assess(text)
    assert decision.topic == "ca-visa-fee" and not decision.handoff
    assert assess("thanks! also how do i book a consultation").topic == "educonsult-book-consultation"


def test_two_neighbouring_topics_asked_together_get_the_first_ones_answer_when_it_gives_both() -> None:
    # the UK visa fee's answer gives the health surcharge too
    assert answer("uk visa fee plus the ihs, how much altogether").entry.id == "uk-visa-fee"


@pytest.mark.parametrize("text, code", [("I'd like to study in New Zealand next year", "nz"),
                                        ("Ich möchte in Irland studieren", "ie"), ("我打算去加拿大读书", "ca")])
def test_a_plan_told_without_a_question_is_asked_what_would_help(text: str, code: str) -> None:
    told = answer(text)
    assert told.kind == "invite" and told.entry is None and told.country == code
    assert answer("canada pgwp").entry.id == "ca-post-study-work"  # a visa term says what is asked
    assert "Canada or the United Kingdom" in answer("i want to study in canada and uk").reply


def test_the_closing_question_says_what_is_asked_after_a_story() -> None:
    text = "I'm from Lagos and my aunt will sponsor me. How much is the student visa fee for Canada?"
    assert answer(text).entry.id == "ca-visa-fee"


@pytest.mark.parametrize("text, entry", [
    ("What are monthly living expenses in Melbourne for a student? Renting a room there sounds pricey.",
     "au-living-costs"),
    ("How long does the German visa take to process? The embassy in Delhi asked me for an interview.",
     "de-visa-processing")])
def test_the_one_question_says_what_is_asked_before_a_remark(text: str, entry: str) -> None:
    assert answer(text).entry.id == entry


def test_the_one_question_outweighs_a_plan_that_sounds_like_another_topic() -> None:
    # "begin next year" is the wording of deferring an offer; what is asked is when the intakes are
    assert answer("which months are the intakes? hoping to begin next year").kind == "clarify"


@pytest.mark.parametrize("text, entry", [
    ("how much is the Duolingo English Test and how soon do scores arrive?", "any-duolingo"),  # a name, not a topic
    ("新西兰硕士读完可以拿几年的工作签证？", "nz-post-study-work"),  # "after finishing" and "how many years"
    # a step of the visa asked about, not the interview it also has
    ("what is this etudes en france thing, and do i need it for a masters in france?", "fr-student-visa"),
    # the test asked about, whatever the plan told after it
    ("do american colleges still want the SAT? I will finish my A levels in Accra next summer.", "us-sat-act"),
    ("do you have a branch in nairobi", "educonsult-contact-details")])
def test_names_and_words_that_said_another_topic(text: str, entry: str) -> None:
    assert answer(text).entry.id == entry


def test_where_the_visitor_comes_from_is_not_where_they_would_study() -> None:
    assert answer("I'm from Brazil. can I start at a community college and transfer to a university later?").entry.id \
        == "us-community-college"
    assert answer("im from brazil, what is the visa fee?").kind == "clarify"
    assert answer("how long is the post-study stay on Stamp 1G? we are from the Philippines").entry.id \
        == "ie-post-study-work"
    assert answer("canada study permit processing time from nigeria?").entry.id == "ca-visa-processing"


def test_opt_counted_in_months_or_years_names_the_united_states() -> None:
    assert answer("how many months of opt do i get after my ms").entry.id == "us-post-study-work"


def test_a_topic_one_destination_answers_within_a_broader_one_is_named_by_its_cue() -> None:
    # the medical checks are part of New Zealand's visa steps, not of what its student visa entry lists
    assert answer("is a chest xray needed for the nz student visa? staying 2 years").entry.id == "nz-visa-interview"
    # Ireland's visa steps never name one, and the general entry does not speak of Ireland: no fact, no guess
    assert answer("is a chest xray needed for the ireland student visa? staying 2 years").kind == "no-fact"
    assert answer("hourly pay for student part-time jobs in germany?").kind == "no-fact"
    assert answer("hourly pay for student part-time jobs in australia?").entry.id == "au-work-while-studying"


def test_terms_of_our_own_service_and_of_a_retired_visa_step_name_their_entries() -> None:
    assert answer("can the consultation be in Malayalam?").entry.id == "educonsult-counsellor-languages"
    assert answer("how do i book the free consultation").entry.id == "educonsult-book-consultation"
    # a GTE statement is the old genuine-student step, not a bank statement
    assert answer("is a GTE statement part of the Australian subclass 500 application now?").entry.id == "au-student-visa"


def test_what_the_visitor_sets_aside_is_not_what_is_asked() -> None:
    assert answer("besides tuition, how much is rent in Melbourne per month?").entry.id == "au-living-costs"


def test_another_country_after_an_answer_asks_which() -> None:
    history = [visitor("how much is the visa fee?"), bot(assess("how much is the visa fee?").reply),
               visitor("the United Kingdom"), bot(assess("how much is the uk visa fee?").reply)]
    assert answer("what about another country?", history).kind == "clarify"


def test_an_official_visa_name_is_not_a_question_about_its_fee() -> None:
    assert answer("what documents does the nz fee paying student visa need").entry.id == "nz-student-visa"
