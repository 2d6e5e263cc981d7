"""The whole job in real Chromium: a visitor asks the bot, asks for a human, an agent takes the chat, they talk, it closes."""
import pytest

playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def manual_server(tmp_path):
    """Agents pick chats by hand here, so the chat waits in the queue for the Take button."""
    from tests.conftest import Server
    server = Server(tmp_path, HANDOFF_AUTO_ASSIGN="0").start()
    yield server
    server.stop()


def sign_in(page, url, agent_id="agent_001"):
    from tests.conftest import PASSWORD
    page.goto(url + "/agent/login")
    page.get_by_label("Agent ID").fill(agent_id)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/agent/dashboard")


def send(page, text):
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def test_visitor_and_agent_chat_live(chromium, manual_server):
    live_server = manual_server
    expect = playwright.expect
    visitor = chromium.new_context().new_page()
    errors = []
    visitor.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    visitor.goto(live_server.url + "/")
    send(visitor, "What IELTS score do I need for a UK master's?")
    expect(visitor.locator('#messages [data-sender="bot"]')).to_have_count(1)

    visitor.get_by_role("button", name="Talk to a human").click()
    expect(visitor.locator("#status")).to_contain_text("You're now in the queue for a human counsellor")
    expect(visitor.locator("#status")).to_contain_text("number 1")

    agent = chromium.new_context().new_page()
    sign_in(agent, live_server.url)
    row = agent.locator("#queue [data-session-id]")
    expect(row).to_have_count(1)
    row.get_by_role("button", name="Take").click()
    panel = agent.locator(".chat-panel")
    expect(panel).to_contain_text("What IELTS score do I need")
    expect(agent.locator("#queue [data-session-id]")).to_have_count(0)
    expect(visitor.locator("#messages")).to_contain_text("Sarah Johnson has joined the chat")

    panel.get_by_label("Message").fill("Hello, I'm Sarah. Which university are you looking at?")
    panel.get_by_role("button", name="Send").click()
    expect(visitor.locator('#messages [data-sender="agent"]')).to_contain_text("Which university")

    send(visitor, "The University of Edinburgh, for data science")
    expect(panel.locator('[data-sender="visitor"]').last).to_contain_text("Edinburgh")

    panel.locator("summary", has_text="Close").click()
    panel.get_by_role("button", name="Close chat").click()
    expect(agent.locator(".chat-panel")).to_have_count(0)
    expect(visitor.locator("#status")).to_contain_text("This chat has ended")
    visitor.get_by_label("4").check()
    visitor.get_by_role("button", name="Send rating").click()
    expect(visitor.locator("#status")).to_contain_text("rating this chat 4 out of 5")

    # Every message arrived exactly once, without a reload.
    ids = visitor.locator("#messages [data-message-id]").evaluate_all("els => els.map(e => e.dataset.messageId)")
    assert len(ids) == len(set(ids))
    assert not [e for e in errors if "Content Security Policy" in e]
