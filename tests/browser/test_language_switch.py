"""The language switch as a lecturer clicks it: choices made before the switch survive it, the
whole page (sidebar included) changes language in the same run, and choices made after it stick.

Before the fix, a click on 中文 left the sidebar English, emptied the Attention and Stage radios
(Streamlit keeps a radio's state as its option's *label*, which no longer matched once translated)
and, a click later, put the training snapshot back to "untrained" (the model's output became noise).

Head and stage are chosen in Explore's attention canvas (ui/canvas.py: a component in a shadow
root; Playwright's locators pierce it), in the browser, with no rerun: the server hears of them
after a pause.
"""
import re
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
    expect(canvas(page)).not_to_have_attribute("data-paint", "0", timeout=120_000)
    wait_until_idle(page)
    yield page
    context.close()
    assert errors == []


CANVAS = "[data-testid=attention-canvas]"


def canvas(page):
    return page.locator(CANVAS)


def canvas_click(page, head: str, url_has: str) -> None:
    """A click on the canvas's head button: until it has repainted with that head and written it
    into the address bar (no run: nothing to wait for on the server)."""
    before = canvas(page).get_attribute("data-paint")
    canvas(page).locator(f".aec-heads button[data-head='{head}']").click()
    expect(canvas(page)).to_have_attribute("data-head", head)
    expect(canvas(page)).not_to_have_attribute("data-paint", before)
    page.wait_for_function(f"(location.pathname + location.search).includes({url_has!r})", timeout=60_000)


def canvas_stage(page, stage: str) -> None:
    """A click on the canvas's stage button: until it has repainted with that stage."""
    before = canvas(page).get_attribute("data-paint")
    canvas(page).locator(f".aec-stages button[data-stage='{stage}']").click()
    expect(canvas(page)).to_have_attribute("data-stage", stage)
    expect(canvas(page)).not_to_have_attribute("data-paint", before)


def assert_canvas_reads(page, title: str, head: str, stage: str, stages: list[str], mean: str) -> None:
    """The canvas's title, its groups' labels and its buttons read `title`, `head`, `stage`,
    `stages` and `mean` (in the page's language), once its payload in that language has come."""
    expect(canvas(page).locator(".aec-title")).to_have_text(title, timeout=30_000)
    expect(canvas(page).locator(".aec-heads .aec-label")).to_have_text(head)
    expect(canvas(page).locator(".aec-stages .aec-label")).to_have_text(stage)
    expect(canvas(page).locator(".aec-heads button[data-head='mean']")).to_have_text(mean)
    expect(canvas(page).locator(".aec-stages button")).to_have_text(stages)


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
    wait_until_idle(page)


def sidebar_text(page) -> str:
    return page.locator("[data-testid=stSidebar]").inner_text()


def output(page) -> str:
    return page.locator("[data-testid=stCode]").first.inner_text().strip()


def test_switching_to_chinese_and_back_keeps_every_choice(page):
    click(page, "Attention", "Encoder–decoder (cross) attention", "kind=cross")
    canvas_stage(page, "scaled")
    answer = output(page)
    assert answer == "dlrow olleh"

    sidebar_click(page, "中文", "lang=zh")
    sidebar = page.locator("[data-testid=stSidebarUserContent]")
    for label in ("模型", "训练进度", "语言"):                     # the sidebar too, in the same run
        expect(sidebar).to_contain_text(label, timeout=30_000)
    assert "Training progress" not in sidebar_text(page)
    assert_chosen(page, "注意力", "编码器-解码器注意力")
    # the canvas too: the same kind, layer, head and stage, its words in Chinese
    stages = [canvas(page).locator(".aec-stages button").nth(i).get_attribute("data-stage")
              for i in range(canvas(page).locator(".aec-stages button").count())]
    assert "scaled" in stages and "weights" in stages, stages
    from ui.i18n import TEXTS
    zh = [TEXTS["zh"][f"stage.{s}"] for s in stages]
    assert_canvas_reads(page, "编码器-解码器注意力 · 第 0 层 · 头 0 · 缩放后（× 缩放因子）", "头", "阶段", zh, "平均")
    expect(canvas(page)).to_have_attribute("data-kind", "cross")
    expect(canvas(page)).to_have_attribute("data-stage", "scaled")
    bar = canvas(page).locator(".aec-bar").inner_text()
    assert "Head" not in bar and "Stage" not in bar and "mean" not in bar, bar
    expect(canvas(page).locator(".aec-ytitle")).not_to_have_text(re.compile(r"[A-Za-z]{3}"))

    # two more clicks after the switch: each sticks, nothing else moves
    canvas_stage(page, "weights")
    # the canvas writes the stage into the address bar itself, the default "weights" included
    page.wait_for_function("!location.search.includes('stage=scaled')", timeout=60_000)
    canvas_click(page, "2", "head=2")
    assert_chosen(page, "注意力", "编码器-解码器注意力")
    assert (canvas(page).get_attribute("data-head"), canvas(page).get_attribute("data-stage")) == ("2", "weights")
    assert_canvas_reads(page, "编码器-解码器注意力 · 第 0 层 · 头 2 · softmax 权重 α", "头", "阶段", zh, "平均")
    expect(canvas(page).locator(".aec-heads button[data-head='2']")).to_have_attribute("aria-pressed", "true")
    assert "stage=scaled" not in page.url
    assert "snapshot=" not in page.url                       # still the trained model
    assert output(page) == answer

    # another page, then back to English from there. The canvas tells the server its choice
    # after a 2 s pause (ui/components/attention_canvas.js, `changed`): a page left sooner loses
    # the head chosen in the canvas (a known limit, issue 12's note); this person pauses.
    page.wait_for_timeout(2500)
    wait_until_idle(page)
    sidebar_click(page, "生成", "/generation")
    assert_chosen(page, "解码器输入", "自由生成（推理）")
    sidebar_click(page, "English", "/generation")
    page.wait_for_function("!location.search.includes('lang=zh')", timeout=60_000)
    wait_for_charts(page, 1)
    expect(sidebar).to_contain_text("Training progress", timeout=30_000)
    assert "训练进度" not in sidebar_text(page)
    assert_chosen(page, "Decoder input", "Free generation (inference)")
    assert "kind=cross" in page.url and "head=2" in page.url and "snapshot=" not in page.url
