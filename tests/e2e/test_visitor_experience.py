"""The visitor's chat as people meet it, in real Chromium: embedded in another site, through a server restart,
without JavaScript, read by assistive technology, and without a console error."""
import functools
import http.server
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import Server, free_port
from tests.e2e.chromium import reported, sign_in
from tests.e2e.test_console import PHONE

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect
ROOT = Path(__file__).resolve().parents[2]
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()


@pytest.fixture
def server(tmp_path, request):
    live = Server(tmp_path, HANDOFF_SWEEP_SECONDS="0.5", **getattr(request, "param", {})).start()
    yield live
    live.stop()


def send(where, text: str) -> None:
    where.get_by_label("Message").fill(text)
    where.get_by_role("button", name="Send").click()


def texts(locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


class HostSite:
    """docs/embed-demo.html served from another origin (another port), pointing at the chat server."""

    def __init__(self, folder: Path, port: int, chat_url: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        page = (ROOT / "docs" / "embed-demo.html").read_text().replace("http://127.0.0.1:8000", chat_url)
        folder.mkdir()
        (folder / "index.html").write_text(page)
        handler = functools.partial(Quiet, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def embedded(tmp_path, request):
    """A chat server, and another origin's site embedding it; the server lists that origin unless told otherwise."""
    port = free_port()
    origins = getattr(request, "param", f"http://127.0.0.1:{port}")
    live = Server(tmp_path, HANDOFF_SWEEP_SECONDS="0.5", HANDOFF_EMBED_ORIGINS=origins).start()
    site = HostSite(tmp_path / "site", port, live.url)
    yield live, site
    site.close()
    live.stop()


def test_the_widget_on_another_site_runs_a_conversation(chromium, embedded):
    live, site = embedded
    page = chromium.new_context().new_page()
    problems = reported(page)
    page.goto(site.url + "/")
    launcher = page.get_by_role("button", name="Chat with us")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    launcher.click()
    chat = page.frame_locator("iframe[title='Chat with us']")
    send(chat, "What IELTS score do I need for a UK master's?")
    expect(chat.locator('#messages [data-sender="bot"]')).to_have_count(1)
    chat.get_by_role("button", name="Talk to a human").click()

    agent = sign_in(chromium, live.url, "agent_001")
    panel = agent.locator(".chat-panel")
    expect(panel).to_contain_text("What IELTS score")
    expect(panel.locator(".host-page a")).to_have_text("Study in the UK · EduConsult")  # the host page's title
    expect(chat.locator("#status")).to_contain_text("You're chatting with Sarah Johnson")

    page.reload()  # the panel was open, and stays open
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(chat.locator("#messages")).to_contain_text("What IELTS score")  # the same chat: the cookie works
    page.get_by_role("button", name="Close the chat").click()
    expect(launcher).to_have_attribute("aria-expanded", "false")
    send(panel, "Hello from Sarah. Which university?")
    expect(launcher.locator(".badge")).to_have_text("1")  # unread while closed
    page.reload()
    expect(launcher).to_have_attribute("aria-expanded", "false")  # closed stays closed
    launcher.click()
    expect(chat.locator('#messages [data-sender="agent"]')).to_contain_text("Which university?")
    send(chat, "Edinburgh, for data science")
    expect(panel.locator('[data-sender="visitor"]').last).to_contain_text("Edinburgh")
    chat.get_by_label("Message").press("Escape")  # typed inside the frame, it closes the panel all the same
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()
    assert problems == [], problems


@pytest.mark.parametrize("embedded", ["", "http://127.0.0.1:9"], indirect=True)
def test_a_site_not_listed_cannot_frame_the_chat(chromium, embedded):
    live, site = embedded
    page = chromium.new_context().new_page()
    with page.expect_console_message(lambda m: "frame-ancestors" in m.text):
        page.goto(site.url + "/")
    assert page.frame_locator("iframe[title='Chat with us']").locator("#messages").count() == 0


def test_messages_typed_while_the_server_is_down_arrive_once_each_in_order(chromium, server):
    visitor = chromium.new_context().new_page()
    visitor.goto(server.url + "/")
    send(visitor, "I'd like to talk to a human about my UK visa")
    agent = sign_in(chromium, server.url, "agent_001")
    panel = agent.locator(".chat-panel")
    expect(panel).to_contain_text("UK visa")
    expect(visitor.locator("#status")).to_contain_text("You're chatting with Sarah Johnson")

    server.stop()
    for page in (visitor, agent):
        expect(page.locator("#connection")).to_have_text("Reconnecting…")
    send(visitor, "First, while the server was down")
    send(visitor, "Second, while the server was down")
    send(panel, "Sarah, while the server was down")
    expect(visitor.locator('.outbox-item[data-outbox="pending"]')).to_have_count(2)
    expect(panel.locator('.outbox-item[data-outbox="pending"]')).to_have_count(1)

    server.start()
    for page in (visitor, agent):
        expect(page.locator("#connection")).to_be_hidden(timeout=30_000)  # the stream retries every 10 s at most
        expect(page.locator(".outbox-item")).to_have_count(0)  # each replaced by the stored message
    mine = ["I'd like to talk to a human about my UK visa", "First, while the server was down",
            "Second, while the server was down"]
    expect(visitor.locator('#messages [data-sender="visitor"] .text')).to_have_text(mine)
    expect(panel.locator('[data-sender="visitor"] .text')).to_have_text(mine)
    expect(visitor.locator('#messages [data-sender="agent"] .text')).to_have_text(["Sarah, while the server was down"])
    visitor.reload()  # stored once each
    expect(visitor.locator('#messages [data-sender="visitor"] .text')).to_have_text(mine)


def test_a_short_loss_of_network_shows_offline_and_clears_once_back(chromium, server):
    context = chromium.new_context()
    visitor = context.new_page()
    visitor.goto(server.url + "/")
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)
    context.set_offline(True)
    expect(visitor.locator("#connection")).to_be_visible()
    context.set_offline(False)
    expect(visitor.locator("#connection")).to_be_hidden()  # whether the stream survived or came back
    send(visitor, "And for a PhD?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(2)


@pytest.mark.parametrize("server", [{"HANDOFF_VISITOR_RATE": "1", "HANDOFF_VISITOR_RATE_SECONDS": "3"}],
                         indirect=True)
def test_a_refused_message_shows_why_and_retry_sends_it(chromium, server):
    visitor = chromium.new_context().new_page()
    visitor.goto(server.url + "/")
    questions = [f"Question {n} about UK visas" for n in range(4)]
    for question in questions:
        send(visitor, question)
    failed = visitor.locator('.outbox-item[data-outbox="failed"]')
    expect(failed.first).to_contain_text("Not sent: You're sending messages very quickly")
    while failed.count():  # the limit's window passes; Retry sends the same message again
        failed.first.get_by_role("button", name="Retry").click()
        expect(visitor.locator('.outbox-item[data-outbox="sending"]')).to_have_count(0)
    sent = visitor.locator('#messages [data-sender="visitor"] .text')
    expect(sent).to_have_count(4)
    assert sorted(sent.all_inner_texts()) == questions  # each once


def test_a_page_opened_before_the_chat_existed_goes_live_once_it_begins(chromium, server):
    """The page stores nothing until the visitor writes or asks for a human; then its stream opens."""
    visitor = chromium.new_context().new_page()
    errors = reported(visitor)
    visitor.goto(server.url + "/")
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)  # over the stream it opened
    other = chromium.new_context().new_page()
    other.goto(server.url + "/")
    other.get_by_role("button", name="Talk to a human").click()
    expect(other.locator("#status")).to_contain_text("in the queue")
    assert errors == []


def test_keyboard_focus_moves_on_when_the_status_line_redraws_its_button_away(chromium, server):
    visitor = chromium.new_context().new_page()
    visitor.goto(server.url + "/")
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)
    visitor.get_by_role("button", name="Talk to a human").focus()
    visitor.keyboard.press("Enter")
    expect(visitor.locator("#status")).to_contain_text("in the queue")
    expect(visitor.locator("#message")).to_be_focused()  # not lost on the page's body
    visitor.keyboard.type("Still here")
    expect(visitor.locator("#message")).to_have_value("Still here")


def test_the_whole_flow_without_javascript(chromium, server):
    visitor = chromium.new_context(java_script_enabled=False).new_page()
    addresses: list[str] = []
    visitor.on("request", lambda r: addresses.append(r.url))
    visitor.goto(server.url + "/")
    assert "Live updates need JavaScript" in visitor.locator("noscript").text_content()
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)
    assert visitor.url.endswith("#latest") and newest_in_view(visitor)  # the reply, not the oldest message
    visitor.get_by_role("button", name="Talk to a human").click()
    # Without script the agent's page only shows what was queued before it loaded: wait for the queue first.
    expect(visitor.locator("#messages")).to_contain_text("in the queue")

    agent = sign_in(chromium, server.url, "agent_001", java_script_enabled=False)
    agent.locator("#queue").get_by_role("button", name="Take").click()  # no stream, so no automatic assignment
    panel = agent.locator(".chat-panel")
    expect(panel).to_contain_text("What IELTS score")
    send(panel, "Hello, Sarah here. Which university?")
    visitor.reload()
    expect(visitor.locator("#status")).to_contain_text("You're chatting with Sarah Johnson")
    expect(visitor.locator('#messages [data-sender="agent"]')).to_contain_text("Which university?")
    send(visitor, "Edinburgh")
    agent.reload()
    expect(agent.locator('.chat-panel [data-sender="visitor"]').last).to_contain_text("Edinburgh")

    visitor.get_by_role("button", name="End chat").click()
    expect(visitor.locator("#status")).to_contain_text("This chat has ended.")
    expect(visitor.get_by_label("Message")).to_have_count(0)
    visitor.get_by_label("4").check()
    visitor.get_by_role("button", name="Send rating").click()
    expect(visitor.locator("#status")).to_contain_text("rating this chat 4 out of 5")
    visitor.get_by_role("button", name="Start a new chat").click()
    expect(visitor.locator("#messages .intro")).to_have_count(1)
    assert [a for a in addresses if "?" in a] == []  # nothing, a secret least of all, travels in an address


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    page.evaluate(AXE)
    return page.evaluate("""axe.run(document, {resultTypes: ["violations"]}).then(result => result.violations
        .filter(v => v.impact === "serious" || v.impact === "critical")
        .map(v => v.id + ": " + v.nodes.map(n => n.target.join(" ")).join(", ")))""")


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
@pytest.mark.parametrize("viewport", [None, PHONE])
def test_every_page_passes_axe_and_logs_no_error(chromium, server, viewport):
    visitor = chromium.new_context(viewport=viewport).new_page()
    problems = reported(visitor)
    found = {}
    visitor.goto(server.url + "/")
    found["visitor, new"] = serious_violations(visitor)
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)
    visitor.get_by_role("button", name="Talk to a human").click()
    visitor.get_by_text("Leave a message instead").click()
    expect(visitor.get_by_label("Your email address")).to_be_focused()
    found["visitor, waiting"] = serious_violations(visitor)

    agent = sign_in(chromium, server.url, "agent_001", viewport=viewport)
    agent_problems = reported(agent)
    agent.locator("#queue").get_by_role("button", name="Take").click()
    # the taken chat's reply box takes the focus once its panel is in: typing before that can land in a box
    # the panel then replaces
    expect(agent.locator(".chat-panel").get_by_label("Message")).to_be_focused()
    send(agent.locator(".chat-panel"), "Hello, Sarah here.")
    expect(visitor.locator('#messages [data-sender="agent"]')).to_have_count(1)
    found["visitor, with a counsellor"] = serious_violations(visitor)
    found["dashboard"] = serious_violations(agent)
    visitor.get_by_role("button", name="End chat").click()
    expect(visitor.locator("#chat-ended")).to_be_focused()
    found["visitor, ended"] = serious_violations(visitor)
    for path in ("/agent/password", "/agent/admin", "/agent/admin/canned",
                 "/agent/admin/knowledge", "/agent/admin/knowledge/uk-student-visa", "/agent/admin/flags",
                 "/agent/admin/activity", "/agent/admin/throttles", "/agent/admin/live", "/agent/conversations",
                 "/agent/conversations/1", "/agent/analytics"):
        agent.goto(server.url + path)
        found[path] = serious_violations(agent)
    agent.get_by_role("button", name="Sign out").click()
    found["/agent/login"] = serious_violations(agent)
    assert {page: v for page, v in found.items() if v} == {}
    assert problems + agent_problems == []


def test_each_message_is_read_out_with_its_speaker(chromium, server):
    visitor = chromium.new_context().new_page()
    visitor.goto(server.url + "/")
    send(visitor, "I want to talk to a human about my UK visa")
    agent = sign_in(chromium, server.url, "agent_001")
    send(agent.locator(".chat-panel"), "Hello, Sarah here.")
    items = visitor.get_by_role("list", name="Conversation").get_by_role("listitem")
    expect(items.filter(has_text="Hello, Sarah here.")).to_have_count(1)
    spoken = [item.inner_text() for item in items.all()]  # hidden speakers included, as screen readers get them
    assert spoken[0].startswith("EduConsult assistant") and any(s.startswith("You said") for s in spoken)
    assert spoken[-1].startswith("Sarah Johnson")


def newest_in_view(page, within: float = 15.0) -> bool:
    """Whether the newest message comes into view: the list scrolls on the next frame after a change, so poll."""
    deadline = time.monotonic() + within
    while True:
        seen = page.evaluate("""() => { const list = document.getElementById("messages");
            const last = list.lastElementChild.getBoundingClientRect(), box = list.getBoundingClientRect();
            return last.bottom <= box.bottom + 1 && last.top >= box.top - 1; }""")
        if seen or time.monotonic() > deadline:
            return seen
        page.wait_for_timeout(100)


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_on_a_phone_the_newest_message_stays_in_view(chromium, server):
    visitor = chromium.new_context(viewport=PHONE).new_page()
    visitor.goto(server.url + "/")
    for question in ("What does a student visa for Canada cost?", "How much is tuition in Germany?",
                     "Which English tests do Australian universities accept?"):
        send(visitor, question)
        expect(visitor.locator("#messages .msg").last).to_have_attribute("data-sender", "bot")
    visitor.get_by_role("button", name="Talk to a human").click()
    expect(visitor.locator("#status")).to_contain_text("No counsellor is online right now")
    visitor.get_by_text("Leave a message instead").click()
    expect(visitor.get_by_label("Your email address")).to_be_focused()
    assert newest_in_view(visitor)
    visitor.get_by_role("button", name="End chat").click()
    expect(visitor.locator("#status")).to_contain_text("This chat has ended.")
    expect(visitor.locator("#chat-form")).to_be_hidden()
    expect(visitor.locator("#messages .msg").last).to_contain_text("You ended the chat.")
    assert newest_in_view(visitor)


def test_message_times_read_on_the_visitors_own_clock(chromium, server):
    visitor = chromium.new_context(timezone_id="Asia/Kolkata", locale="en-GB").new_page()
    visitor.goto(server.url + "/")
    send(visitor, "How much is tuition in Germany?")
    expect(visitor.locator("#messages .msg").last).to_have_attribute("data-sender", "bot")
    for time_ in (visitor.locator("#messages time").first, visitor.locator("#messages time").last):
        shown = time_.inner_text()
        expected = visitor.evaluate("""t => new Date(t).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"})""",
                                    time_.get_attribute("datetime"))
        utc = time_.get_attribute("datetime")[11:16]
        assert shown == expected and shown != utc  # Kolkata is 5:30 ahead of UTC all year
    visitor.reload()
    first = visitor.locator("#messages time").first
    assert first.inner_text() != first.get_attribute("datetime")[11:16]


def test_a_long_conversation_scrolls_inside_its_list_not_the_page(chromium, server):
    visitor = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    visitor.goto(server.url + "/")
    asked = ["What is the UK student visa fee?", "How much is tuition in Germany?", "When are the intakes in Canada?",
             "Can I work while studying in Australia?", "What IELTS score does Ireland ask for?",
             "How much are living costs in the Netherlands?", "Do I need health insurance in France?",
             "What scholarships are there in New Zealand?"]
    for k, question in enumerate(asked):
        visitor.locator("#message").fill(question)
        visitor.get_by_role("button", name="Send").click()
        expect(visitor.locator("#messages .msg[data-sender=bot]")).to_have_count(k + 1)
    # the visually hidden "You said" labels stay inside the list's scroll area, not below the page's end
    assert visitor.evaluate("document.scrollingElement.scrollHeight <= window.innerHeight")


def test_message_times_are_written_the_way_of_the_pages_language(chromium, server):
    visitor = chromium.new_context(timezone_id="UTC", locale="en-US").new_page()
    visitor.goto(server.url + "/")
    visitor.get_by_label("Language").select_option("de")
    visitor.get_by_role("button", name="Change").click()
    visitor.get_by_label("Nachricht").fill("Was kostet das Studium in Deutschland?")
    visitor.get_by_role("button", name="Senden").click()
    expect(visitor.locator("#messages .msg").last).to_have_attribute("data-sender", "bot")
    shown = visitor.locator("#messages time").last.inner_text()
    # German writes the 24-hour clock, where the American browser alone would add AM or PM
    assert "AM" not in shown and "PM" not in shown and shown == visitor.locator("#messages time").last.get_attribute(
        "datetime")[11:16]


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_a_phone_with_its_keyboard_open_keeps_the_conversation_readable(chromium, server):
    visitor = chromium.new_context(viewport={"width": 375, "height": 400}).new_page()  # about what a keyboard leaves
    visitor.goto(server.url + "/")
    send(visitor, "How much is tuition in Germany?")
    visitor.get_by_role("button", name="Talk to a human").click()
    expect(visitor.locator("#status")).to_contain_text("No counsellor is online right now")
    visitor.get_by_text("Leave a message instead").click()
    expect(visitor.get_by_label("Your email address")).to_be_focused()
    assert visitor.evaluate("document.getElementById('messages').clientHeight") >= 100  # a quarter of the screen
