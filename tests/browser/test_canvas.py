"""The attention canvas in Chromium, used as a person uses it: click cells, switch heads and
stages, move with the keyboard, hover, type markup, reopen a link, change the layer.

"No rerun" is measured, not assumed: every message the page sends to the server goes over
Streamlit's websocket (a rerun is one), so the test counts the frames the page sends.
The numbers the page shows are checked against the model's own record, computed here.
"""
from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import pytest
from playwright.sync_api import expect

import model
from tests.apptest import wait_until_idle

pytestmark = pytest.mark.browser

CANVAS = "[data-testid=attention-canvas]"
DERIVATION = "[data-testid=cell-derivation]"
MODEL, TEXT = "toy-seq2seq", "reverse: hello world"      # the default model's first view


@pytest.fixture(scope="module")
def record_of():
    networks = {}

    def get(name, text, kind, layer, target=None):
        if name not in networks:
            networks[name] = model.load(name, device="cpu")
        return networks[name].trace(text, target).get(kind, layer)
    return get


class Tab:
    """One browser tab on the app, counting what it sends to the server."""

    def __init__(self, browser, url, width=1600, height=1000):
        self.page = browser.new_page(viewport={"width": width, "height": height})
        self.sent = 0
        self.errors = []
        self.page.on("websocket", lambda ws: ws.on("framesent", self._sent))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(url)
        expect(self.canvas).not_to_have_attribute("data-paint", "0", timeout=120_000)
        wait_until_idle(self.page)

    def _sent(self, _frame):
        self.sent += 1

    @property
    def canvas(self):
        return self.page.locator(CANVAS)

    def attr(self, name):
        return self.canvas.get_attribute(f"data-{name}")

    def query(self) -> dict:
        return {k: v[0] for k, v in parse_qs(urlparse(self.page.url).query).items()}

    def paints(self) -> int:
        return int(self.attr("paint"))

    def click_button(self, group: str, value: str) -> None:
        before = self.paints()
        self.page.locator(f"{CANVAS} .aec-{group} button[data-{group[:-1]}='{value}']").click()
        expect(self.canvas).not_to_have_attribute("data-paint", str(before))

    def cell_point(self, row: int, col: int) -> tuple[float, float]:
        overlay = self.page.locator(f"{CANVAS} .aec-overlay")
        overlay.evaluate("e => e.scrollIntoView({block: 'center'})")
        box = overlay.bounding_box()
        rows, cols = int(self.attr("rows")), int(self.attr("cols"))
        return box["x"] + (col + 0.5) * box["width"] / cols, box["y"] + (row + 0.5) * box["height"] / rows

    def click_cell(self, row: int, col: int) -> None:
        self.page.mouse.click(*self.cell_point(row, col))
        derivation = self.page.locator(DERIVATION)
        expect(derivation).to_be_visible()
        expect(derivation).to_have_attribute("data-row", str(row))
        expect(derivation).to_have_attribute("data-col", str(col))

    def derivation(self) -> dict:
        d = self.page.locator(DERIVATION)
        return {name: d.get_attribute(f"data-{name}") for name in ("row", "col", "score", "logit", "weight")}

    def close(self):
        assert not self.errors, self.errors
        self.page.close()


def test_clicking_cells_opens_their_derivation_with_the_record_s_numbers(server, browser, record_of):
    tab = Tab(browser, f"{server}/?model={MODEL}")
    assert (tab.attr("kind"), tab.attr("layer"), tab.attr("head")) == ("cross", "2", "1")   # the first view
    # the first view's cell is open already (first_views.FIRST_VIEWS)
    assert tab.derivation()["row"] == "4" and tab.derivation()["col"] == "15"
    record = record_of(MODEL, TEXT, "cross", 2)
    sent = tab.sent
    for row, col in [(0, 0), (3, 7), (4, 15), (int(tab.attr("rows")) - 1, int(tab.attr("cols")) - 1)]:
        tab.click_cell(row, col)
        shown = tab.derivation()
        assert float(shown["score"]) == pytest.approx(record.scores[1, row, col], rel=1e-5, abs=1e-4)
        assert float(shown["logit"]) == pytest.approx(record.logits()[1, row, col], rel=1e-5, abs=1e-4)
        assert float(shown["weight"]) == pytest.approx(record.weights[1, row, col], abs=1e-5)
        text = tab.page.locator(DERIVATION).inner_text()
        assert f"{record.weights[1, row, col]:.4g}".replace("-", "−") in text or record.weights[1, row, col] < 1e-3
        assert f"{record.scores[1, row, col]:.4g}".replace("-", "−") in text
        # a copied link reopens it (cell 0, 0 is left out of the address, as every default)
        assert (tab.query().get("query", "0"), tab.query().get("key", "0")) == (str(row), str(col))
    assert tab.sent == sent, "a click on a cell sent a message to the server (a rerun)"
    tab.close()


def test_head_and_stage_repaint_in_the_browser_with_no_rerun(server, browser, record_of):
    tab = Tab(browser, f"{server}/?model={MODEL}")
    record = record_of(MODEL, TEXT, "cross", 2)
    sent = tab.sent
    tab.click_cell(2, 16)
    for head in ["0", "3", "mean", "2"]:
        tab.click_button("heads", head)
        assert tab.attr("head") == head
    for stage in ["scores", "scaled", "mask", "masked", "weights"]:
        tab.click_button("stages", stage)
        assert tab.attr("stage") == stage
    assert tab.sent == sent, f"{tab.sent - sent} messages went to the server while switching in the canvas"
    assert tab.query()["head"] == "2" and "stage" not in tab.query()      # the weights: a default
    assert float(tab.derivation()["weight"]) == pytest.approx(record.weights[2, 2, 16], abs=1e-5)
    # the mean of heads: the derivation lists every head's weight and their mean
    tab.click_button("heads", "mean")
    assert float(tab.derivation()["weight"]) == pytest.approx(record.weights[:, 2, 16].mean(), abs=1e-5)
    tab.close()


def test_keyboard_moves_opens_and_closes_the_cell(server, browser):
    tab = Tab(browser, f"{server}/?model={MODEL}")
    tab.click_cell(1, 1)
    tab.canvas.focus()
    for key in ["ArrowRight", "ArrowRight", "ArrowDown"]:
        tab.page.keyboard.press(key)
    assert (tab.derivation()["row"], tab.derivation()["col"]) == ("2", "3")
    tab.page.keyboard.press("Escape")
    assert tab.page.locator(DERIVATION).is_hidden()
    assert "query" not in tab.query()
    tab.page.keyboard.press("ArrowLeft")
    tab.page.keyboard.press("Enter")
    assert (tab.derivation()["row"], tab.derivation()["col"]) == ("2", "2")
    tab.close()


def test_hover_shows_the_tokens_and_the_exact_value(server, browser, record_of):
    tab = Tab(browser, f"{server}/?model={MODEL}")
    record = record_of(MODEL, TEXT, "cross", 2)
    tab.page.mouse.move(*tab.cell_point(5, 14))
    tip = tab.page.locator(f"{CANVAS} .aec-stack > .aec-tip")     # the matrix's, not the overview's
    tip.wait_for(state="visible")
    text = tip.inner_text()
    shown = {" ": "␣"}
    assert f"5: {shown.get(record.query_tokens[5], record.query_tokens[5])}" in text
    assert f"14: {shown.get(record.key_tokens[14], record.key_tokens[14])}" in text
    value = float(text.rsplit("=", 1)[1].strip().replace("−", "-"))
    assert value == pytest.approx(record.weights[1, 5, 14], rel=5e-4)      # 4 significant digits
    hot = tab.page.locator(f"{CANVAS} .aec-ylabels span.hot, {CANVAS} .aec-xlabels span.hot")
    assert hot.count() >= 1                                                # the crosshair marks the labels
    tab.close()


def test_markup_in_tokens_shows_literally_and_never_runs(server, browser):
    text = '<img src=x onerror="window.__pwned=1"><b>bold</b>'
    tab = Tab(browser, f"{server}/?model=toy-gpt&text={quote(text)}")
    labels = tab.page.locator(f"{CANVAS} .aec-xlabels").inner_text()
    assert "<" in labels and ">" in labels                                 # the characters, as text
    assert tab.page.locator(f"{CANVAS} img, {CANVAS} b").count() == 0
    tab.click_cell(2, 1)
    assert "<" in tab.page.locator(DERIVATION).inner_text() or "i" in tab.page.locator(DERIVATION).inner_text()
    assert tab.page.evaluate("window.__pwned === undefined")
    tab.close()


def test_a_link_with_a_cell_reopens_it(server, browser, record_of):
    tab = Tab(browser, f"{server}/?model={MODEL}&text={quote(TEXT)}&kind=encoder&layer=1&head=3&stage=scores"
                       f"&query=6&key=2")
    assert (tab.attr("kind"), tab.attr("layer"), tab.attr("head"), tab.attr("stage")) == ("encoder", "1", "3", "scores")
    shown = tab.derivation()
    assert (shown["row"], shown["col"]) == ("6", "2")
    record = record_of(MODEL, TEXT, "encoder", 1)
    assert float(shown["score"]) == pytest.approx(record.scores[3, 6, 2], rel=1e-5, abs=1e-4)
    tab.close()


def test_a_layer_change_keeps_what_was_chosen_in_the_browser(server, browser):
    """The layer is a rerun; the head, stage and cell chosen in the canvas before it survive it."""
    tab = Tab(browser, f"{server}/?model={MODEL}")
    tab.click_button("heads", "3")
    tab.click_button("stages", "scaled")
    tab.click_cell(2, 5)
    paints, sent = tab.paints(), tab.sent
    tab.page.locator("[data-testid=stMain] [data-testid=stRadio]").filter(
        has=tab.page.get_by_text("Layer", exact=True)).get_by_text("0", exact=True).click()
    expect(tab.canvas).to_have_attribute("data-layer", "0", timeout=60_000)
    wait_until_idle(tab.page)
    assert tab.paints() > paints
    assert (tab.attr("head"), tab.attr("stage")) == ("3", "scaled")
    assert (tab.derivation()["row"], tab.derivation()["col"]) == ("2", "5")
    assert tab.query().get("layer", "0") == "0" and tab.query()["head"] == "3" and tab.query()["stage"] == "scaled"
    # the server hears of the choice after a pause (one rerun besides the layer's); then other
    # pages keep it too: Head anatomy takes the same head and cell apart
    tab.page.wait_for_timeout(2500)
    assert tab.sent == sent + 2, "the layer's rerun and one message telling the choice after the pause"
    wait_until_idle(tab.page)
    tab.page.locator("[data-testid=stSidebarNav] a").filter(has_text="Head anatomy").click()
    tab.page.wait_for_function("location.pathname.endsWith('/anatomy')", timeout=60_000)
    wait_until_idle(tab.page)
    assert tab.query()["head"] == "3" and (tab.query()["query"], tab.query()["key"]) == ("2", "5")
    expect(tab.canvas).to_have_attribute("data-head", "3")
    assert (tab.attr("layer"), tab.derivation()["row"], tab.derivation()["col"]) == ("0", "2", "5")
    tab.close()


def test_head_anatomy_takes_apart_the_cell_clicked_in_its_canvas(server, browser, record_of):
    """Head anatomy's cell is its canvas's: a click derives the cell at once, beside the matrix;
    the formulas, Q/K/V and head view below follow after one rerun; the arrow keys move on."""
    tab = Tab(browser, f"{server}/anatomy?model={MODEL}")
    record = record_of(MODEL, TEXT, "cross", 2)
    formulas = tab.page.locator("[data-testid=stMain] [data-testid=stMarkdown]").filter(has_text="How one weight")
    assert tab.page.locator(f"{CANVAS} .aec-heads button[data-head='mean']").count() == 0   # one head only
    tab.click_button("heads", "2")
    tab.click_cell(3, 7)
    shown = tab.derivation()
    assert float(shown["weight"]) == pytest.approx(record.weights[2, 3, 7], abs=1e-5)
    expect(formulas).to_contain_text("query 3 → key 7", timeout=30_000)       # below, after the sync
    wait_until_idle(tab.page)
    assert (tab.query()["head"], tab.query()["query"], tab.query()["key"]) == ("2", "3", "7")
    latex = tab.page.locator("[data-testid=stMain] .katex").first.inner_text()
    assert "3,7" in latex.replace(" ", "").replace("\n", "")
    tab.canvas.focus()
    tab.page.keyboard.press("ArrowDown")
    tab.page.keyboard.press("ArrowRight")
    expect(tab.page.locator(DERIVATION)).to_have_attribute("data-row", "4")
    expect(formulas).to_contain_text("query 4 → key 8", timeout=30_000)
    assert float(tab.derivation()["weight"]) == pytest.approx(record.weights[2, 4, 8], abs=1e-5)
    tab.close()


def test_chinese_lecture_mode_labels_are_chinese_and_large(server, browser):
    tab = Tab(browser, f"{server}/?model={MODEL}&lang=zh&lecture=1", width=1920, height=1080)
    bar = tab.page.locator(f"{CANVAS} .aec-bar").inner_text()
    assert "头" in bar and "阶段" in bar and "平均" in bar
    sizes = tab.canvas.evaluate("""root => [...root.querySelectorAll('*')]
        .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
        .filter(e => e.getClientRects().length)
        .map(e => parseFloat(getComputedStyle(e).fontSize))""")
    assert sizes and min(sizes) >= 20, sorted(sizes)[:5]
    tab.click_cell(4, 15)
    assert "查询" in tab.page.locator(DERIVATION).inner_text()
    tab.close()


def test_png_export_is_made_in_the_browser(server, browser, tmp_path):
    tab = Tab(browser, f"{server}/?model={MODEL}")
    sent = tab.sent
    with tab.page.expect_download() as download:
        tab.page.locator(f"{CANVAS} .aec-png").click()
    path = tmp_path / "canvas.png"
    download.value.save_as(path)
    from PIL import Image
    image = Image.open(path)
    assert download.value.suggested_filename == "attention-cross-L2-1-weights.png"
    assert image.width > 300 and image.height > 200
    colours = image.convert("RGB").getcolors(maxcolors=image.width * image.height)
    assert len(colours) > 20      # the matrix's colours, not a blank page
    assert tab.sent == sent
    tab.close()


def test_intervene_compares_before_and_after_in_the_browser(server, browser, record_of):
    """Intervene's canvas: α before, α after and after − before switch with no rerun; a clicked
    cell shows both weights and their difference, the model's own numbers."""
    off = model.Intervention(heads_off=frozenset({("encoder", 0, 0), ("encoder", 0, 1)}))
    tab = Tab(browser, f"{server}/intervene?model={MODEL}&heads_off=encoder.0.0,encoder.0.1&kind=cross&layer=2")
    assert (tab.attr("kind"), tab.attr("layer"), tab.attr("stage")) == ("cross", "2", "change")
    network = model.load(MODEL, device="cpu")
    before, after = network.trace(TEXT).get("cross", 2), network.trace(TEXT, intervention=off).get("cross", 2)
    sent = tab.sent
    tab.click_button("heads", "1")
    tab.click_cell(3, 14)
    shown = tab.page.locator(DERIVATION)
    assert float(shown.get_attribute("data-change")) == pytest.approx(
        after.weights[1, 3, 14] - before.weights[1, 3, 14], abs=1e-5)
    for stage, record in (("before", before), ("weights", after)):
        tab.click_button("stages", stage)
        assert float(tab.derivation()["weight"]) == pytest.approx(record.weights[1, 3, 14], abs=1e-5)
        assert float(tab.derivation()["score"]) == pytest.approx(record.scores[1, 3, 14], rel=1e-5, abs=1e-4)
    assert "stage" not in tab.query()            # a comparison's view is not a stage of the link
    assert tab.sent == sent, "switching the comparison's views sent a message to the server (a rerun)"
    tab.close()


def test_the_canvas_downloads_as_a_page_that_works_offline(server, browser, tmp_path, record_of):
    """Explore's HTML download: the canvas, its data inside, opened from disk with no server and
    no network: it paints, switches heads and derives a clicked cell with the record's numbers."""
    tab = Tab(browser, f"{server}/?model={MODEL}")
    with tab.page.expect_download() as download:
        tab.page.get_by_text("⬇ HTML", exact=False).click()
    path = tmp_path / "canvas.html"
    download.value.save_as(path)
    tab.close()
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    requests, errors = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    canvas = page.locator(CANVAS)
    expect(canvas).not_to_have_attribute("data-paint", "0", timeout=30_000)
    assert (canvas.get_attribute("data-kind"), canvas.get_attribute("data-layer")) == ("cross", "2")
    page.locator(f"{CANVAS} .aec-heads button[data-head='3']").click()
    expect(canvas).to_have_attribute("data-head", "3")
    overlay = page.locator(f"{CANVAS} .aec-overlay")
    box = overlay.bounding_box()
    rows, cols = int(canvas.get_attribute("data-rows")), int(canvas.get_attribute("data-cols"))
    page.mouse.click(box["x"] + 7.5 * box["width"] / cols, box["y"] + 2.5 * box["height"] / rows)
    derivation = page.locator(DERIVATION)
    expect(derivation).to_have_attribute("data-row", "2")
    record = record_of(MODEL, TEXT, "cross", 2)
    assert float(derivation.get_attribute("data-weight")) == pytest.approx(record.weights[3, 2, 7], abs=1e-5)
    assert page.url == path.as_uri()                       # the file's address is left alone
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests
    assert not errors, errors
    page.close()
