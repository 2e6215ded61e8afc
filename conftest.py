"""Test-wide settings (nothing may reach for the network) and the shared browser fixture."""
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
# Every figure a test draws goes through plotly's validation (the app skips it: viz/figure.py).
os.environ.setdefault("ATTENTION_EXPLORER_VALIDATE_FIGURES", "1")


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium under Playwright, one per test module (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    from bench.appserver import launch_chromium
    with sync_playwright() as playwright:
        try:
            chromium = launch_chromium(playwright)
        except FileNotFoundError as error:
            pytest.fail(str(error))
        yield chromium
        chromium.close()
