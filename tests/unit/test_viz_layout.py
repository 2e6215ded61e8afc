"""Chart layout a lecturer can read (viz/ plotly figures; the attention matrices are the canvas's,
tests/browser/test_canvas.py; two tests open the page through AppTest, where the behaviour is
the page's): titles above top tick labels, every label shown where it fits and thinning said
where it does not, labels that never overprint each other, projector-sized labels, and views
that open on something to see (Intervene).

Text sizes are estimated as viz.labels does (CJK characters 1 em, others 0.62 em, a line 1.25 em)."""
import json
import re

import numpy as np
import pytest

from tests.apptest import assert_clean, canvas, canvases, charts, start
from tests.invariants import hand_record
from viz import aggregate_figures as agg
from viz import anatomy, generation as gen, intervene
from viz.labels import token_axis
from viz.figure import for_projector
from viz.labels import text_pixels
from viz.text import ordinal, translator

EN, ZH = translator("en"), translator("zh")
SCREEN = 860             # px: a figure's most on a 1080-line screen, less browser bars and page header
LINE = 1.25              # a line of text, in ems
TICK_LEN = 5             # plotly's default tick length
CHINESE = list("注意力机制是大语言模型中的核心组件，它允许模型捕捉输入序列中任意两个位置之间的关系。"
               "与传统的循环网络不同，自注意力不受序列长度的限制，能够更好地建模长距离依赖关系。")
WORDS = ["[CLS]", "the", "animal", "didn", "'", "t", "cross", "the", "street", "because", "it", "was", "too",
         "tired", ".", "[SEP]"]                               # minilm's tokens of the app's example


def spec(fig) -> dict:
    return json.loads(fig.to_json())


def lines(text) -> int:
    return str(text).count("<br>") + 1 if text else 0


def in_(t, function, *args, **kwargs):
    """function(*args, **kwargs) in t's language; English is every figure's default, so it is
    asked for by leaving t out (what the pages did before the figures took a translator)."""
    return function(*args, **kwargs) if t is EN else function(*args, t=t, **kwargs)


def records(n_layers, tokens, kind="encoder", causal=False, n_heads=2):
    return [hand_record(kind=kind, layer=i, seed=i, n_heads=n_heads, d_head=2, query_tokens=tokens, causal=causal)
            for i in range(n_layers)]


# ---- 1. titles never print over top tick labels ---------------------------------------------------

# As measured in the app's plotly.js (Streamlit's, Source Sans): a title line is about 1.3 em, a
# subtitle stands 1.6 em of its font below the title (plotly.js's SUBTITLE_PADDING_EM), a top tick
# label with its tick takes about 1.4 em + the tick length + 2 px.
TITLE_LINE, SUBTITLE_PADDING, TOP_TICK = 1.3, 1.6, 1.4


def title_bottom(layout: dict) -> float:
    """How far below the figure's top edge the title block ends. Only a title pinned to the top
    edge (yref container, yanchor top) has a position the figure states; plotly places any other
    title in the middle of the top margin, whatever its subtitle needs."""
    title = layout["title"]
    assert title.get("yref") == "container" and title.get("yanchor") == "top" and title.get("y") == 1, \
        "the title's position is left to plotly"
    font = title.get("font", {}).get("size", 17)
    subtitle = title.get("subtitle", {})
    bottom = title.get("pad", {}).get("t", 0) + TITLE_LINE * font * lines(title["text"])
    if subtitle.get("text"):
        bottom += (SUBTITLE_PADDING + TITLE_LINE * lines(subtitle["text"])) * subtitle.get("font", {}).get("size", 12)
    return bottom


def top_ticks_height(layout: dict) -> float:
    return max(TOP_TICK * axis.get("tickfont", {}).get("size", 12) + TICK_LEN + 2
               for name, axis in layout.items() if name.startswith("xaxis") and axis.get("side") == "top")


def top_tick_figures(t):
    layers = records(4, list("abcd"))
    yield "entropy", in_(t, agg.entropy_figure, layers, title=t("fig.kind.encoder") + "<br>" + t("fig.agg.entropy.unit"))
    yield "teacher", in_(t, gen.teacher_forcing_figure, list("<ab"), list("abc"), [[("a", 0.9)], [("x", 0.5)], [("c", 1.0)]])
    yield "change summary", in_(t, intervene.change_summary_figure, layers, records(4, list("abcd"), causal=True))


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
@pytest.mark.parametrize("lecture", [False, True], ids=["screen", "lecture"])
def test_titles_end_above_the_top_tick_labels(t, lecture):
    for name, fig in top_tick_figures(t):
        layout = spec(for_projector(fig) if lecture else fig)["layout"]
        needed = title_bottom(layout) + top_ticks_height(layout)
        assert needed <= layout["margin"]["t"], (name, needed, layout["margin"]["t"])


# ---- 2. every label where it fits; thinning said, in English ordinals ------------------------------

def axis_positions(axis: dict) -> list[int]:
    return [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis["tickvals"]]


def test_a_character_models_labels_are_every_token_where_they_fit():
    tokens = list("reverse: hello world")
    axis, note = token_axis(tokens, 40, "x")
    assert axis["ticktext"] == [{" ": "␣"}.get(c, c) for c in tokens] and note == ""


@pytest.mark.parametrize("t, every", [(EN, "every 5th"), (ZH, "每 5 个")], ids=["en", "zh"])
def test_thinned_character_labels_are_position_numbers_and_the_axis_says_so(t, every):
    tokens = list("the cat sat on the mat. ") * 12                  # 288 characters
    for along in ("x", "y"):
        axis, note = token_axis(tokens, 800 / len(tokens), along, t=t)
        positions = axis_positions(axis)
        assert len(positions) < len(tokens)
        # never letters that spell something else ("r v r e"): the numbers of the positions shown
        assert axis["ticktext"] == [str(p) for p in positions]
        assert every.replace("5", str(positions[1] - positions[0])) in note


def test_thinned_word_labels_keep_their_tokens_and_the_axis_says_so():
    tokens = [f"w{i}ord" for i in range(200)]
    axis, note = token_axis(tokens, 800 / 200, "x")
    positions = axis_positions(axis)
    assert axis["ticktext"] == [tokens[p] for p in positions] and len(positions) < 200
    assert "every" in note and "hover" in note


def test_every_second_label_is_written_2nd_never_2th():
    _, note = token_axis([f"w{i}" for i in range(100)], 800 / 100, "x")       # every 2nd label fits
    assert "every 2nd" in note
    assert not re.search(r"\b\d*(?<!1)[123]th\b", note), note


# ---- 3. labels never overprint each other ----------------------------------------------------------

def assert_labels_apart(axis: dict, pixels_per_cell: float, along: str, where: str):
    """Upright x labels: each no wider than its share of the axis; turned (-90°) x labels and y
    labels: a line's height each. An unset angle lets plotly tilt them by 30°, where CJK glyphs
    smear into each other."""
    font = axis["tickfont"]["size"]
    positions = axis_positions(axis)
    step = positions[1] - positions[0] if len(positions) > 1 else 1
    room = step * pixels_per_cell
    if along == "x":
        assert axis.get("tickangle") in (0, -90), (where, axis.get("tickangle"))
    if along == "x" and axis["tickangle"] == 0:
        assert max(text_pixels(label, font) for label in axis["ticktext"]) <= room, where
    else:
        assert LINE * font <= room, (where, font, room)
    assert font >= 9, where


def test_a_chinese_paragraph_in_minilm_gets_labels_that_do_not_overlap():
    tokens = ["[CLS]", *CHINESE, "[SEP]"]
    n = len(tokens)
    for along, pixels in (("x", 800), ("y", 560), ("x", 250)):
        axis, _ = token_axis(tokens, pixels / n, along)
        assert_labels_apart(axis, pixels / n, along, f"{along} over {pixels} px")


# ---- 5. Intervene opens where something changed, and says when nothing did ----------------------------

def test_largest_change_names_the_call_that_changed_most():
    pairs = [("encoder", 0), ("encoder", 1), ("decoder", 0)]
    grid = np.array([[0, 0], [0.2, 0.7], [0.3, 0.1]], np.float32)
    assert intervene.largest_change(pairs, grid) == (("encoder", 1), pytest.approx(0.7))


def expected_opening(text, heads):
    """((kind, layer), change) where switching `heads` off changes toy-seq2seq's attention most."""
    import model
    from model import Intervention
    network = model.load("toy-seq2seq")
    before = network.trace(text)
    after = network.trace(text, intervention=Intervention(heads_off=frozenset(heads)))
    return intervene.largest_change(*intervene.change_grid(before.records, after.records))


def assert_detail_shows(at, kind, layer):
    header, _ = canvas(at, "intervene.canvas")
    assert (header["kind"], header["layer"], header["stage"]) == (kind, layer, "change")
    assert at.radio(key="w.layer").value == layer and at.radio(key="w.kind").value == kind


HEADS = [("encoder", 0, 0), ("encoder", 0, 1)]
TEXT = "reverse: hello world"


def test_choosing_heads_opens_the_layer_that_changed_most():
    (kind, layer), top = expected_opening(TEXT, HEADS)
    assert top > 0.01 and (kind, layer) != ("encoder", 0)         # the heads' own layer keeps its weights
    at = start(page="intervene", model="toy-seq2seq", text=TEXT, kind="encoder", layer=0)
    assert_clean(at)
    at.multiselect(key="w.heads_off").set_value(HEADS).run()
    assert_clean(at)
    assert_detail_shows(at, kind, layer)


def test_a_link_to_an_unchanged_layer_opens_where_the_change_is():
    (kind, layer), _ = expected_opening(TEXT, HEADS)
    at = start(page="intervene", model="toy-seq2seq", text=TEXT, kind="encoder", layer=0,
               heads_off="encoder.0.0,encoder.0.1")
    assert_clean(at)
    assert_detail_shows(at, kind, layer)


def test_intervene_says_so_when_nothing_changed():
    import model
    network = model.load("toy-bert")
    last = network.n_layers - 1                  # nothing reads the last layer's heads but the output
    at = start(page="intervene", model="toy-bert", lang="zh", heads_off=f"encoder.{last}.0")
    assert_clean(at)
    assert "intervene.summary" in charts(at) and not canvases(at)
    assert any("没有改变任何注意力权重" in info.value for info in at.info)


# ---- lecture mode: projector-sized labels are thinned, never overprinted, and it is said -----------

@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_projector_sized_labels_keep_apart_and_the_axis_says_which_are_shown(t):
    tokens = (list("the cat sat on the mat. ") * 3)[:58]             # toy-gpt's example and continuation
    fig = in_(t, anatomy.qkv_figure, hand_record(kind="decoder", causal=True, n_heads=1, d_head=2,
                                                   query_tokens=tokens), 0)
    drawn = spec(fig)["layout"]
    plot_height = drawn["height"] - drawn["margin"]["t"] - drawn["margin"]["b"]
    lecture = spec(for_projector(fig))["layout"]
    assert lecture["height"] <= SCREEN
    axis = lecture["yaxis"]
    font = axis["tickfont"]["size"]
    assert font >= 18
    positions = [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis["tickvals"]]
    step = positions[1] - positions[0]
    # a row's height as the figure was laid out (no more than the plot's share: rows are no
    # taller on the projector, the figure may not grow past the screen)
    row = lecture["meta"]["token_axes"]["yaxis"]["ppc"]
    assert row <= plot_height / len(tokens)
    assert step > 1 and step * row >= LINE * font, (step, row, font)
    assert axis["ticktext"] == [str(p) for p in positions]             # a character model: numbered
    assert t("fig.ticks.positions", n=step, nth=ordinal(step)) in axis["title"]["text"]
