"""The analytics page with a seeded week, in Chromium; `python -m tests.e2e.analytics_shot` saves the README's shot."""
from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import database as db_plumbing
import models  # noqa: E402
from tests.analytics_data import seed_week  # noqa: E402
from tests.conftest import PASSWORD, Server  # noqa: E402
from tests.e2e.chromium import launch  # noqa: E402
WEEK = date(2025, 3, 3)
PAGE = f"/agent/analytics?period=custom&from={WEEK.isoformat()}&to=2025-03-09"


def seed(database: Path) -> int:
    """Fill the server's database (its tables already made) with the same week every time."""
    models.db.initialize(db_plumbing.open_database(f"sqlite:///{database}"))
    try:
        return seed_week(WEEK)
    finally:
        models.db.close()


def sign_in(page, url: str, agent_id: str = "agent_001") -> None:
    page.goto(url + "/agent/login")
    page.get_by_label("Agent ID").fill(agent_id)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/agent/dashboard")


def shoot(browser, url: str, path: Path, width: int = 1280) -> list[str]:
    """Screenshot the whole page at this width; the console errors seen (CSP refusals show up there)."""
    context = browser.new_context(viewport={"width": width, "height": 900}, device_scale_factor=1)
    page = context.new_page()
    errors: list[str] = []
    # CSP refusals and script errors reach the console; failed loads are checked by status instead.
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Failed to load" not in m.text
            else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 and
            not r.url.endswith("/favicon.ico") else None)
    sign_in(page, url)
    page.goto(url + PAGE)
    page.wait_for_selector("#hours-chart")
    page.screenshot(path=str(path), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    context.close()
    return errors + ([f"page is {overflow}px wider than the window"] if overflow > 0 else [])


def main() -> None:
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        server = Server(Path(tmp)).start()
        try:
            seed(Path(tmp) / "live.db")
            browser = launch(p)
            problems = shoot(browser, server.url, ROOT / "docs" / "screenshots" / "analytics.png")
            browser.close()
        finally:
            server.stop()
    if problems:
        raise SystemExit("\n".join(problems))


if __name__ == "__main__":
    main()
