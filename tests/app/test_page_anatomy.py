"""Head anatomy: viz/anatomy.py on hand-made records, and the page through AppTest."""
import functools
import re
import os

import numpy as np
import pytest

import app
import model
from viz import anatomy
from viz.stages import MATRIX_VIEWS
from viz.labels import position_labels, token_labels
from tests import apptest
from viz.text import translator as viz_translator
from tests.apptest import array, assert_clean, chart, spec
from tests.invariants import hand_record

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# The anatomy tests' default record: 3 heads over 4 tokens.
make_record = functools.partial(hand_record, n_heads=3, query_tokens=("a", "b", "c", "d"))


# ---- helpers ---------------------------------------------------------------------------------

def by_meta(fig: dict) -> dict:
    return {trace.get("meta"): trace for trace in fig["data"]}


# ---- the pipeline ----------------------------------------------------------------------------

def test_pipeline_panels_are_the_stages_of_the_chosen_head():
    record = make_record(causal=True)
    panels = anatomy.pipeline_panels(record, 1)
    assert [stage for stage, _, _ in panels] == ["scores", "scaled", "mask", "weights"]
    values = {stage: z for stage, _, z in panels}
    np.testing.assert_array_equal(values["scores"], record.scores[1])
    np.testing.assert_allclose(values["scaled"], record.scores[1] * record.scale, rtol=1e-6)
    # Scores exist for every pair; only the mask and the softmax hatch the masked cells.
    assert np.isfinite(values["scores"]).all() and np.isfinite(values["scaled"]).all()
    for stage in ("mask", "weights"):
        assert np.array_equal(np.isnan(values[stage]), ~record.allowed)
    np.testing.assert_array_equal(values["weights"][record.allowed], record.weights[1][record.allowed])
    assert "0.5" in panels[1][1] and "√4" in panels[1][1]        # the real scale, named


def test_pipeline_has_a_bias_panel_only_when_the_model_adds_one():
    record = make_record(bias=True)
    panels = anatomy.pipeline_panels(record, 2)
    assert [stage for stage, _, _ in panels] == ["scores", "scaled", "biased", "mask", "weights"]
    assert {stage for stage, _, _ in panels} <= set(MATRIX_VIEWS)       # the one stage vocabulary
    np.testing.assert_allclose(panels[2][2], record.scores[2] * record.scale + record.bias[2], rtol=1e-6)


def test_pipeline_figure_shares_rows_and_labels_and_marks_the_cell():
    record = make_record(query_tokens=("<script>", "b", " "), key_tokens=("x", "<b>y</b>", "z", "w"),
                         kind="cross")
    fig = spec(anatomy.pipeline_figure(record, 0, query=2, key=3))
    heatmaps = [t for t in fig["data"] if t["type"] == "heatmap"]
    assert [t["meta"] for t in heatmaps] == ["scores", "scaled", "mask", "weights"]
    for trace in heatmaps:
        assert array(trace["z"]).shape == (3, 4)
        assert trace["y"] == position_labels(record.query_tokens)
        assert trace["x"] == position_labels(record.key_tokens)
    np.testing.assert_array_equal(array(heatmaps[0]["z"]), record.scores[0])
    layout = fig["layout"]
    # One shared query axis, row 0 on top; every panel's x axis shows the same (escaped) keys.
    assert layout["yaxis"]["range"][0] > layout["yaxis"]["range"][1]
    assert layout["yaxis"]["ticktext"] == ["&lt;script&gt;", "b", "␣"]
    for n in ("", "2", "3", "4"):
        assert layout[f"xaxis{n}"]["ticktext"] == token_labels(record.key_tokens)
    assert all(layout[f"yaxis{n}"].get("matches") == "y" for n in ("2", "3", "4"))
    marks = [s for s in layout["shapes"] if s["type"] == "rect"]
    assert len(marks) == 4 and all(s["x0"] == 2.5 and s["y0"] == 1.5 for s in marks)
    # Colour ranges: symmetric for scores, 0..1 for weights.
    assert heatmaps[0]["zmin"] == -heatmaps[0]["zmax"]
    assert (heatmaps[3]["zmin"], heatmaps[3]["zmax"]) == (0.0, 1.0)


def test_masked_cells_of_the_pipeline_are_hatched():
    fig = spec(anatomy.pipeline_figure(make_record(causal=True), 0))
    images = fig["layout"].get("images", [])
    assert sorted(image["xref"] for image in images) == ["x3 domain", "x4 domain"]   # mask, weights
    assert not spec(anatomy.pipeline_figure(make_record(), 0))["layout"].get("images")


# ---- the neuron view -------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [False, True])
def test_neuron_numbers_rebuild_the_weight_and_the_context(bias):
    record = make_record(causal=True, bias=bias, d_head=8)
    n = anatomy.neuron_numbers(record, 2, 3, 1)
    np.testing.assert_allclose(n.product, record.q[2, 3] * record.k[2, 1])
    assert n.score_sum == pytest.approx(float(record.scores[2, 3, 1]), rel=1e-5)
    assert n.scaled == pytest.approx(n.score * record.scale)
    assert n.logit == pytest.approx(n.scaled + (record.bias[2, 3, 1] if bias else 0), rel=1e-5)
    assert n.numerator / n.denominator == pytest.approx(n.weight, rel=1e-5)
    np.testing.assert_array_equal(n.row, record.weights[2, 3])
    np.testing.assert_allclose(n.context_sum, record.context[2, 3], atol=1e-6)
    np.testing.assert_allclose(n.contribution, record.weights[2, 3, 1] * record.v[2, 1], rtol=1e-6)
    formulas = anatomy.neuron_formulas(n)
    assert any(f"{n.score_sum:.4g}" in line for line in formulas)
    assert any(f"{n.weight:.4g}" in line for line in formulas)
    assert any("b_{3,1}" in line for line in formulas) == bias


def test_a_masked_cell_has_zero_weight_and_says_so():
    record = make_record(causal=True)
    n = anatomy.neuron_numbers(record, 0, 0, 3)             # query 0 may not see key 3
    assert not n.allowed and n.weight == 0 and n.logit == -np.inf
    assert any(r"\text{masked}" in line for line in anatomy.neuron_formulas(n))
    chinese = anatomy.neuron_formulas(n, t=viz_translator("zh"))
    assert any(r"\text{被掩码}" in line for line in chinese) and not any("masked" in line for line in chinese)
    with pytest.raises(IndexError):
        anatomy.neuron_numbers(record, 3, 0, 0)             # head out of range
    with pytest.raises(IndexError):
        anatomy.neuron_numbers(record, 0, 4, 0)             # query out of range


def test_neuron_figure_bars_are_the_vectors():
    record = make_record(query_tokens=("<img onerror=x>", "b", "c"), key_tokens=("k0", "k1"), kind="cross", d_head=6)
    fig = spec(anatomy.neuron_figure(record, 1, 0, 1))
    traces = by_meta(fig)
    np.testing.assert_array_equal(array(traces["q"]["y"]), record.q[1, 0])
    np.testing.assert_array_equal(array(traces["k"]["y"]), record.k[1, 1])
    np.testing.assert_allclose(array(traces["q⊙k"]["y"]), record.q[1, 0] * record.k[1, 1])
    np.testing.assert_array_equal(array(traces["z"]["y"]), record.context[1, 0])
    assert array(traces["q"]["x"]).tolist() == list(range(6))
    titles = " ".join(a["text"] for a in fig["layout"]["annotations"])
    assert "&lt;img onerror=x&gt;" in titles and "<img" not in titles


def test_softmax_row_marks_the_chosen_key_and_crosses_masked_keys():
    record = make_record(causal=True)
    fig = spec(anatomy.softmax_row_figure(record, 1, 1, 0))
    traces = by_meta(fig)
    np.testing.assert_array_equal(array(traces["α"]["y"]), record.weights[1, 1])
    colors = traces["α"]["marker"]["color"]
    assert colors[0] == anatomy.CHOSEN_COLOR and set(colors[1:]) == {anatomy.BAR_COLOR}
    assert traces["masked"]["x"] == position_labels(record.key_tokens)[2:]     # keys 2, 3 lie in the future
    assert "masked" not in by_meta(spec(anatomy.softmax_row_figure(make_record(), 0, 0, 0)))


# ---- Q, K, V ---------------------------------------------------------------------------------

def test_qkv_heatmaps_are_tokens_by_d_head_for_self_and_cross():
    cross = make_record(kind="cross", query_tokens=("a", "b"), key_tokens=("x", "y", "z"), d_head=5)
    fig = spec(anatomy.qkv_figure(cross, 2, query=1, key=2))
    traces = by_meta(fig)
    for name, matrix, tokens in (("Q", cross.q[2], cross.query_tokens), ("K", cross.k[2], cross.key_tokens),
                                 ("V", cross.v[2], cross.key_tokens)):
        np.testing.assert_array_equal(array(traces[name]["z"]), matrix)
        assert traces[name]["y"] == position_labels(tokens)
    # Cross attention: Q has other rows than K and V, so the rows are not shared.
    assert "matches" not in fig["layout"]["yaxis2"]
    assert [s["y0"] for s in fig["layout"]["shapes"]] == [0.5, 1.5, 1.5]
    own = spec(anatomy.qkv_figure(make_record(), 0))
    assert own["layout"]["yaxis2"]["matches"] == "y" and not own["layout"].get("shapes")


# ---- the head view ---------------------------------------------------------------------------

def test_head_lines_drop_weights_under_the_threshold():
    weights = np.array([[0.9, 0.01, 0.09], [0.5, 0.5, 0.0]], np.float32)
    lines = anatomy.head_lines(weights, threshold=0.02, levels=10)
    segments = {(ys[n], ys[n + 1], level) for level, (xs, ys) in lines.items() for n in range(0, len(ys), 3)}
    assert segments == {(0, 0, 9), (0, 2, 1), (1, 0, 5), (1, 1, 5)}       # 0.01 and 0.0 are gone
    for xs, ys in lines.values():
        assert xs[2::3] == [None] * (len(xs) // 3) and xs[0::3] == [0] * (len(xs) // 3)


@pytest.mark.parametrize("heads", [[0], [0, 1, 2]])
def test_head_view_trace_count_does_not_grow_with_tokens(heads):
    counts = []
    for n in (4, 40):
        record = make_record(query_tokens=[f"t{i}" for i in range(n)], seed=n)
        fig = spec(anatomy.head_view_figure(record, heads))
        counts.append(len(fig["data"]))
        assert len(fig["data"]) <= len(heads) * (anatomy.OPACITY_LEVELS + 1) + 2
        line_traces = [t for t in fig["data"] if str(t.get("meta", "")).startswith("lines")]
        drawn = sum(len(t["x"]) // 3 for t in line_traces)
        assert drawn == sum(int((record.weights[h] >= anatomy.LINE_THRESHOLD).sum()) for h in heads)
    assert counts[1] <= len(heads) * (anatomy.OPACITY_LEVELS + 1) + 2


def test_head_view_colours_labels_and_hover():
    record = make_record(kind="cross", query_tokens=("<b>", "q"), key_tokens=("k", "&", "z"))
    fig = spec(anatomy.head_view_figure(record, [0, 2]))
    traces = by_meta(fig)
    assert traces["legend head 0"]["line"]["color"] == anatomy.HEAD_COLORS[0]
    assert traces["legend head 2"]["line"]["color"] == anatomy.HEAD_COLORS[2]
    assert traces["query tokens"]["text"] == ["&lt;b&gt;", "q"]
    assert traces["key tokens"]["text"] == ["k", "&amp;", "z"]
    hover = traces["query tokens"]["hovertext"][0]
    assert "head 0" in hover and "head 2" in hover and "<b>head" in hover and "&lt;b&gt;" in hover
    top = int(np.argmax(record.weights[0, 0]))
    assert f"({top}) {record.weights[0, 0, top]:.3f}" in hover
    for trace in fig["data"]:
        if str(trace.get("meta", "")).startswith("lines"):
            assert 0 < trace["opacity"] <= 1


# ---- the page --------------------------------------------------------------------------------

def start(**params):
    """The app opened on the anatomy page with these URL query parameters."""
    return apptest.start(**{"page": "anatomy", **params})


def reference(name: str):
    network = model.load(name)
    new_tokens = app.NEW_TOKENS if network.architecture == "decoder-only" else 0
    return network, network.trace(app.DEFAULT_TEXTS[name], max_new_tokens=new_tokens)


CASES = [("toy-seq2seq", "cross"), ("toy-gpt", "decoder"), ("toy-bert", "encoder")]


@pytest.mark.parametrize("name,kind", [c for c in CASES if c[0] in model.available()])
def test_page_shows_the_record_of_the_chosen_head_and_cell(name, kind):
    network, trace = reference(name)
    layer, head = network.n_layers - 1, 1
    record = trace.get(kind, layer)
    i, j = min(5, len(record.query_tokens) - 1), 2
    at = start(model=name, kind=kind, layer=layer, head=head, query=i, key=j)
    assert_clean(at)
    figs = apptest.charts(at)
    assert list(figs) == ["anatomy.pipeline", "anatomy.row", "anatomy.neuron", "anatomy.qkv", "anatomy.headview"]

    panels = by_meta(figs["anatomy.pipeline"])
    np.testing.assert_allclose(array(panels["scores"]["z"]), record.scores[head], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(array(panels["scaled"]["z"]), record.scores[head] * record.scale, rtol=1e-4, atol=1e-4)
    allowed = record.allowed
    np.testing.assert_allclose(array(panels["weights"]["z"])[allowed], record.weights[head][allowed], atol=1e-5)
    assert np.isnan(array(panels["weights"]["z"])[~allowed]).all()
    assert figs["anatomy.pipeline"]["layout"]["yaxis"]["ticktext"] == token_labels(record.query_tokens)

    neuron = by_meta(figs["anatomy.neuron"])
    q, k = array(neuron["q"]["y"]), array(neuron["k"]["y"])
    np.testing.assert_allclose(q, record.q[head, i], atol=1e-5)
    np.testing.assert_allclose(k, record.k[head, j], atol=1e-5)
    assert float((q * k).sum()) == pytest.approx(float(record.scores[head, i, j]), rel=1e-3, abs=1e-3)
    np.testing.assert_allclose(array(neuron["z"]["y"]), record.context[head, i], atol=1e-5)
    row = by_meta(figs["anatomy.row"])["α"]
    np.testing.assert_allclose(array(row["y"]), record.weights[head, i], atol=1e-6)
    assert row["marker"]["color"][j] == anatomy.CHOSEN_COLOR
    latex = " ".join(element.value for element in at.latex)
    assert f"s_{{{i},{j}}}" in latex
    written = re.search(r"k_\{" + str(j) + r",d\} = (-?[0-9.]+)", latex)
    assert written and float(written.group(1)) == pytest.approx(float(record.scores[head, i, j]), rel=2e-3, abs=2e-3)
    assert at.selectbox(key="w.query").options[0].startswith("0: ")
    assert [s.split(": ", 1)[0] for s in at.selectbox(key="w.key").options] == [str(n) for n in range(len(record.key_tokens))]


@pytest.mark.skipif("toy-seq2seq" not in model.available(), reason="needs toy-seq2seq")
def test_widgets_change_the_figures_and_the_url():
    network, trace = reference("toy-seq2seq")
    at = start(model="toy-seq2seq", kind="cross", layer=1, head="mean")   # mean falls back to head 0
    assert_clean(at)
    assert at.radio(key="w.head").value == 0
    record = trace.get("cross", 1)

    at.selectbox(key="w.query").set_value(3).run()
    assert_clean(at)
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.neuron"))["q"]["y"]), record.q[0, 3], atol=1e-5)
    assert at.query_params["query"] == "3"

    at.selectbox(key="w.key").set_value(7).run()
    assert_clean(at)
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.neuron"))["k"]["y"]), record.k[0, 7], atol=1e-5)
    assert at.query_params["key"] == "7" and at.query_params["query"] == "3"
    marks = [s for s in chart(at, "anatomy.pipeline")["layout"]["shapes"] if s["type"] == "rect"]
    assert {(s["x0"], s["y0"]) for s in marks} == {(6.5, 2.5)}

    at.radio(key="w.head").set_value(2).run()
    assert_clean(at)
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.pipeline"))["scores"]["z"]), record.scores[2], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.row"))["α"]["y"]), record.weights[2, 3], atol=1e-6)
    assert at.query_params["head"] == "2"

    at.multiselect(key="anatomy.heads").set_value([0, 3]).run()
    assert_clean(at)
    legend = [t["meta"] for t in chart(at, "anatomy.headview")["data"] if str(t.get("meta", "")).startswith("legend")]
    assert legend == ["legend head 0", "legend head 3"]

    # Another kind has another number of query tokens: the chosen cell is kept only if it exists.
    at.radio(key="w.kind").set_value("encoder").run()
    assert_clean(at)
    encoder = trace.get("encoder", 1)
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.row"))["α"]["y"]), encoder.weights[2, 3], atol=1e-6)
    last = len(encoder.query_tokens) - 1
    assert last >= len(record.query_tokens)           # a row the cross matrix does not have
    at.selectbox(key="w.query").set_value(last).run()
    at.radio(key="w.kind").set_value("cross").run()
    assert_clean(at)
    # row 0, written beside the kept key 7 (a cell is a pair in the address)
    assert at.selectbox(key="w.query").value == 0 and at.query_params["query"] == "0" and at.query_params["key"] == "7"
    np.testing.assert_allclose(array(by_meta(chart(at, "anatomy.row"))["α"]["y"]), record.weights[2, 0], atol=1e-6)


@pytest.mark.skipif("toy-bert" not in model.available(), reason="needs toy-bert")
def test_out_of_range_cell_in_the_url_falls_back_to_0():
    at = start(model="toy-bert", query=999, key=500, lang="zh")
    assert_clean(at)
    assert at.selectbox(key="w.query").value == 0 and at.selectbox(key="w.key").value == 0
    assert "query" not in at.query_params and "key" not in at.query_params
    assert any("神经元视图" in m.value for m in at.markdown)
