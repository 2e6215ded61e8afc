"""A long input on the attention canvas, used as a person uses it: a tiny random long-context
GPT-2 (n_positions 2048, built here, offline) loaded from its folder by typing the path in the
sidebar, a text longer than the model reads typed in the text box, then hover, wheel zoom, drag,
reset and another head on the 2,048 x 2,048 matrix.

Checked: the page says the input was cut to the model's 2,048 tokens; the canvas holds all
2,048 x 2,048 cells and paints them pooled to screen pixels, saying the pooling in its notes;
the value under the pointer is the record's own (computed here with model.load(folder).trace),
to 4 significant digits, at the cell the pointer is over; the wheel zooms about the pointer and
repaints, a drag pans by what the pointer moved, reset shows the whole matrix again; no two tick
labels of one axis overlap (their boxes, measured in the page), whole or zoomed.
Behaviour and numbers only: how fast this paints is measured by `python -m bench.long_input`.
"""
from __future__ import annotations

import math
import re

import pytest
from playwright.sync_api import expect

import model
from tests.apptest import wait_until_idle
from tests.browser.test_canvas import CANVAS, Tab
from tests.tiny_hf import CORPUS, LONG_POSITIONS, build_long

pytestmark = pytest.mark.browser

# The corpus the tokenizer was trained on, ten times: ~5,900 characters, ~2,800 tokens, so the
# model's 2,048 positions are full and the rest is cut (and the page says so).
TEXT = " ".join(CORPUS * 10)
NEW_TOKENS = 24            # ui/runs.NEW_TOKENS: a decoder-only model's continuation (no room here)
PATH_LABEL = "Hugging Face model: a local folder or a name in the local cache"   # ui/i18n control.model_path
POOLED = re.compile(r"each pixel shows the (largest value|mean) of a block of up to (\d+) × (\d+) cells")
ZOOMED = re.compile(r"Zoomed: rows (\d+)–(\d+), columns (\d+)–(\d+)")
THINNED = re.compile(r"Labels: every (\d+)(?:st|nd|rd|th) row and (\d+)(?:st|nd|rd|th) column")


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("long-gpt2")
    build_long(path)
    return str(path)


@pytest.fixture(scope="module")
def trace(folder):
    """The record the page should show: the same model from the same folder, the same text."""
    return model.load(folder, device="cpu").trace(TEXT, max_new_tokens=NEW_TOKENS)


# ---- reading the canvas --------------------------------------------------------------------------

def notes(tab) -> str:
    return tab.page.locator(f"{CANVAS} .aec-notes").inner_text()


def screen(tab) -> dict:
    """The overlay's box on the page (scrolled into view) and its pixel size."""
    overlay = tab.page.locator(f"{CANVAS} .aec-overlay")
    overlay.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = overlay.bounding_box()
    box["W"], box["H"] = overlay.evaluate("e => [e.width, e.height]")
    return box


def shown_view(tab) -> tuple[int, int, int, int]:
    """(first row, last row, first column, last column) shown, as the notes say (whole: no note)."""
    zoomed = ZOOMED.search(notes(tab))
    if not zoomed:
        return 0, int(tab.attr("rows")) - 1, 0, int(tab.attr("cols")) - 1
    return tuple(int(n) for n in zoomed.groups())


def label_boxes(tab) -> dict[str, list[dict]]:
    """Every tick label span of each axis: its index, text and box on the page."""
    return tab.canvas.evaluate("""root => Object.fromEntries(['y', 'x'].map(axis =>
        [axis, [...root.querySelectorAll(`.aec-${axis}labels span`)].map(s => {
            const r = s.getBoundingClientRect();
            return {index: Number(s.dataset.index), text: s.textContent,
                    left: r.left, right: r.right, top: r.top, bottom: r.bottom};
        })]))""")


def assert_labels_never_overprint(tab, record) -> dict[str, list[int]]:
    """No two labels of one axis overlap; each says its token and position, every step-th
    position as the notes say. -> the indices shown on each axis."""
    boxes = label_boxes(tab)
    thinned = THINNED.search(notes(tab))
    steps = {"y": int(thinned.group(1)), "x": int(thinned.group(2))} if thinned else {"y": 1, "x": 1}
    for axis, spans in boxes.items():
        tokens = record.query_tokens if axis == "y" else record.key_tokens
        assert len(spans) >= 2, f"{axis}: {len(spans)} labels"
        for span in spans:
            assert span["text"] == f"{tokens[span['index']]} {span['index']}", span
            assert span["index"] % steps[axis] == 0, (axis, span, steps)
            assert span["right"] > span["left"] and span["bottom"] > span["top"], span
        for a in range(len(spans)):
            for b in range(a + 1, len(spans)):
                p, q = spans[a], spans[b]
                overlap_x = min(p["right"], q["right"]) - max(p["left"], q["left"])
                overlap_y = min(p["bottom"], q["bottom"]) - max(p["top"], q["top"])
                assert overlap_x <= 0.01 or overlap_y <= 0.01, f"{axis} labels overprint: {p} and {q}"
    return {axis: [s["index"] for s in spans] for axis, spans in boxes.items()}


def hover(tab, fx: float, fy: float) -> tuple[int, int, str, tuple[int, int]]:
    """Move the pointer to (fx, fy) of the matrix (fractions of its width and height): the
    (query, key) its tooltip names, the tooltip's text and the cell the pointer is over (as the
    view shown says: first row + fy x rows shown)."""
    box = screen(tab)
    # whole pixels, as a mouse gives (a wheel event's clientX/Y are whole numbers in Chromium)
    x, y = round(box["x"] + fx * box["width"]), round(box["y"] + fy * box["height"])
    tab.page.mouse.move(x - 1, y)          # a move onto the point: hovering needs a pointermove
    tab.page.mouse.move(x, y)
    tip = tab.page.locator(f"{CANVAS} .aec-stack > .aec-tip")     # the matrix's own tooltip
    tip.wait_for(state="visible")
    text = tip.inner_text()
    i = int(re.search(r"query (\d+):", text).group(1))
    j = int(re.search(r"key (\d+):", text).group(1))
    r0, r1, c0, c1 = shown_view(tab)
    under = (r0 + (y - box["y"]) / box["height"] * (r1 - r0 + 1), c0 + (x - box["x"]) / box["width"] * (c1 - c0 + 1))
    return i, j, text, under


def tip_value(text: str) -> float:
    return float(text.split("\n")[2].rsplit("=", 1)[1].strip().replace("−", "-"))


def assert_exact_under_pointer(tab, record, head: int, fx: float, fy: float) -> tuple[int, int]:
    i, j, text, (row, col) = hover(tab, fx, fy)
    # the cell the pointer is over (the notes' view is rounded to whole cells: two cells either way)
    assert abs(i - row) <= 2 and abs(j - col) <= 2, (i, j, row, col, text)
    assert f"query {i}: {record.query_tokens[i]}\n" in text and f"key {j}: {record.key_tokens[j]}\n" in text, text
    assert record.allowed[i, j], (i, j)
    assert tip_value(text) == pytest.approx(float(record.weights[head, i, j]), rel=5e-4), (i, j, text)  # 4 digits
    return i, j


def wait_painted(tab, before: int) -> None:
    expect(tab.canvas).not_to_have_attribute("data-paint", str(before))


# ---- the test ------------------------------------------------------------------------------------

def test_a_2048_token_input_paints_pooled_with_exact_values_zoom_pan_reset_and_clear_labels(
        server, browser, folder, trace):
    tab = Tab(browser, server)
    page = tab.page
    # the model, from its folder, as a user loads it: the sidebar's path box and its Load button
    page.get_by_text("Load another model").click()
    path_box = page.get_by_label(PATH_LABEL)
    path_box.fill(folder)
    path_box.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Load", exact=True).click()
    expect(tab.canvas).to_have_attribute("data-kind", "decoder", timeout=120_000)
    wait_until_idle(page)
    assert tab.query()["model"] == folder
    short = (tab.attr("rows"), tab.attr("cols"))

    # a text longer than the model reads, typed in the text box
    box = page.get_by_label("Text", exact=True)
    box.fill(TEXT)
    box.press("Enter")
    page.wait_for_function(f"""() => {{
        const host = [...document.querySelectorAll('*')].find(e => e.shadowRoot && e.shadowRoot.querySelector('{CANVAS}'));
        const c = host && host.shadowRoot.querySelector('{CANVAS}');
        return c && (c.dataset.rows !== '{short[0]}' || c.dataset.cols !== '{short[1]}');
    }}""", timeout=180_000)
    wait_until_idle(page)
    expect(tab.canvas).not_to_have_attribute("data-paint", "0")

    # every cell of the 2,048 x 2,048 matrix is in the canvas, and the page says the rest was cut
    said = page.get_by_text("The input was too long for this model").all_inner_texts()
    assert (tab.attr("kind"), tab.attr("rows"), tab.attr("cols")) == ("decoder", str(LONG_POSITIONS), str(LONG_POSITIONS)), \
        f"the canvas shows {tab.attr('rows')} x {tab.attr('cols')} cells of a {LONG_POSITIONS}-position model; the page says {said}"
    assert trace.truncated > 0 and len(trace.decoder_tokens) == LONG_POSITIONS, (len(trace.decoder_tokens), trace.truncated)
    cut = f"The input was too long for this model ({LONG_POSITIONS} tokens): {trace.truncated} tokens were cut from the end."
    expect(page.get_by_text(cut)).to_be_visible()
    assert tab.attr("stage") == "weights" and tab.attr("head") in ("0", "1")
    head = int(tab.attr("head"))               # kept from the view before (the model has heads 0, 1)
    record = trace.get("decoder", int(tab.attr("layer")))
    assert record.weights.shape[1:] == (LONG_POSITIONS, LONG_POSITIONS)

    # painted at screen size, pooled, the pooling said on the page
    whole = screen(tab)
    W, H = whole["W"], whole["H"]
    assert W < LONG_POSITIONS and H < LONG_POSITIONS, (W, H)
    pooled = POOLED.search(notes(tab))
    assert pooled, notes(tab)
    assert pooled.group(1) == "largest value"                      # the weights: a block's largest
    assert (int(pooled.group(2)), int(pooled.group(3))) == (math.ceil(LONG_POSITIONS / H), math.ceil(LONG_POSITIONS / W))
    assert "Zoomed" not in notes(tab)
    assert page.locator(f"{CANVAS} .aec-reset").is_hidden()        # nothing to reset yet
    # the picture: the causal mask hatched above the diagonal, the weights' colours below it
    picture = tab.canvas.evaluate("""root => {
        const c = root.querySelector('.aec-matrix'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const at = (x, y) => { const o = (y * c.width + x) * 4; return [d[o], d[o + 1], d[o + 2]]; };
        const below = new Set(), above = new Set();
        for (let y = 0; y < c.height; y += 3) for (let x = 0; x < c.width; x += 3) {
            const key = at(x, y).join(',');
            if (x / c.width < y / c.height - 0.02) below.add(key); else if (x / c.width > y / c.height + 0.02) above.add(key);
        }
        return {below: below.size, above: [...above]};
    }""")
    assert sorted(picture["above"]) == ["150,150,150", "205,205,205"], picture["above"][:5]   # hatched: masked
    assert picture["below"] > 20, picture

    # the exact value of the cell under the pointer, with a word that the picture pools
    for fx, fy in [(0.01, 0.99), (0.25, 0.5), (0.6, 0.95), (0.1, 0.2)]:
        assert_exact_under_pointer(tab, record, head, fx, fy)
    _, _, text, _ = hover(tab, 0.3, 0.6)
    assert "exact value of this cell" in text, text
    _, _, text, _ = hover(tab, 0.9, 0.1)                           # above the diagonal
    assert "masked: this query may not attend to this key" in text, text
    whole_labels = assert_labels_never_overprint(tab, record)
    assert THINNED.search(notes(tab)), notes(tab)                  # 2,048 labels do not fit: thinned, said

    # wheel zoom about the pointer: fewer rows and columns shown, repainted, the cell under the
    # pointer stays under it, the labels follow (closer together in tokens, still apart on screen)
    i, j, _, _ = hover(tab, 0.5, 0.5)
    for notch in range(8):
        before = tab.paints()
        page.mouse.wheel(0, -100)
        wait_painted(tab, before)
        if notch == 2:       # half the rows and columns: still more cells than pixels, pooled less
            r0, r1, c0, c1 = shown_view(tab)
            part = POOLED.search(notes(tab))
            assert part, notes(tab)
            for shown, pixels, told in [(r1 - r0 + 1, H, part.group(2)), (c1 - c0 + 1, W, part.group(3))]:
                assert int(told) in {math.ceil((shown - 1) / pixels), math.ceil((shown + 1) / pixels)}, (shown, pixels, told)
            assert int(part.group(2)) < int(pooled.group(2))
    r0, r1, c0, c1 = shown_view(tab)
    assert (r1 - r0 + 1) < LONG_POSITIONS / 4 and (c1 - c0 + 1) < LONG_POSITIONS / 4, (r0, r1, c0, c1)
    assert r0 <= i <= r1 and c0 <= j <= c1
    assert not POOLED.search(notes(tab)), notes(tab)               # a cell is a pixel or more now
    assert page.locator(f"{CANVAS} .aec-reset").is_visible()
    zoomed_labels = assert_labels_never_overprint(tab, record)
    assert zoomed_labels != whole_labels
    assert all(r0 <= index <= r1 for index in zoomed_labels["y"]) and all(c0 <= index <= c1 for index in zoomed_labels["x"])
    assert (zoomed_labels["y"][1] - zoomed_labels["y"][0]) < (whole_labels["y"][1] - whole_labels["y"][0])
    i2, j2, _, _ = hover(tab, 0.5, 0.5)
    assert abs(i2 - i) <= 2 and abs(j2 - j) <= 2, ((i, j), (i2, j2))
    for fx, fy in [(0.3, 0.7), (0.05, 0.95)]:
        cell = assert_exact_under_pointer(tab, record, head, fx, fy)
        assert r0 <= cell[0] <= r1 and c0 <= cell[1] <= c1

    # drag: the matrix follows the pointer (right and down shows earlier columns and rows),
    # repainted, and a drag opens no cell
    box = screen(tab)
    rows_per_px, cols_per_px = (r1 - r0 + 1) / box["height"], (c1 - c0 + 1) / box["width"]
    x, y = round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2)
    derivation = tab.derivation()
    before = tab.paints()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 80, steps=6)
    page.mouse.up()
    wait_painted(tab, before)
    p0, p1, q0, q1 = shown_view(tab)
    assert abs((p1 - p0) - (r1 - r0)) <= 1 and abs((q1 - q0) - (c1 - c0)) <= 1   # the same zoom (whole cells)
    assert q0 == pytest.approx(c0 - 120 * cols_per_px, abs=2) and p0 == pytest.approx(r0 - 80 * rows_per_px, abs=2), \
        ((r0, c0), (p0, q0))
    assert tab.derivation() == derivation                          # a drag is not a click on a cell
    assert_labels_never_overprint(tab, record)
    assert_exact_under_pointer(tab, record, head, 0.4, 0.8)

    # reset: the whole matrix again, pooled as before, the labels as before
    before = tab.paints()
    page.locator(f"{CANVAS} .aec-reset").click()
    wait_painted(tab, before)
    assert "Zoomed" not in notes(tab)
    assert POOLED.search(notes(tab)).groups() == pooled.groups()
    assert page.locator(f"{CANVAS} .aec-reset").is_hidden()
    assert assert_labels_never_overprint(tab, record) == whole_labels

    # another head at 2,048: painted in the browser, its own exact values
    other = 1 - head
    tab.click_button("heads", str(other))
    assert (tab.attr("head"), tab.attr("rows")) == (str(other), str(LONG_POSITIONS))
    for fx, fy in [(0.25, 0.5), (0.6, 0.95)]:
        assert_exact_under_pointer(tab, record, other, fx, fy)
    tab.close()
