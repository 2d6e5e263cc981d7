"""A Chromium per test module, skipped where Debian's chromium or playwright is missing."""
import pytest

from tests.e2e.chromium import AVAILABLE, launch


@pytest.fixture(scope="module")
def chromium():
    if not AVAILABLE:
        pytest.skip("needs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()
