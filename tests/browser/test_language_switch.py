"""The language switch as a lecturer clicks it: choices made before the switch survive it, the
whole page (sidebar included) changes language in the same run, and choices made after it stick.

Before the fix, a click on 中文 left the sidebar English, emptied the Attention and Stage radios
(Streamlit keeps a radio's state as its option's *label*, which no longer matched once translated)
and, a click later, put the training snapshot back to "untrained" (the model's output became noise).
"""
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.apptest import wait_for_charts, wait_until_idle

pytestmark = pytest.mark.browser

TEXT = "reverse: hello world"


@pytest.fixture
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # encoder self-attention, not the model's first view (cross): the test clicks its way there
    page.goto(f"{server}/?model=toy-seq2seq&text={quote(TEXT)}&kind=encoder&layer=0&head=0")
    wait_for_charts(page, 2)
    yield page
    context.close()
    assert errors == []


def group(page, label: str, where: str = "stMain"):
    return page.locator(f"[data-testid={where}] [data-testid=stRadio]").filter(
        has=page.get_by_text(label, exact=True)).first


def assert_chosen(page, label: str, option: str) -> None:
    """The main area's radio group with this label shows `option` checked, once the run that
    draws it has ended (30 s at most): an emptied group fails."""
    expect(group(page, label).locator("label:has(input:checked)")).to_have_text([option], timeout=30_000)


def click(page, label: str, option: str, url_has: str) -> None:
    group(page, label).get_by_text(option, exact=True).click()
    settle(page, url_has)


def sidebar_click(page, text: str, url_has: str) -> None:
    page.locator("[data-testid=stSidebar]").get_by_text(text, exact=True).click()
    settle(page, url_has)


def settle(page, url_has: str) -> None:
    """Until the address bar shows the change and the run that drew it has ended."""
    page.wait_for_function(f"(location.pathname + location.search).includes({url_has!r})", timeout=60_000)
    wait_for_charts(page, 1)
    wait_until_idle(page)


def sidebar_text(page) -> str:
    return page.locator("[data-testid=stSidebar]").inner_text()


def output(page) -> str:
    return page.locator("[data-testid=stCode]").first.inner_text().strip()


def test_switching_to_chinese_and_back_keeps_every_choice(page):
    click(page, "Attention", "Encoder–decoder (cross) attention", "kind=cross")
    click(page, "Stage", "scaled (× scale)", "stage=scaled")
    answer = output(page)
    assert answer == "dlrow olleh"

    sidebar_click(page, "中文", "lang=zh")
    sidebar = page.locator("[data-testid=stSidebarUserContent]")
    for label in ("模型", "训练进度", "语言"):                     # the sidebar too, in the same run
        expect(sidebar).to_contain_text(label, timeout=30_000)
    assert "Training progress" not in sidebar_text(page)
    assert_chosen(page, "注意力", "编码器-解码器注意力")
    assert_chosen(page, "阶段", "缩放后（× 缩放因子）")

    # two more clicks after the switch: each sticks, nothing else moves
    click(page, "阶段", "softmax 权重 α", "lang=zh")
    page.wait_for_function("!location.search.includes('stage=')", timeout=60_000)
    click(page, "头", "2", "head=2")
    assert_chosen(page, "注意力", "编码器-解码器注意力")
    assert_chosen(page, "阶段", "softmax 权重 α")
    assert_chosen(page, "头", "2")
    assert "snapshot=" not in page.url                       # still the trained model
    assert output(page) == answer

    # another page, then back to English from there
    sidebar_click(page, "生成", "/generation")
    assert_chosen(page, "解码器输入", "自由生成（推理）")
    sidebar_click(page, "English", "/generation")
    page.wait_for_function("!location.search.includes('lang=zh')", timeout=60_000)
    wait_for_charts(page, 1)
    expect(sidebar).to_contain_text("Training progress", timeout=30_000)
    assert "训练进度" not in sidebar_text(page)
    assert_chosen(page, "Decoder input", "Free generation (inference)")
    assert "kind=cross" in page.url and "head=2" in page.url and "snapshot=" not in page.url
