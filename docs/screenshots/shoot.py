"""Take the README's screenshots: python docs/screenshots/shoot.py (needs Debian's chromium and playwright)."""
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from tests.conftest import PASSWORD, Server  # noqa: E402
from tests.e2e.chromium import launch  # noqa: E402


def send(page, text):
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        server = Server(Path(tmp)).start()
        try:
            browser = launch(p)
            # The counsellor's card shows the visitor's local time and the country their time zone suggests.
            visitor = browser.new_context(viewport={"width": 480, "height": 860}, timezone_id="Africa/Lagos").new_page()
            visitor.goto(server.url)
            send(visitor, "How much is the Canada study permit fee?")  # a destination's facts, with their date
            expect(visitor.locator('#messages [data-sender="bot"]').last).to_contain_text("as of")
            visitor.screenshot(path=str(HERE / "answer.png"))
            send(visitor, "My UK student visa was refused last year. Can I apply again?")
            expect(visitor.locator("#status")).to_contain_text("queue")

            agent = browser.new_page(viewport={"width": 1280, "height": 860})
            agent.goto(server.url + "/agent/login")
            agent.get_by_label("Agent ID").fill("agent_003")
            agent.get_by_label("Password").fill(PASSWORD)
            agent.get_by_role("button", name="Sign in").click()
            panel = agent.locator(".chat-panel").first  # routed to Emma once her dashboard is live
            expect(panel).to_contain_text("refused")
            panel.get_by_label("Message").fill("Hi, I'm Emma. I'm sorry about the refusal. Could you tell me "
                                               "the reason given in the refusal letter?")
            panel.get_by_role("button", name="Send").click()
            expect(visitor.locator('#messages [data-sender="agent"]')).to_have_count(1)
            visitor.screenshot(path=str(HERE / "visitor.png"))
            agent.screenshot(path=str(HERE / "agent.png"))
            for second in ("I'd like to talk to a human about UK scholarships",
                           "Can a counsellor help me choose between Edinburgh and Glasgow?"):
                other = browser.new_page()
                other.goto(server.url)
                send(other, second)
            expect(agent.locator("#mine .mine-row, #queue [data-session-id]")).to_have_count(3)
            for width, height in ((1440, 900), (1024, 768)):
                agent.set_viewport_size({"width": width, "height": height})
                agent.screenshot(path=str(HERE / f"inbox-{width}.png"))
            browser.close()
        finally:
            server.stop()


if __name__ == "__main__":
    main()
