"""The inbox in real Chromium with two agents and three visitors: being told, live presence, transfers,
history and supervision."""
import pytest

from tests.conftest import Server
from tests.e2e.chromium import reported, sign_in, visitor_asks

playwright = pytest.importorskip("playwright.sync_api")

# Records desktop notifications instead of showing them, and lets the test hide the tab.
NOTIFICATIONS = """
window.__notes = [];
window.Notification = function (title, options) { window.__notes.push({title: title, body: (options || {}).body}); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
window.__hidden = false;
Object.defineProperty(document, "hidden", {get: function () { return window.__hidden; }});
Object.defineProperty(document, "visibilityState", {get: function () { return window.__hidden ? "hidden" : "visible"; }});
"""


@pytest.fixture
def server(tmp_path, request):
    env = {"HANDOFF_SWEEP_SECONDS": "0.5", "HANDOFF_AUTO_ASSIGN": "0", **getattr(request, "param", {})}
    live = Server(tmp_path, **env).start()
    yield live
    live.stop()


def hide(page, hidden: bool = True) -> None:
    page.evaluate("h => { window.__hidden = h; document.dispatchEvent(new Event('visibilitychange')); }", hidden)


def chimes(page) -> int:
    return int(page.evaluate("document.body.dataset.chimes || '0'"))


def test_the_title_counts_unread_a_chime_plays_and_a_hidden_tab_gets_notifications(chromium, server):
    expect = playwright.expect
    emma = sign_in(chromium, server.url, "agent_003", NOTIFICATIONS)
    problems = reported(emma)
    expect(emma).to_have_title("Handoff")
    first = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    expect(emma).to_have_title("(1) Handoff")
    assert chimes(emma) >= 1
    emma.locator("#queue").get_by_role("button", name="Take").click()
    expect(emma.locator("#reply-1")).to_be_focused()
    expect(emma).to_have_title("Handoff")

    hide(emma)
    visitor_asks(chromium, server.url, "I want to talk to a human about UK accommodation")
    expect(emma).to_have_title("(1) Handoff")
    first.get_by_label("Message").fill("Are you still there? My visa appointment is tomorrow")
    first.get_by_role("button", name="Send").click()
    expect(emma).to_have_title("(2) Handoff")
    expect(emma.locator("#mine [data-session-id='1'] .unread")).to_have_text("1")
    titles = emma.evaluate("window.__notes.map(n => n.title + ': ' + n.body)")
    assert any(t.startswith("Visitor #2 is waiting") for t in titles), titles
    assert any(t.startswith("Visitor #1:") and "visa appointment" in t for t in titles), titles
    assert chimes(emma) >= 3
    hide(emma, False)
    expect(emma).to_have_title("(1) Handoff")  # the chat in view is read once the tab shows again

    emma.locator("#mute").click()
    before = chimes(emma)
    emma.reload()
    expect(emma.locator("#mute")).to_have_attribute("aria-pressed", "true")  # remembered
    visitor_asks(chromium, server.url, "I want to talk to a human about UK fees")
    expect(emma).to_have_title("(2) Handoff")
    assert chimes(emma) == 0 <= before
    michael = sign_in(chromium, server.url, "agent_002")
    michael.locator("#queue").get_by_role("button", name="Take").first.click()
    expect(emma).to_have_title("(1) Handoff")  # a colleague took one of the two waiting
    assert not problems, problems


def test_the_transfer_list_follows_presence_live_and_an_absent_agent_is_refused(chromium, server):
    expect = playwright.expect
    emma = sign_in(chromium, server.url, "agent_003")
    problems = reported(emma)
    visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    emma.locator("#queue").get_by_role("button", name="Take").click()
    options = emma.locator("#transfer-1 option[value='agent_002']")
    expect(options).to_have_count(0)  # Michael has not opened his dashboard
    michael = sign_in(chromium, server.url, "agent_002")
    expect(options).to_have_count(1)  # without a reload
    expect(emma.locator("#team [data-agent-id='agent_002']")).to_have_attribute("data-presence", "online")
    michael.context.close()
    expect(options).to_have_count(0)
    expect(emma.locator("#team [data-agent-id='agent_002']")).to_have_attribute("data-presence", "offline")
    token = emma.evaluate("document.querySelector('meta[name=csrf-token]').content")
    response = emma.request.post(server.url + "/agent/sessions/1/transfer", form={"agent_id": "agent_002"},
                                 headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert response.status == 409 and "Michael Chen is offline" in response.text()
    expect(emma.locator(".chat-panel")).to_have_count(1)
    assert not problems, problems


def test_history_search_finds_a_closed_chat_by_a_word_in_it(chromium, server):
    expect = playwright.expect
    emma = sign_in(chromium, server.url, "agent_003")
    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    emma.locator("#queue").get_by_role("button", name="Take").click()
    expect(visitor.locator("#status")).to_contain_text("Emma Williams")
    visitor.get_by_label("Message").fill("My sponsor is the Commonwealth Scholarship Commission")
    visitor.get_by_role("button", name="Send").click()
    expect(emma.locator("#messages-1")).to_contain_text("Commonwealth")
    panel = emma.locator("#chat-1")
    panel.locator("summary", has_text="Close").click()
    panel.get_by_role("button", name="Close chat").click()
    expect(emma.locator(".chat-panel")).to_have_count(0)
    emma.get_by_role("link", name="All conversations").click()
    emma.get_by_label("Words in a message").fill("commonwealth")
    emma.get_by_role("button", name="Search").click()
    expect(emma.locator("#results [data-session-id]")).to_have_count(1)
    emma.locator("#results").get_by_role("link", name="Visitor #1").click()
    expect(emma.locator(".timeline")).to_contain_text("Commonwealth Scholarship Commission")
    expect(emma.locator(".timeline [data-action='close']")).to_have_count(1)


def say(page, text: str, panel=None) -> None:
    place = panel or page
    place.get_by_label("Message").fill(text)
    place.get_by_role("button", name="Send").click()


def test_an_admin_joining_another_agents_chat(chromium, server):
    """Sarah (admin) reads Emma's chat live from Live chats, joins it beside Emma, both write, and she leaves."""
    expect = playwright.expect
    emma = sign_in(chromium, server.url, "agent_003")
    uk = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas", timezone_id="Europe/Madrid",
                      locale="en-US")
    emma.locator("#queue").get_by_role("button", name="Take").click()
    expect(uk.locator("#status")).to_contain_text("chatting with Emma Williams")
    expect(emma.locator("#chat-1 .local-time")).to_contain_text("(Europe/Madrid)")  # sent by the visitor's page
    expect(emma.locator("#chat-1 .country")).to_have_text("Spain")  # the zone, not the en-US habit
    sarah = sign_in(chromium, server.url, "agent_001")
    problems, emma_problems = reported(sarah), reported(emma)
    sarah.get_by_role("link", name="Live chats").click()
    michael_row = sarah.locator("#team [data-agent-id='agent_002']")
    expect(michael_row).to_have_attribute("data-presence", "offline")
    michael = sign_in(chromium, server.url, "agent_002")
    expect(michael_row).to_have_attribute("data-presence", "online")  # presence and load follow live
    choice = sarah.locator("#reassign-1")
    choice.select_option("agent_002")
    visitor_asks(chromium, server.url, "I want to talk to a human about US universities")
    expect(sarah.locator("#live [data-session-id='2']")).to_contain_text("waiting")
    expect(choice).to_have_value("agent_002")  # a live update keeps what the admin was choosing
    michael.locator("#queue").get_by_role("button", name="Take").click()
    expect(sarah.locator("#live [data-session-id='2']")).to_contain_text("Michael Chen")
    expect(michael_row).to_contain_text("1/")
    sarah.locator("#live").get_by_role("link", name="Visitor #1").click()
    expect(sarah.locator("#messages-1")).to_contain_text("UK visas")
    say(uk, "My CAS number has not arrived yet")
    expect(sarah.locator("#messages-1")).to_contain_text("CAS number")  # read live, without a reload

    sarah.get_by_role("button", name="Join visitor #1's chat").click()
    panel = sarah.locator("#chat-1")
    expect(panel).to_contain_text("You joined Emma Williams's chat")
    expect(uk.locator("#messages")).to_contain_text("Sarah Johnson has joined the chat")
    expect(emma.locator("#messages-1")).to_contain_text("Sarah Johnson has joined the chat")
    say(sarah, "Hello, I'm Sarah, Emma's colleague. Let me help too.", panel)
    expect(uk.locator("#messages")).to_contain_text("Emma's colleague")
    expect(emma.locator("#messages-1")).to_contain_text("Emma's colleague")
    say(emma, "Thank you, Sarah. I'll check the CAS with the university.", emma.locator("#chat-1"))
    expect(panel.locator("#messages-1")).to_contain_text("check the CAS")
    expect(uk.locator("#messages")).to_contain_text("check the CAS")

    panel.get_by_role("button", name="Leave chat").click()
    expect(sarah.locator(".chat-panel")).to_have_count(0)
    expect(uk.locator("#messages")).to_contain_text("Sarah Johnson has left the chat")
    expect(emma.locator("#chat-1")).to_contain_text("Sarah Johnson has left the chat")
    expect(emma.locator("#chat-1 .chat-actions")).to_contain_text("Close")  # still Emma's, with all its actions
    assert not problems and not emma_problems, (problems, emma_problems)


def test_the_live_chats_stream_follows_the_chat_read_notes_included_and_ends_at_sign_out(live_server):
    from tests.live import LiveBrowser
    visitor, michael = LiveBrowser(live_server.url), LiveBrowser.agent(live_server.url, "agent_002")
    visitor.say("I want to talk to a human about UK visas")
    assert michael.post("/agent/sessions/1/take").status_code == 200
    assert michael.http.get("/agent/admin/live/events").status_code == 403
    sarah = LiveBrowser.agent(live_server.url)
    stream = sarah.stream("/agent/admin/live/events?chat=1")
    michael.post("/agent/sessions/1/notes", {"text": "Asked about a CAS twice"})
    visitor.say("Is anyone there?")
    texts = [event["data"] for event in stream.take(2)]
    assert "Asked about a CAS twice" in texts[0] and "Is anyone there?" in texts[1]
    sarah.post("/agent/logout")
    assert stream.ended.wait(15)


def test_the_admins_agent_list_follows_presence_and_load_live(chromium, server):
    expect = playwright.expect
    sarah = sign_in(chromium, server.url, "agent_001")
    problems = reported(sarah)
    sarah.get_by_role("link", name="Admin").click()
    michael_row = sarah.locator("#team [data-agent-id='agent_002']")
    expect(michael_row).to_have_attribute("data-presence", "offline")
    michael = sign_in(chromium, server.url, "agent_002")
    expect(michael_row).to_have_attribute("data-presence", "online")
    visitor_asks(chromium, server.url, "I want to talk to a human about US universities")
    michael.locator("#queue").get_by_role("button", name="Take").click()
    expect(michael_row).to_contain_text("1/4 chats")
    assert not problems, problems
