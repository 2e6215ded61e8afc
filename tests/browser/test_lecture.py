"""A lecture through the source text, in Chinese, as a lecturer gives it: lecture mode on a
1920 × 1080 projector, the language switched from the sidebar (not by a link) and back at the end.

worked example → multi-head overview → encoder block → masked decoder → encoder–decoder
attention and generation → pre-training snapshots → back to English.

At every stop: the view survived (the address bar's model, snapshot, kind, stage, layer, head,
the model's output), nothing on screen is in English but names, formulas and token text, no text
is under 20 px, fainter than 7:1 or cut off, and the main picture starts on the first screen.
Screenshots go to tests/screenshots/lecture-*.png (look at them).
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests import ROOT
from tests.apptest import wait_for_charts, wait_for_pictures, wait_until_idle
from model.training.tasks import TASKS
from tests.browser import audit

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "tests" / "screenshots"
WIDTH, HEIGHT = 1920, 1080
PICTURE_VISIBLE_PX = 300     # at least this much of the page's first chart is on the first screen
MODEL = "toy-seq2seq"


class Lecture:
    """The lecturer's browser tab, and what it checks at each stop."""

    def __init__(self, page):
        self.page = page
        self.stops = 0

    # ---- where things are ---------------------------------------------------------------------
    def query(self) -> dict:
        return {k: v[0] for k, v in parse_qs(urlparse(self.page.url).query).items()}

    def path(self) -> str:
        return urlparse(self.page.url).path

    def output(self) -> str:
        return self.page.locator("[data-testid=stMain] [data-testid=stCode]").first.inner_text().strip()

    def settle(self, condition: str) -> None:
        """Until the JS `condition` (over location) holds and the run that drew it has ended."""
        self.page.wait_for_function(condition, timeout=90_000)
        wait_for_pictures(self.page, 1)
        wait_until_idle(self.page)

    # ---- what the lecturer does -----------------------------------------------------------------
    def open_sidebar(self) -> None:
        button = self.page.locator("[data-testid=stExpandSidebarButton]")
        if button.count():
            button.first.click()
        self.page.locator("[data-testid=stSidebarUserContent]").wait_for(state="visible")

    def close_sidebar(self) -> None:
        sidebar = self.page.locator("[data-testid=stSidebar]")
        sidebar.hover()
        self.page.locator("[data-testid=stSidebarCollapseButton] button").first.click()
        self.page.locator("[data-testid=stExpandSidebarButton]").wait_for(state="visible")
        self.page.wait_for_timeout(400)

    def sidebar_click(self, text: str, condition: str) -> None:
        self.open_sidebar()
        self.page.locator("[data-testid=stSidebar]").get_by_text(text, exact=True).first.click()
        self.settle(condition)
        self.close_sidebar()

    def radio(self, label: str, option: str, condition: str) -> None:
        group = self.page.locator("[data-testid=stMain] [data-testid=stRadio]").filter(
            has=self.page.get_by_text(label, exact=True)).first
        group.get_by_text(option, exact=True).click()
        self.settle(condition)

    def token_words(self) -> set:
        """Text the page quotes, not says: the typed text, the model's output, its task names."""
        typed = " ".join(box.input_value() for box in self.page.locator("[data-testid=stMain] input[type=text]").all())
        outputs = " ".join(self.page.locator("[data-testid=stMain] [data-testid=stCode]").all_inner_texts())
        return set(TASKS) | set(f"{typed} {outputs}".replace(":", " ").split())

    # ---- what it checks ----------------------------------------------------------------------------
    def stop(self, name: str, expected: dict, chinese: bool = True,
             picture: str = "[data-testid=stMain] .js-plotly-plot, [data-testid=stMain] [data-testid^=stBidiComponent]") -> list[dict]:
        """Screenshot, then: the view (query values expected, None = absent), the text audit, the
        first chart on the first screen."""
        self.stops += 1
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"lecture-{self.stops}-{name}.png"))
        query = self.query()
        for key, value in expected.items():
            assert query.get(key) == value, f"{name}: {key}={query.get(key)!r}, expected {value!r} ({self.page.url})"
        items = audit.texts(self.page)
        assert items, f"{name}: nothing on screen"
        problems = {"under 20 px": audit.too_small(items), "under 7:1": audit.too_faint(items),
                    "cut off": audit.cut_off(items),
                    "English": audit.english_words(items, token_texts=self.token_words()) if chinese else []}
        assert not any(problems.values()), f"{name}: " + "; ".join(f"{k}: {v}" for k, v in problems.items() if v)
        if picture:
            top = self.page.evaluate(f"Math.min(...[...document.querySelectorAll('{picture}')]"
                                     ".map(e => e.getBoundingClientRect().top))")
            assert top <= HEIGHT - PICTURE_VISIBLE_PX, f"{name}: the first chart starts at {top:.0f} px"
        return items


def test_a_lecture_in_chinese(server, browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{server}/worked-example?model={MODEL}&lecture=1")      # the link prepared for class
    wait_for_charts(page, 1)
    lecture = Lecture(page)
    assert page.locator("[data-testid=stExpandSidebarButton]").count() == 1, "lecture mode starts with the sidebar closed"
    assert page.locator("[data-testid=stAppDeployButton]").count() == 0

    # 1. The worked example, switched to Chinese from the sidebar; the causal mask switched on.
    lecture.sidebar_click("中文", "location.search.includes('lang=zh')")
    page.locator("[data-testid=stMain] [data-testid=stCheckbox], [data-testid=stMain] label").filter(
        has_text="因果掩码").first.click()
    lecture.settle("location.search.includes('causal=1')")
    lecture.stop("worked-example", {"model": MODEL, "lang": "zh", "lecture": "1", "causal": "1"})

    # 2. The multi-head overview: every layer × head of the encoder.
    lecture.sidebar_click("探索", "location.pathname === '/'")
    answer = lecture.output()
    assert answer
    lecture.stop("overview", {"model": MODEL, "lang": "zh", "lecture": "1", "snapshot": None})

    # 3. The rest of the encoder block: W^O, residual, norm, feed-forward network.
    lecture.sidebar_click("编码器块", "location.pathname === '/block'")
    lecture.radio("模块", "编码器块", "location.search.includes('kind=encoder')")
    # its main picture: the source text's block beside this model's, as formulas
    lecture.stop("encoder-block", {"model": MODEL, "lang": "zh", "lecture": "1", "kind": "encoder"},
                 picture="[data-testid=stMain] .katex-display")
    heading = page.locator("[data-testid=stMain] h3").filter(has_text="编码器块").first.inner_text()
    thumb = page.locator("[data-testid=stMain] [data-testid=stSliderThumbValue]").first.inner_text()
    assert f"位置 {thumb.split(':')[0]}" in heading, (heading, thumb)     # the slider shows the block drawn

    # 4. The masked decoder, and what the mask really does (not V set to −∞).
    lecture.sidebar_click("探索", "location.pathname === '/'")
    lecture.radio("注意力", "解码器掩码自注意力", "location.search.includes('kind=decoder')")
    lecture.stop("masked-decoder", {"model": MODEL, "lang": "zh", "kind": "decoder"})
    assert page.get_by_text("V", exact=False).filter(has_text="softmax").count() >= 1

    # 5. Encoder–decoder attention, then generation step by step.
    lecture.radio("注意力", "编码器-解码器注意力", "location.search.includes('kind=cross')")
    lecture.stop("cross-attention", {"model": MODEL, "lang": "zh", "kind": "cross"})
    assert lecture.output() == answer
    lecture.sidebar_click("生成", "location.pathname === '/generation'")
    lecture.stop("generation", {"model": MODEL, "lang": "zh", "kind": "cross"}, picture=CANVAS_HOST)

    # 6. Pre-training: the same view at the earliest snapshot (the slider, from the keyboard).
    lecture.open_sidebar()
    thumb = page.locator("[data-testid=stSidebar] [data-testid=stSlider] input[type=range]").first
    thumb.focus()
    thumb.press("Home")
    lecture.settle("location.search.includes('snapshot=untrained')")
    lecture.close_sidebar()
    lecture.stop("untrained", {"model": MODEL, "lang": "zh", "kind": "cross", "snapshot": "untrained"})
    assert lecture.output() != answer, "an untrained model does not reverse the text"

    # 7. Back to English, from the sidebar: nothing else moves.
    lecture.sidebar_click("English", "!location.search.includes('lang=zh')")
    lecture.stop("english", {"model": MODEL, "lang": None, "kind": "cross", "snapshot": "untrained"}, chinese=False)
    assert lecture.path() == "/generation"
    assert page.locator("[data-testid=stSidebarNav]").get_by_text("Generation", exact=True).count() == 1
    assert errors == []
    context.close()


PLOT = "[data-testid=stMain] .js-plotly-plot"
CANVAS_HOST = "[data-testid=stMain] [data-testid^=stBidiComponent]"    # the attention canvas's host


@pytest.mark.parametrize("name,link,picture", [
    # Head anatomy's picture is its attention canvas (the host of the component's shadow root)
    ("anatomy", "/anatomy?model=toy-gpt", CANVAS_HOST),
    ("aggregates", "/aggregates?model=minilm", CANVAS_HOST),
    # Intervene's result is the output before and after, side by side above its charts
    ("intervene", "/intervene?model=toy-bert&heads_off=encoder.0.0",
     "[data-testid=stMain] [data-testid=stHorizontalBlock] [data-testid=stCode]"),
])
def test_the_other_pages_read_from_the_back_of_the_hall(server, browser, name, link, picture):
    """The pages the walk does not visit, opened in lecture mode in Chinese: the same checks."""
    if "minilm" in link:
        import model
        if "minilm" not in model.available():
            pytest.skip("minilm is not installed")
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    page.goto(f"{server}{link}&lecture=1&lang=zh")
    wait_for_charts(page, 1)
    wait_until_idle(page)
    Lecture(page).stop(f"page-{name}", {"lang": "zh", "lecture": "1"}, picture=picture)
    context.close()
