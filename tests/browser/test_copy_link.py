"""The sidebar's "Copy link" button puts the address bar's link on the clipboard, and that link
opens the same view in a fresh browser: here a Generation step, which links used to lose."""
from urllib.parse import quote

import pytest

from tests.apptest import wait_for_pictures

pytestmark = pytest.mark.browser


def step_shown(page) -> str:
    return page.locator("[data-testid=stMain] [data-testid=stSlider] input[type=range]").first.input_value()


def test_copy_link_copies_a_link_that_reopens_the_view(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.goto(f"{server}/generation?model=toy-gpt&text={quote('the cat sat')}&new_tokens=5")
    wait_for_pictures(page, 2)
    slider = page.locator("[data-testid=stMain] [data-testid=stSlider] input[type=range]").first
    slider.focus()
    for _ in range(3):
        slider.press("ArrowRight")
    page.wait_for_function("location.search.includes('step=3')", timeout=60_000)
    wait_for_pictures(page, 2)

    page.get_by_role("button", name="Copy link to this view").click()
    page.get_by_text("Copied:").wait_for(timeout=10_000)
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.url and "step=3" in copied and "/generation" in copied

    fresh = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    fresh.goto(copied)
    wait_for_pictures(fresh, 2)
    assert step_shown(fresh) == "3"
    assert fresh.url == copied
    fresh.context.close()
    context.close()
