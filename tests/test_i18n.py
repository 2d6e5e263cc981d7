"""The visitor's language: catalogs, negotiation, switching, storing, the bot's sentences and routing by language."""
import gettext
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from markupsafe import Markup
from starlette.testclient import TestClient

import conversation
import i18n
from escalation.answers import CLARIFY_REPLY, NO_FACT_REPLY, WHICH_TOPIC_REPLY, _names
from escalation.language import INTERFACE, detect_sure
from models import Agent, ChatSession, Message
from tests.conftest import Browser
from tests.test_routing import online, owner, waiting

ROOT = Path(__file__).resolve().parent.parent
SPANISH = "Hola, quiero estudiar una maestría en Canadá el próximo año."
ARABIC = "مرحبا، أريد أن أدرس الماجستير في كندا في العام القادم."
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted() -> set[str]:
    """Every sentence for visitors in the code and templates, as `pybabel extract` finds them."""
    with open(ROOT / "babel.cfg") as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = extract_from_dir(str(ROOT), method_map, options_map, keywords={"translate": (2,), "_": None})
    return {message for _, _, message, _, _ in found}


def po(language: str):
    path = i18n.LOCALE_DIR / i18n.FOLDERS.get(language, language) / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        return read_po(file)


@pytest.mark.parametrize("language", INTERFACE)
def test_every_catalog_translates_every_sentence(language):
    catalog = po(language)
    missing = {m for m in extracted() if not catalog.get(m) or not catalog.get(m).string or catalog.get(m).fuzzy}
    assert not missing


@pytest.mark.parametrize("language", INTERFACE)
def test_compiled_catalogs_match_their_po(language):
    with (i18n.LOCALE_DIR / i18n.FOLDERS.get(language, language) / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        compiled = {k: v for k, v in gettext.GNUTranslations(mo)._catalog.items() if k}
    assert compiled == {m.id: m.string for m in po(language) if m.id}, "run: pybabel compile -d locale"


@pytest.mark.parametrize("language", INTERFACE)
def test_translations_keep_placeholders_and_carry_no_markup(language):
    for message in po(language):
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(PLACEHOLDER.findall(message.id))
            assert not set("<>&{}") & set(PLACEHOLDER.sub("", message.string)), message.string


def test_a_catalog_cannot_add_markup_to_a_page(monkeypatch):
    evil = gettext.NullTranslations()
    evil.gettext = lambda message: '<script>alert(1)</script> %(name)s'
    monkeypatch.setattr(i18n, "catalog", lambda language: evil)
    i18n.template_context.cache_clear()
    try:
        text = i18n.template_context("xx")["_"]
        assert text("Send", name=Markup("<b>ok</b>")) == "&lt;script&gt;alert(1)&lt;/script&gt; <b>ok</b>"
        assert text("Send", name="<img src=x>") == "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x&gt;"
    finally:
        i18n.template_context.cache_clear()


@pytest.mark.parametrize("header, expected", [
    ("es-ES,es;q=0.9,en;q=0.8", "es"), ("en-GB;q=0.5, ar;q=0.9", "ar"), ("zh-CN", "zh"), ("ru, de;q=0.3", "de"),
    ("ru", None), ("", None), (None, None), ("fr;q=abc, pt-BR", "pt"), ("tr;q=0, vi", "vi")])
def test_accept_language_picks_an_interface_language(header, expected):
    assert i18n.negotiate(header) == expected


@pytest.fixture
def french(app):
    """A visitor whose browser prefers French."""
    with TestClient(app, headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"}) as client:
        browser = Browser(client)
        browser.get("/")
        yield browser


def test_without_messages_the_browser_language_decides(french, visitor):
    assert '<html lang="fr" dir="ltr">' in french.get("/").text and ">Envoyer</button>" in french.get("/").text
    assert '<html lang="en" dir="ltr">' in visitor.get("/").text and ">Send</button>" in visitor.get("/").text


def test_the_visitors_messages_outrank_the_browser(french):
    response = french.say(SPANISH)
    assert response.status_code == 201 and response.headers["HX-Refresh"] == "true"
    assert ChatSession.get().language == "es"
    page = french.get("/").text
    assert '<html lang="es" dir="ltr">' in page and ">Enviar</button>" in page and "Hablar con una persona" in page


@pytest.mark.parametrize("text", ["thanks", "ok", "visa for Canada", "IELTS 7.0?"])
def test_messages_too_short_to_tell_change_nothing(french, text):
    french.say("Bonjour, je voudrais étudier au Canada l'année prochaine.")
    response = french.say(text)
    assert "HX-Refresh" not in response.headers and ChatSession.get().language == "fr"


def test_arabic_turns_the_page_right_to_left(visitor):
    visitor.say(ARABIC)
    page = visitor.get("/").text
    assert '<html lang="ar" dir="rtl">' in page and "التحدث مع شخص" in page


def test_an_arabic_hello_and_thanks_get_the_bots_greeting_and_welcome_in_arabic(visitor):
    visitor.post("/chat/language", {"language": "ar", "csrf_token": visitor.token})
    for text in ("مرحبا", "شكرا جزيلا"):
        visitor.say(text)
    replies = [m.text for m in Message.select().where(Message.sender == "bot").order_by(Message.id)][-2:]
    assert replies[0].startswith("مرحبًا") and replies[1].startswith("على الرحب والسعة")


def test_system_messages_are_written_in_the_chats_language(visitor):
    visitor.say(SPANISH)
    visitor.post("/chat/handoff")
    assert Message.select().where(Message.sender == "system").get().text == "Ya estás en la cola para hablar con un asesor."
    assert "Eres el número 1 en la cola." in visitor.get("/").text


def test_the_visitor_switches_the_language_and_it_holds(visitor):
    response = visitor.post("/chat/language", {"language": "ar", "csrf_token": visitor.token}, follow_redirects=False)
    assert response.status_code == 303 and '<html lang="ar" dir="rtl">' in visitor.get("/").text
    visitor.say("What IELTS score do I need for a master's degree in the UK?")
    assert ChatSession.get().language == "ar" and '<html lang="ar" dir="rtl">' in visitor.get("/").text


@pytest.mark.parametrize("choice", ["xx", "", "<b>", "ru"])
def test_an_unknown_language_is_refused_and_changes_nothing(visitor, choice):
    visitor.say("Hello")
    response = visitor.post("/chat/language", {"language": choice, "csrf_token": visitor.token})
    assert response.status_code == 400 and ChatSession.get().language == "en"


def test_errors_come_in_the_visitors_language(visitor):
    visitor.say(SPANISH)
    response = visitor.say("x" * 2001)
    assert response.status_code == 400 and "Los mensajes pueden tener como máximo 2000 caracteres" in response.text


def test_an_english_answer_and_its_note_in_arabic_each_read_in_their_own_direction(visitor):
    visitor.post("/chat/language", {"language": "ar", "csrf_token": visitor.token})
    visitor.say("What IELTS score do I need for a master's degree in the UK?")
    note = i18n.translate("ar", conversation.ENGLISH_ONLY_TEXT)
    assert f'<p class="text" dir="auto">{Markup.escape(note)}</p>' in visitor.get("/").text


def test_an_english_only_answer_says_so_in_the_visitors_language():
    answer = "Most UK universities ask for IELTS 6.5 overall for a master's degree, with no band below 6.0."
    reply = conversation._bot_reply(answer, "es")
    assert reply.startswith(answer) and "solo está disponible en inglés" in reply
    assert conversation._bot_reply(answer, "en") == conversation._bot_reply(answer, "ru") == answer
    assert conversation._bot_reply(conversation.QUEUED_TEXT, "tr") == "Artık bir danışmanla görüşmek için sıradasınız."


@pytest.mark.parametrize("reply, language, expected", [
    (CLARIFY_REPLY.format(names="Canada, the UK or Australia"), "fr",
     "La réponse dépend de la destination. De quel pays parlez-vous : Canada, the UK or Australia ?"),
    (NO_FACT_REPLY.format(topic="work while studying", country="Ireland"), "zh",
     "关于 爱尔兰 的 work while studying，我没有经过核实的信息，也不想随便猜测。顾问可以帮您查清楚：需要我为您联系顾问吗？"),
    ("The answer depends on the destination.", "fr", None)])
def test_sentences_filled_in_from_a_template_are_translated_with_their_values(reply, language, expected):
    assert i18n.translated(language, reply) == expected


def test_agents_see_the_chats_language(visitor, agent):
    visitor.say(ARABIC)
    visitor.post("/chat/handoff")
    assert 'data-language="ar">Arabic</span>' in agent.get("/agent/dashboard").text


def test_admin_sets_an_agents_languages(agent):
    form = {"name": "Emma Williams", "skills": ["uk"], "languages": ["en", "ar", "xx"], "max_chats": "4",
            "role": "agent", "active": "on"}
    assert agent.post("/agent/admin/agents/agent_003", form).status_code == 200
    assert Agent.by_agent_id("agent_003").language_list == ["en", "ar"]


def speaks(agent_id: str, languages: str) -> None:
    Agent.update(languages=languages).where(Agent.agent_id == agent_id).execute()


@pytest.mark.parametrize("language, expected", [("ar", "agent_003"), ("en", "agent_001"), (None, "agent_001"),
                                                ("ru", "agent_001")])
def test_a_chat_goes_to_an_agent_who_speaks_its_language(app, language, expected):
    speaks("agent_003", "en,ar")
    online("agent_001", "agent_003")
    chat = waiting("general")
    ChatSession.update(language=language).where(ChatSession.id == chat.id).execute()
    conversation.auto_assign()
    assert owner(chat) == expected


def test_when_its_speakers_are_full_the_skill_decides(app):
    speaks("agent_003", "en,ar")
    emma, = online("agent_001", "agent_003")[1:]
    Agent.update(max_chats=1).where(Agent.id == emma.id).execute()
    first, second = waiting("general", minutes_ago=2), waiting("general", minutes_ago=1)
    ChatSession.update(language="ar").execute()
    conversation.auto_assign()
    assert (owner(first), owner(second)) == ("agent_003", "agent_001")


@pytest.mark.parametrize("language, names", [
    ("es", "Irlanda, Países Bajos o Francia"), ("fr", "Irlande, Pays-Bas ou France"), ("de", "Irland, Niederlande oder Frankreich"),
    ("pt", "Irlanda, Países Baixos ou França"), ("hi", "आयरलैंड, नीदरलैंड या फ्रांस"), ("zh", "爱尔兰、荷兰或法国"),
    ("ar", "أيرلندا، هولندا أو فرنسا"), ("vi", "Ireland, Hà Lan hoặc Pháp"), ("tr", "İrlanda, Hollanda veya Fransa"),
    ("en", "Ireland, the Netherlands or France")])
def test_the_question_which_destination_names_them_in_the_visitors_language(language, names):
    asked = CLARIFY_REPLY.format(names=_names(["ie", "nl", "fr"]))
    shown = i18n.translated(language, asked)
    assert names in shown and (language == "en" or "the Netherlands" not in shown)
    # a topic's name filled in beside a country's stays in English, as the reply picking a topic is read by it
    which = WHICH_TOPIC_REPLY.format(first="the visa fee", second="visa processing times", place=" for Germany")
    assert "the visa fee" in i18n.translated(language, which)


def test_destination_buttons_are_labelled_in_the_visitors_language(visitor):
    visitor.post("/chat/language", {"language": "es", "csrf_token": visitor.token})
    visitor.say("¿Cuándo empiezan las clases?")
    page = visitor.get("/").text
    assert "Alemania</button>" in page and "Países Bajos</button>" in page and "Germany</button>" not in page
    # a press sends the name as shown, which the bot reads as that place: the visitor's bubble is in their language
    assert 'name="text" value="Alemania"' in page
    visitor.say("Alemania")
    reply = Message.select().where(Message.sender == "bot").order_by(Message.id.desc()).get()
    assert reply.entry == "de-intakes"


def test_the_zones_and_sentence_patterns_load_at_start_not_in_a_visitors_turn(app):
    i18n._zones.cache_clear()
    i18n._templates.cache_clear()
    with TestClient(app):
        assert i18n._zones.cache_info().currsize == 1
        assert i18n._templates.cache_info().currsize == len(i18n.INTERFACE)


def test_a_keyboard_mash_or_hindi_in_latin_letters_leaves_the_chats_language_alone():
    assert detect_sure("asdkjh qweoiu") is None
    assert detect_sure("UK student visa ki fees kitni hai?") is None
    assert (detect_sure("Quiero estudiar en Canadá el año que viene"), detect_sure("danke schön")) == ("es", "de")
