"""The agent console in real Chromium: routing by skill without reloads, a live transfer, a phone screen, the keyboard."""
import re

import pytest

from tests.conftest import Server
from tests.e2e.chromium import reported, sign_in, visitor_asks

playwright = pytest.importorskip("playwright.sync_api")
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(tmp_path, request):
    env = {"HANDOFF_SWEEP_SECONDS": "0.5", **getattr(request, "param", {})}
    live = Server(tmp_path, **env).start()
    yield live
    live.stop()


def open_chat(page, panel):
    """The inbox shows one conversation: pick this one from "My chats"."""
    page.locator(f"#mine [data-open-chat='{panel.get_attribute('data-session-id')}']").click()
    playwright.expect(panel).to_be_visible()
    return panel


def test_chats_reach_the_agent_with_the_skill_and_a_transfer_moves_live(chromium, server):
    expect = playwright.expect
    michael = sign_in(chromium, server.url, "agent_002")  # US universities
    emma = sign_in(chromium, server.url, "agent_003")  # UK universities
    uk = visitor_asks(chromium, server.url, "I'd like to talk to a human about UK universities for law")
    us = visitor_asks(chromium, server.url, "Can a human help me apply to US universities like Harvard?")
    ucas = visitor_asks(chromium, server.url, "Please connect me to an agent about my UCAS application to UK universities")

    expect(emma.locator(".chat-panel")).to_have_count(2)
    expect(michael.locator(".chat-panel")).to_have_count(1)
    expect(michael.locator(".chat-panel")).to_contain_text("Harvard")
    expect(michael.locator(".chat-panel .badge", has_text="US universities")).to_have_count(1)
    expect(emma.locator(".chat-panel", has_text="law")).to_contain_text("UK universities")
    expect(emma.locator(".chat-panel", has_text="UCAS")).to_have_count(1)
    for visitor, name in ((uk, "Emma Williams"), (us, "Michael Chen"), (ucas, "Emma Williams")):
        expect(visitor.locator("#status")).to_contain_text(f"You're chatting with {name}")

    panel = open_chat(emma, emma.locator(".chat-panel", has_text="UCAS"))
    panel.get_by_label("Message").fill("Hi, I'm Emma. Which courses are you applying to?")
    panel.get_by_role("button", name="Send").click()
    expect(ucas.locator('#messages [data-sender="agent"]')).to_contain_text("Which courses")
    panel.locator("summary", has_text="Transfer").click()
    panel.get_by_label("Transfer to").select_option("agent_002")
    panel.get_by_label("Note for them").fill("Also asking about Columbia")
    panel.get_by_role("button", name="Transfer").click()

    expect(emma.locator(".chat-panel")).to_have_count(1)
    expect(emma.locator(".chat-panel textarea[id^=reply-]")).to_be_focused()  # on to the chat left in view
    moved = michael.locator(".chat-panel", has_text="UCAS")
    expect(michael.locator(".chat-panel")).to_have_count(2)
    row = michael.locator(f"#mine [data-session-id='{moved.get_attribute('data-session-id')}']")
    expect(row).to_have_class(re.compile(r"\bis-new\b"))  # highlighted until opened
    expect(row).to_contain_text("from Emma Williams: Also asking about Columbia")
    open_chat(michael, moved)
    expect(moved.locator(".transferred")).to_have_text("Transferred by Emma Williams: “Also asking about Columbia”")
    expect(row).not_to_have_class(re.compile(r"\bis-new\b"))
    expect(moved).to_contain_text("Which courses are you applying to?")  # the transcript came along
    expect(moved).to_contain_text("Transfer note from Emma Williams: Also asking about Columbia")
    expect(ucas.locator("#messages")).to_contain_text("transferred you to Michael Chen")
    moved.get_by_label("Message").fill("Michael here, I can help with both.")
    moved.get_by_role("button", name="Send").click()
    expect(ucas.locator('#messages [data-sender="agent"]').last).to_contain_text("Michael here")
    assert "Also asking about Columbia" not in ucas.locator("#messages").inner_text()


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def within_screen(locator) -> bool:
    playwright.expect(locator).to_be_visible()
    left, right = locator.evaluate("e => [e.getBoundingClientRect().left, e.getBoundingClientRect().right]")
    return left >= 0 and right <= PHONE["width"] or pytest.fail(f"{locator} spans {left}..{right}")


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_phone_sized_dashboard_by_keyboard_alone(chromium, server):
    expect = playwright.expect
    admin = sign_in(chromium, server.url, "agent_001", viewport=PHONE)
    admin.goto(server.url + "/agent/admin/canned")
    new = admin.get_by_role("region", name="Add a canned response")  # beside the three shipped ones
    new.get_by_label("Shortcut (typed after /)").fill("ielts")
    new.get_by_label("Title").fill("IELTS scores")
    new.get_by_label("Text").fill("Most UK master's courses ask for IELTS 6.5 overall.")
    new.get_by_role("button", name="Add response").click()
    expect(admin.locator("[data-shortcut='ielts']")).to_have_count(1)
    for path in ("/agent/admin", "/agent/admin/canned", "/agent/admin/activity"):
        admin.goto(server.url + path)
        assert no_sideways_scroll(admin), path

    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    agent = sign_in(chromium, server.url, "agent_003", viewport=PHONE)
    take = agent.locator("#queue").get_by_role("button", name="Take")
    expect(take).to_have_count(1)
    assert no_sideways_scroll(agent) and within_screen(take)
    for _ in range(40):
        agent.keyboard.press("Tab")
        if agent.evaluate("document.activeElement.textContent.trim()") == "Take":
            break
    else:
        pytest.fail("Tab never reached the Take button")
    agent.keyboard.press("Enter")
    panel = agent.locator(".chat-panel")
    expect(panel).to_contain_text("UK visas")
    assert no_sideways_scroll(agent)
    assert within_screen(panel.get_by_role("button", name="Send"))
    for summary in ("Internal note", "Transfer", "Return to bot", "Close"):
        assert within_screen(panel.locator("summary", has_text=summary)), summary

    box = panel.get_by_label("Message")
    while agent.evaluate("document.activeElement.id") != box.get_attribute("id"):
        agent.keyboard.press("Tab")
    agent.keyboard.type("/iel")
    expect(agent.locator(".canned-menu [role=option]")).to_have_text("/ielts IELTS scores")
    agent.keyboard.press("Enter")
    expect(box).to_have_value("Most UK master's courses ask for IELTS 6.5 overall.")
    agent.keyboard.press("Enter")
    expect(visitor.locator('#messages [data-sender="agent"]')).to_contain_text("IELTS 6.5 overall")


def test_on_a_phone_the_dashboard_stays_at_the_top_on_load_and_when_a_chat_is_routed_in(chromium, server):
    expect = playwright.expect
    visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    agent = sign_in(chromium, server.url, "agent_003", viewport=PHONE)
    expect(agent.locator(".chat-panel")).to_have_count(1)
    agent.reload()  # the chat is in the page as it loads
    expect(agent.locator(".chat-panel.is-current")).to_have_count(1)
    assert agent.evaluate("window.scrollY") == 0
    visitor_asks(chromium, server.url, "I want to talk to a human about UK fees")
    expect(agent.locator(".chat-panel")).to_have_count(2)
    assert agent.evaluate("window.scrollY") == 0


def test_with_nobody_online_the_visitor_leaves_a_message_agents_see_live(chromium, server):
    expect = playwright.expect
    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about scholarships")
    status = visitor.locator("#status")
    expect(status).to_contain_text("No counsellor is online right now")
    status.get_by_text("Leave a message instead").click()
    status.get_by_label("Your email address").fill("priya@example")
    status.get_by_label("Your message").fill("Which scholarships fit a UK MSc?")
    status.get_by_role("button", name="Leave a message").click()
    expect(status.locator(".error")).to_contain_text("email address like")
    expect(status.get_by_label("Your message")).to_have_value("Which scholarships fit a UK MSc?")
    status.get_by_label("Your email address").fill("priya@example.com")
    status.get_by_role("button", name="Leave a message").click()
    expect(visitor.locator("#messages")).to_contain_text("A counsellor will reply to priya@example.com")
    expect(status).to_contain_text("chatting with the EduConsult assistant")

    agent = sign_in(chromium, server.url, "agent_001")
    row = agent.locator("#followups [data-followup-id]")
    expect(row).to_contain_text("Which scholarships fit a UK MSc?")
    with agent.expect_response("**/agent/status"):
        agent.get_by_label("Status").select_option("away")
    second = visitor_asks(chromium, server.url, "Back again: can I talk to a human?")
    expect(second.locator("#status")).to_contain_text("No counsellor is online right now")
    second.locator("#status").get_by_text("Leave a message instead").click()
    second.locator("#status").get_by_label("Your email address").fill("sam@example.org")
    second.locator("#status").get_by_label("Your message").fill("Call me back about visas")
    second.locator("#status").get_by_role("button", name="Leave a message").click()
    expect(row).to_have_count(2)  # arrived without a reload
    row.first.locator("summary", has_text="Mark done").click()  # a confirm step: nothing is lost by a slip
    row.first.get_by_role("button", name="Yes, it's answered").click()
    expect(row).to_have_count(1)
    expect(row).to_contain_text("sam@example.org")


def test_a_queue_move_while_the_visitor_writes_a_message_keeps_their_words_and_focus(chromium, server):
    expect = playwright.expect
    ahead = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about scholarships")
    status = visitor.locator("#status")
    expect(status.locator(".position")).to_contain_text("number 2")
    status.get_by_text("Leave a message instead").click()
    status.get_by_label("Your email address").fill("priya@example.com")
    status.get_by_label("Your message").click()
    visitor.keyboard.type("Which scholarships ")
    ahead.locator("#status").get_by_role("button", name="End chat").click()
    expect(status.locator(".position")).to_contain_text("number 1")  # the status line was redrawn
    visitor.keyboard.type("fit a UK MSc?")
    expect(status.get_by_label("Your message")).to_have_value("Which scholarships fit a UK MSc?")
    expect(status.get_by_label("Your email address")).to_have_value("priya@example.com")


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_live_updates_keep_the_agents_focus_and_drafts(chromium, server):
    expect = playwright.expect
    visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    agent = sign_in(chromium, server.url, "agent_003")
    expect(agent.locator("#queue [data-session-id]")).to_have_count(1)
    agent.locator("#queue").get_by_role("button", name="Take").focus()
    visitor_asks(chromium, server.url, "I want to talk to a human about UK fees")
    expect(agent.locator("#queue [data-session-id]")).to_have_count(2)
    assert agent.evaluate("document.activeElement.id") == "take-1"  # a new arrival did not steal it
    agent.keyboard.press("Enter")
    box = agent.locator(".chat-panel").get_by_label("Message")
    box.fill("Half-written answer")
    expect(agent.locator("#queue [data-session-id]")).to_have_count(1)  # the chat just taken has left the queue
    agent.locator("#queue").get_by_role("button", name="Take").click()
    expect(agent.locator(".chat-panel")).to_have_count(2)
    expect(agent.locator("#reply-1")).to_have_value("Half-written answer")


def test_a_chat_routed_in_while_the_agent_types_keeps_the_caret_the_note_and_the_open_panel(chromium, server):
    expect = playwright.expect
    agent = sign_in(chromium, server.url, "agent_003")
    visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    expect(agent.locator(".chat-panel")).to_have_count(1)
    box = agent.locator(".chat-panel").get_by_label("Message")
    box.click()
    agent.keyboard.type("Thanks for your patience, ")
    visitor_asks(chromium, server.url, "I want to talk to a human about UK fees")
    expect(agent.locator(".chat-panel")).to_have_count(2)  # #chats was drawn again
    agent.keyboard.type("I am looking it up.")
    expect(agent.locator("#reply-1")).to_have_value("Thanks for your patience, I am looking it up.")

    agent.locator("#chat-1 summary", has_text="Internal note").click()
    agent.locator("#note-1").click()
    agent.keyboard.type("Asked about the ")
    visitor_asks(chromium, server.url, "I want to talk to a human about UK scholarships")
    expect(agent.locator(".chat-panel")).to_have_count(3)
    agent.keyboard.type("Graduate route")
    expect(agent.locator("#note-panel-1")).to_have_attribute("open", "")
    expect(agent.locator("#note-1")).to_have_value("Asked about the Graduate route")


def test_my_chats_row_follows_the_conversation_preview_and_wait(chromium, server):
    expect = playwright.expect
    agent = sign_in(chromium, server.url, "agent_003")
    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    row = agent.locator("#mine .mine-row")
    expect(row.locator(".waited")).to_have_count(1)
    box = agent.locator(".chat-panel").get_by_label("Message")
    box.fill("Hello, I can help with the Student visa.")
    box.press("Enter")
    expect(row.locator(".preview")).to_have_text("Hello, I can help with the Student visa.")
    expect(row.locator(".waited")).to_have_count(0)  # answered: nobody waits any more
    visitor.get_by_label("Message").fill("Thanks! Do I need a CAS first?")
    visitor.get_by_role("button", name="Send").click()
    expect(row.locator(".preview")).to_have_text("Thanks! Do I need a CAS first?")


def test_the_agent_is_told_when_the_visitor_ends_the_chat_they_were_in(chromium, server):
    expect = playwright.expect
    agent = sign_in(chromium, server.url, "agent_003")
    visitor = visitor_asks(chromium, server.url, "I want to talk to a human about UK visas")
    expect(agent.locator(".chat-panel")).to_have_count(1)
    agent.locator("#chat-1 summary", has_text="Close").click()
    agent.get_by_label("Closing note (internal)").fill("Wanted the Graduate route")
    visitor.locator("#status").get_by_role("button", name="End chat").click()
    expect(agent.locator(".chat-panel")).to_have_count(0)
    expect(agent.locator("#alert")).to_have_text("Visitor #1 ended the chat.")


STAFF_PAGES = ["/agent/dashboard", "/agent/conversations", "/agent/conversations/1", "/agent/analytics",
               "/agent/password", "/agent/admin", "/agent/admin/live",
               "/agent/admin/canned", "/agent/admin/knowledge", "/agent/admin/knowledge/new", "/agent/admin/flags",
               "/agent/admin/activity", "/agent/admin/throttles"]


@pytest.mark.parametrize("server", [{"HANDOFF_AUTO_ASSIGN": "0"}], indirect=True)
def test_no_page_logs_a_console_error_or_a_csp_violation(chromium, server):
    expect = playwright.expect
    emma = sign_in(chromium, server.url, "agent_003")
    problems = reported(emma)
    visitors = [visitor_asks(chromium, server.url, f"I want to talk to a human about UK {topic}")
                for topic in ("visas", "fees")]
    problems += reported(visitors[0])
    for waiting in (2, 1):
        expect(emma.locator("#queue [data-session-id]")).to_have_count(waiting)
        emma.locator("#queue").get_by_role("button", name="Take").first.click()
    expect(emma.locator(".chat-panel")).to_have_count(2)
    panel = open_chat(emma, emma.locator("#chat-1"))
    panel.locator("summary", has_text="Close").click()
    panel.get_by_role("button", name="Close chat").click()
    expect(visitors[0].locator("#messages")).to_contain_text("ended the chat")
    emma.goto(server.url + "/agent/admin")  # a counsellor's refusal page
    expect(emma.get_by_role("heading", name="Admins only")).to_be_visible()
    sarah = sign_in(chromium, server.url, "agent_001")
    problems += reported(sarah)
    for path in STAFF_PAGES:
        sarah.goto(server.url + path)
        expect(sarah.locator("header.topbar")).to_be_visible()
        expect(sarah.get_by_role("button", name="Sign out")).to_be_visible()
    sarah.goto(server.url + "/agent/admin/live?chat=2")
    expect(sarah.locator("#messages-2")).to_contain_text("UK fees")
    refused = f"{server.url}/agent/admin: Failed to load resource: the server responded with a status of 403 (Forbidden)"
    assert [p for p in problems if p != refused] == [], problems  # Chromium logs the refusal page's own 403
