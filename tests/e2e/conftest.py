"""A Chromium per test module, skipped where Debian's chromium or playwright is missing."""
import pytest

from tests.e2e.chromium import AVAILABLE, launch


@pytest.fixture(scope="module")
def chromium():
    if not AVAILABLE:
        pytest.skip("needs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    # An expectation is a deadline for something that must happen, not a bound on how fast: a busy machine
    # takes longer than Playwright's default of 5 s to render a live update.
    sync_api.expect.set_options(timeout=30_000)
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()
