"""Debian's Chromium, launched the one way this machine allows: headless, no sandbox, no background networking."""
import os

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AVAILABLE = os.path.exists(CHROMIUM)


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def visitor_asks(chromium, url: str, text: str, **context):
    """A new visitor's page, with `text` sent from its composer."""
    page = chromium.new_context(**context).new_page()
    page.goto(url + "/")
    page.get_by_label("Message").fill(text)
    page.get_by_role("button", name="Send").click()
    return page


def sign_in(chromium, url: str, agent_id: str, script: str = "", **context):
    """An agent's dashboard in a browser of its own, `script` run in every page before the page's own."""
    from playwright.sync_api import expect
    from tests.conftest import PASSWORD
    browser = chromium.new_context(**context)
    if script:
        browser.add_init_script(script)
    page = browser.new_page()
    page.goto(url + "/agent/login")
    page.get_by_label("Agent ID").fill(agent_id)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/agent/dashboard")
    expect(page.locator("#queue")).to_be_visible()
    return page


def reported(page) -> list:
    """Console errors (CSP violations among them) and uncaught exceptions the page reports, as they come."""
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(f"{page.url}: {message.text}"))
    page.on("pageerror", lambda error: problems.append(f"{page.url}: {error}"))
    return problems
