"""The analytics page in Chromium, phone and desktop: charts drawn, nothing refused by the CSP, no sideways scroll."""
import os

import pytest

from tests.e2e.analytics_shot import ARGS, CHROMIUM, seed, shoot

playwright = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="needs Debian's chromium")


@pytest.mark.parametrize("width", [390, 1280])
def test_analytics_page_renders_cleanly(live_server, tmp_path, width):
    assert seed(tmp_path / "live.db") > 50
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        problems = shoot(browser, live_server.url, tmp_path / f"analytics-{width}.png", width=width)
        browser.close()
    assert problems == [] and (tmp_path / f"analytics-{width}.png").stat().st_size > 20000
