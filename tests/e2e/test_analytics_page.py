"""The analytics page in Chromium, phone and desktop: charts drawn, nothing refused by the CSP, no sideways scroll."""
import pytest

from tests.e2e.analytics_shot import seed, shoot


@pytest.mark.parametrize("width", [390, 1280])
def test_analytics_page_renders_cleanly(chromium, live_server, tmp_path, width):
    assert seed(tmp_path / "live.db") > 50
    problems = shoot(chromium, live_server.url, tmp_path / f"analytics-{width}.png", width=width)
    assert problems == [] and (tmp_path / f"analytics-{width}.png").stat().st_size > 20000
