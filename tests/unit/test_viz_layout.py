"""Chart layout a lecturer can read (viz/ figures; two tests open the page through AppTest, where the
behaviour is the page's): titles above top tick labels, every label shown where it fits
and thinning said where it does not, labels that never overprint each other or a neighbouring
panel, row labels inside an exported image, figures that fit a 1920×1080 screen, and views that
open on something to see (Intervene, the mask panel of Head anatomy).

Text sizes are estimated as viz.labels does (CJK characters 1 em, others 0.62 em, a line 1.25
em); one test measures what plotly itself lays out, in an SVG exported through Chromium."""
import json
import re

import numpy as np
import pytest

import viz
from analysis import rollout
from tests.apptest import assert_clean, canvas, canvases, charts, start
from tests.invariants import hand_record
from viz import aggregate_figures as agg
from viz import generation as gen, intervene
from viz.export import export_figure
from viz.figure import for_projector
from viz.labels import plain_text, text_pixels
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
    long_input = records(3, [f"t{i}" for i in range(100)])          # a pooled overview: it has a subtitle
    cross = hand_record(kind="cross", n_heads=3, query_tokens=["<bos>", "a", "b"], key_tokens=list("xyz"))
    layers = records(4, list("abcd"))
    yield "overview", in_(t, viz.overview_image, long_input)
    yield "overview.short", in_(t, viz.overview_image, layers)
    yield "entropy", in_(t, agg.entropy_figure, layers, title=t("fig.kind.encoder") + "<br>" + t("fig.agg.entropy.unit"))
    yield "cross_grid", in_(t, gen.cross_grid, cross, generated_from=1)
    yield "teacher", in_(t, gen.teacher_forcing_figure, list("<ab"), list("abc"), [[("a", 0.9)], [("x", 0.5)], [("c", 1.0)]])
    yield "change summary", in_(t, intervene.change_summary_figure, layers, records(4, list("abcd"), causal=True))


@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
@pytest.mark.parametrize("lecture", [False, True], ids=["screen", "lecture"])
def test_titles_end_above_the_top_tick_labels(t, lecture):
    for name, fig in top_tick_figures(t):
        layout = spec(for_projector(fig) if lecture else fig)["layout"]
        needed = title_bottom(layout) + top_ticks_height(layout)
        assert needed <= layout["margin"]["t"], (name, needed, layout["margin"]["t"])


def test_plotly_lays_the_overview_subtitle_out_above_the_head_labels():
    """What plotly itself draws (an SVG through Chromium, as the PNG export does): the subtitle's
    lowest pixel is above the highest pixel of the "head" labels, on screen and on a projector."""
    from viz.export import chromium_path, png_export_available
    browser = chromium_path()
    if not png_export_available(browser):
        pytest.skip("no Chromium for Kaleido on this machine")
    import kaleido
    for t in (EN, ZH):
        for fig in (in_(t, viz.overview_image, records(3, [f"t{i}" for i in range(100)])),
                    for_projector(in_(t, viz.overview_image, records(3, [f"t{i}" for i in range(100)])))):
            svg = kaleido.calc_fig_sync(fig.to_dict(), opts=dict(format="svg", width=1000, height=fig.layout.height),
                                        kopts={"path": browser}).decode()

            def texts(cls):
                found = []
                for tag in re.findall(rf'<text[^>]*class="{cls}"[^>]*>|<g class="{cls}"><text[^>]*>', svg):
                    found.append((float(re.search(r' y="([-\d.]+)"', tag).group(1)),
                                  float(re.search(r"font-size: ?([\d.]+)px", tag).group(1))))
                return found
            (sub_y, sub_size), = texts("gtitle-subtitle")
            ticks = texts("xtick")
            assert ticks
            # baselines: a glyph reaches ~0.25 em below its baseline and ~0.9 em above it
            assert sub_y + 0.25 * sub_size < min(y - 0.9 * size for y, size in ticks), (sub_y, ticks)


# ---- 2. every label where it fits; thinning said, in English ordinals ------------------------------

def test_a_character_models_per_layer_panels_label_every_token():
    tokens = list("reverse: hello world")
    layout = spec(agg.mean_heads_figure(records(3, tokens)))["layout"]
    for axis in ("xaxis", "yaxis", "xaxis3", "yaxis3"):
        assert layout[axis]["ticktext"] == [{" ": "␣"}.get(c, c) for c in tokens], axis


def thinned_axes(layout: dict):
    return [(name, axis) for name, axis in layout.items()
            if name.startswith(("xaxis", "yaxis")) and axis.get("tickvals") and axis.get("ticktext")
            and len(axis["tickvals"]) < 40 and any("(" in v for v in axis["tickvals"])]


@pytest.mark.parametrize("t, every", [(EN, "every 5th"), (ZH, "每 5 个")], ids=["en", "zh"])
def test_thinned_character_labels_are_position_numbers_and_the_axis_says_so(t, every):
    tokens = list("the cat sat on the mat. ") * 12                  # 288 characters
    fig = in_(t, viz.head_heatmap, hand_record(n_heads=1, d_head=2, query_tokens=tokens), 0)
    layout = spec(fig)["layout"]
    for name in ("xaxis", "yaxis"):
        axis = layout[name]
        positions = [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis["tickvals"]]
        assert len(positions) < len(tokens)
        # never letters that spell something else ("r v r e"): the numbers of the positions shown
        assert axis["ticktext"] == [str(p) for p in positions]
        step = positions[1] - positions[0]
        assert every.replace("5", str(step)) in axis["title"]["text"]


def test_thinned_word_labels_keep_their_tokens_and_the_axis_says_so():
    tokens = [f"w{i}ord" for i in range(200)]
    layout = spec(viz.head_heatmap(hand_record(n_heads=1, d_head=2, query_tokens=tokens), 0))["layout"]
    axis = layout["xaxis"]
    positions = [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis["tickvals"]]
    assert axis["ticktext"] == [tokens[p] for p in positions] and len(positions) < 200
    assert "every" in axis["title"]["text"] and "hover" in axis["title"]["text"]


def test_every_second_label_is_written_2nd_never_2th():
    tokens = [f"w{i}" for i in range(100)]       # 800 px / 100 columns: every 2nd label fits
    fig = viz.head_heatmap(hand_record(n_heads=1, d_head=2, query_tokens=tokens, causal=True), 0)
    text = json.dumps(spec(fig)["layout"], ensure_ascii=False)
    assert "every 2nd" in text
    assert not re.search(r"\b\d*(?<!1)[123]th\b", text), re.findall(r"\b\d+th\b", text)


# ---- 3. labels never overprint each other ----------------------------------------------------------

PLOT_WIDTH = 800          # what viz assumes a full-width chart gets (a narrower one thins more)


def assert_labels_apart(axis: dict, pixels_per_cell: float, along: str, where: str):
    """Upright x labels: each no wider than its share of the axis; turned (-90°) x labels and y
    labels: a line's height each. An unset angle lets plotly tilt them by 30°, where CJK glyphs
    smear into each other."""
    font = axis["tickfont"]["size"]
    positions = [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis["tickvals"]]
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
    record = hand_record(n_heads=2, d_head=2, query_tokens=tokens)
    layout = spec(viz.head_heatmap(record, 0))["layout"]
    plot_height = layout["height"] - layout["margin"]["t"] - layout["margin"]["b"]
    assert_labels_apart(layout["xaxis"], PLOT_WIDTH / n, "x", "heatmap x")
    assert_labels_apart(layout["yaxis"], 0.85 * plot_height / n, "y", "heatmap y")
    mean = spec(agg.mean_heads_figure(records(6, tokens)))["layout"]
    panel_width = PLOT_WIDTH * (mean["xaxis"]["domain"][1] - mean["xaxis"]["domain"][0])
    assert_labels_apart(mean["xaxis4"], panel_width / n, "x", "mean x")


# ---- 4. an exported image holds its row labels -------------------------------------------------------

@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_exported_figures_leave_room_for_the_longest_row_label(t):
    many = records(12, list("abcd"))                              # "layer 11", "第 11 层"
    for name, fig in (("overview", in_(t, viz.overview_image, many)),
                      ("overview lecture", for_projector(in_(t, viz.overview_image, many))),
                      ("entropy", in_(t, agg.entropy_figure, many))):
        layout = spec(export_figure(fig))["layout"]
        axis = layout["yaxis"]
        font = axis.get("tickfont", {}).get("size", 12)
        needed = max(text_pixels(label, font) for label in axis["ticktext"]) + TICK_LEN
        assert layout["margin"]["l"] >= needed, (name, layout["margin"]["l"], needed)


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


# ---- 7. aggregates' key labels clear the next row; one head fits the screen -------------------------

def test_minilm_key_labels_clear_the_next_rows_layer_titles():
    fig = spec(agg.mean_heads_figure(records(6, WORDS)))
    layout = fig["layout"]
    plot_h = layout["height"] - layout["margin"]["t"] - layout["margin"]["b"]
    top_row, next_row = layout["yaxis"]["domain"], layout["yaxis4"]["domain"]
    gap = (top_row[0] - next_row[1]) * plot_h
    axis = layout["xaxis"]
    font = axis.get("tickfont", {}).get("size", 12)
    turned = axis.get("tickangle") == -90
    reach = max(text_pixels(label, font) for label in axis["ticktext"]) if turned else LINE * font
    title = next(a for a in layout["annotations"] if plain_text(a["text"]) == "layer 3")
    needed = TICK_LEN + reach + LINE * title.get("font", {}).get("size", 16)
    assert gap >= needed, (gap, needed)
    # every key label is there whole, not cut to "imal" or "ross"
    assert [plain_text(t) for t in axis["ticktext"]] == [w for w in WORDS]
    # and the first row's "layer" titles stand between the subtitle and the plot
    assert title_bottom(layout) + TITLE_LINE * title.get("font", {}).get("size", 16) <= layout["margin"]["t"]


@pytest.mark.parametrize("n", [58, 128, 512])
def test_one_head_and_the_rollout_fit_a_1080_line_screen(n):
    tokens = (list("the cat sat on the mat. ") * 30)[:n]            # toy-gpt's example and longer
    record = hand_record(kind="decoder", causal=True, n_heads=1, d_head=2, query_tokens=tokens)
    assert viz.head_heatmap(record, 0).layout.height <= SCREEN
    assert agg.rollout_figure(rollout([record]), tokens).layout.height <= SCREEN




# ---- lecture mode: projector-sized labels are thinned, never overprinted, and it is said -----------

@pytest.mark.parametrize("t", [EN, ZH], ids=["en", "zh"])
def test_projector_sized_labels_keep_apart_and_the_axis_says_which_are_shown(t):
    tokens = (list("the cat sat on the mat. ") * 3)[:58]             # toy-gpt's example and continuation
    fig = in_(t, viz.head_heatmap, hand_record(kind="decoder", causal=True, n_heads=1, d_head=2,
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
