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
