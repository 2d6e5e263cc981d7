"""The visitor's language in real Chromium: an Arabic page right to left routed to the Arabic speaker, Spanish system messages."""
import pytest

from tests.conftest import Server
from tests.e2e.chromium import visitor_asks
from tests.e2e.test_console import sign_in

playwright = pytest.importorskip("playwright.sync_api")
ARABIC = "مرحبا، أريد أن أدرس الماجستير في كندا في العام القادم، هل يمكنكم مساعدتي؟"
ASKS_FOR_A_PERSON = "أريد التحدث إلى شخص حقيقي من فضلك"
SPANISH = "Hola, quiero estudiar una maestría en Canadá el próximo año. ¿Me pueden ayudar?"


@pytest.fixture(autouse=True)
def patient():
    """A page reloads in the visitor's language after a round trip or two, which a busy machine makes slow."""
    playwright.expect.set_options(timeout=30_000)
    yield
    playwright.expect.set_options(timeout=5_000)


@pytest.fixture
def server(tmp_path, request):
    live = Server(tmp_path, HANDOFF_SWEEP_SECONDS="0.5", **getattr(request, "param", {})).start()
    yield live
    live.stop()


def test_an_arabic_visitor_gets_a_right_to_left_page_and_the_agent_who_speaks_arabic(chromium, server):
    expect = playwright.expect
    sarah = sign_in(chromium, server.url, "agent_001")  # general counselling, English: first in line otherwise
    sarah.goto(server.url + "/agent/admin")
    card = sarah.locator('[data-agent-id="agent_003"]')
    card.get_by_label("Arabic").check()
    card.get_by_role("button", name="Save agent_003").click()
    expect(sarah.locator('[data-agent-id="agent_003"]').get_by_label("Arabic")).to_be_checked()
    sarah.goto(server.url + "/agent/dashboard")
    emma = sign_in(chromium, server.url, "agent_003")  # UK universities, now English and Arabic

    visitor = visitor_asks(chromium, server.url, ARABIC, locale="en-US")
    expect(visitor.locator("html")).to_have_attribute("dir", "rtl")  # the page reloads in the visitor's language
    expect(visitor.locator("html")).to_have_attribute("lang", "ar")
    expect(visitor.get_by_label("الرسالة")).to_be_visible()
    expect(visitor.get_by_role("button", name="إرسال")).to_be_visible()
    expect(visitor.get_by_label("اللغة")).to_have_value("ar")
    # The layout mirrors: the visitor's own message sits on the left of the chat window.
    own = visitor.locator('#messages [data-sender="visitor"]').bounding_box()
    window = visitor.locator(".chat-window").bounding_box()
    assert own["x"] - window["x"] < (window["x"] + window["width"]) - (own["x"] + own["width"])

    visitor.get_by_label("الرسالة").fill(ASKS_FOR_A_PERSON)
    visitor.get_by_role("button", name="إرسال").click()
    expect(visitor.locator("#messages")).to_contain_text("أنت الآن في قائمة الانتظار للتحدث مع مستشار.")
    expect(visitor.locator("#messages")).to_contain_text("انضم Emma Williams إلى المحادثة.")
    expect(visitor.locator("#status")).to_contain_text("أنت تتحدث مع Emma Williams، مستشار في EduConsult.")
    panel = emma.locator(".chat-panel")
    expect(panel).to_contain_text(ARABIC)
    expect(panel.locator(".badge.language").first).to_have_text("Arabic")
    expect(emma.get_by_role("complementary").locator(".badge.language")).to_have_text("Arabic")
    expect(sarah.locator(".chat-panel")).to_have_count(0)


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_a_spanish_visitor_gets_spanish_system_messages(chromium, server):
    expect = playwright.expect
    visitor = visitor_asks(chromium, server.url, SPANISH, locale="en-US")
    expect(visitor.locator("html")).to_have_attribute("lang", "es")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)
    visitor.get_by_role("button", name="Hablar con una persona").click()
    expect(visitor.locator("#messages")).to_contain_text("Ya estás en la cola para hablar con un asesor.")
    expect(visitor.locator("#status")).to_contain_text("Eres el número 1 en la cola.")

    sarah = sign_in(chromium, server.url, "agent_001")
    row = sarah.locator("#queue [data-session-id]")
    expect(row.locator(".badge.language")).to_have_text("Spanish")
    row.get_by_role("button", name="Take").click()
    expect(visitor.locator("#messages")).to_contain_text("Sarah Johnson se ha unido al chat.")
    panel = sarah.locator(".chat-panel")
    panel.locator("summary", has_text="Close").click()
    panel.get_by_role("button", name="Close chat").click()
    expect(visitor.locator("#messages")).to_contain_text(
        "Sarah Johnson ha terminado el chat. Gracias por hablar con nosotros; puedes valorar este chat más abajo.")
    expect(visitor.locator("#status")).to_contain_text("¿Qué tal ha ido este chat? Valóralo del 1 al 5")
    visitor.get_by_label("4").check()
    visitor.get_by_role("button", name="Enviar valoración").click()
    expect(visitor.locator("#status")).to_contain_text("Gracias por valorar este chat con un 4 de 5.")


def test_the_language_menu_works_without_script(chromium, server):
    expect = playwright.expect
    page = chromium.new_context(java_script_enabled=False, locale="en-US").new_page()
    page.goto(server.url + "/")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Language").select_option("tr")
    page.get_by_role("button", name="Change").click()
    expect(page.locator("html")).to_have_attribute("lang", "tr")
    expect(page.get_by_role("button", name="Gönder")).to_be_visible()
    expect(page.get_by_label("Dil")).to_have_value("tr")
