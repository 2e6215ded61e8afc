"""Head anatomy: viz/anatomy.py on hand-made records, and the page through AppTest."""
import functools
import re
import os

import numpy as np
import pytest

import app
import model
from viz import anatomy
from viz.labels import position_labels
from viz.stages import stage_values
from tests import apptest
from viz.text import translator as viz_translator
from tests.apptest import array, assert_clean, chart, param, spec
from tests.invariants import hand_record

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# The anatomy tests' default record: 3 heads over 4 tokens.
make_record = functools.partial(hand_record, n_heads=3, query_tokens=("a", "b", "c", "d"))


# ---- helpers ---------------------------------------------------------------------------------

def by_meta(fig: dict) -> dict:
    return {trace.get("meta"): trace for trace in fig["data"]}


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


def shows_formulas(at, record, head: int, i: int, j: int) -> bool:
    """The page writes exactly the formulas of this record's cell (i, j) of this head."""
    latex = " ".join(element.value for element in at.latex)
    return all(line in latex for line in anatomy.neuron_formulas(anatomy.neuron_numbers(record, head, i, j)))


CASES = [("toy-seq2seq", "cross"), ("toy-gpt", "decoder"), ("toy-bert", "encoder")]


@pytest.mark.parametrize("name,kind", [c for c in CASES if c[0] in model.available()])
def test_page_shows_the_record_of_the_chosen_head_and_cell(name, kind):
    network, trace = reference(name)
    layer, head = network.n_layers - 1, 1
    record = trace.get(kind, layer)
    i, j = min(5, len(record.query_tokens) - 1), 2
    at = start(model=name, kind=kind, layer=layer, head=head, query=i, key=j)
    assert_clean(at)
    # The pipeline and the cell's components are the canvas (its numbers are the record's, and it
    # opens on the link's head and cell); the formulas, Q/K/V and the head view follow the cell.
    header, arrays = apptest.canvas(at, "anatomy.canvas")
    apptest.assert_canvas_is_record(header, arrays, record)
    assert (header["head"], header["cell"], header["mean"]) == (head, [i, j], False)
    assert list(apptest.charts(at)) == ["anatomy.qkv", "anatomy.headview"]
    for stage in ("scores", "weights"):      # the matrix painted, where the query may attend
        np.testing.assert_allclose(apptest.canvas_values(header, arrays, stage),
                                   np.where(record.allowed, stage_values(record, stage)[head], np.nan),
                                   rtol=1e-4, atol=1e-5)
    latex = " ".join(element.value for element in at.latex)
    assert f"s_{{{i},{j}}}" in latex
    written = re.search(r"k_\{" + str(j) + r",d\} = (-?[0-9.]+)", latex)
    assert written and float(written.group(1)) == pytest.approx(float(record.scores[head, i, j]), rel=2e-3, abs=2e-3)
    marks = [s for s in chart(at, "anatomy.qkv")["layout"]["shapes"] if s["type"] == "rect"]
    assert sorted((s["yref"], s["y0"]) for s in marks) == [("y", i - 0.5), ("y2", j - 0.5), ("y3", j - 0.5)]
    assert "w.query" not in at.session_state and "w.head" not in at.session_state     # the drop-downs went


@pytest.mark.skipif("toy-seq2seq" not in model.available(), reason="needs toy-seq2seq")
def test_cells_and_heads_chosen_in_the_canvas_drive_the_page_and_the_url():
    network, trace = reference("toy-seq2seq")
    # a text of its own: no first view chooses a cell for it
    at = start(model="toy-seq2seq", text=app.DEFAULT_TEXTS["toy-seq2seq"], kind="cross", layer=1, head="mean")
    assert_clean(at)
    assert apptest.canvas(at, "anatomy.canvas")[0]["head"] == 0
    assert any("head 0" in c.value for c in at.caption)                 # and says so
    record = trace.get("cross", 1)
    assert any("Click a cell" in i.value for i in at.info) and not at.latex     # no cell yet

    at = apptest.choose_in_canvas(at, "anatomy.canvas", query=3, key_=7)      # a click on cell (3, 7)
    assert_clean(at)
    assert shows_formulas(at, record, 0, 3, 7)
    assert (param(at, "query"), param(at, "key")) == ("3", "7")
    assert apptest.canvas(at, "anatomy.canvas")[0]["cell"] == [3, 7]

    at = apptest.choose_in_canvas(at, "anatomy.canvas", head=2)               # then head 2
    assert_clean(at)
    assert shows_formulas(at, record, 2, 3, 7)
    assert param(at, "head") == "2"
    assert any(s["y0"] == 2.5 for s in chart(at, "anatomy.qkv")["layout"]["shapes"])   # q_3 outlined

    at.multiselect(key="anatomy.heads").set_value([0, 3]).run()
    assert_clean(at)
    legend = [t["meta"] for t in chart(at, "anatomy.headview")["data"] if str(t.get("meta", "")).startswith("legend")]
    assert legend == ["legend head 0", "legend head 3"]
    assert shows_formulas(at, record, 2, 3, 7)                                # the cell held

    # Another kind has another number of query tokens: the chosen cell is kept only if it exists.
    at.radio(key="w.kind").set_value("encoder").run()
    assert_clean(at)
    encoder = trace.get("encoder", 1)
    assert shows_formulas(at, encoder, 2, 3, 7)
    last = len(encoder.query_tokens) - 1
    assert last >= len(record.query_tokens)           # a row the cross matrix does not have
    at = apptest.choose_in_canvas(at, "anatomy.canvas", query=last, key_=7)
    at.radio(key="w.kind").set_value("cross").run()
    assert_clean(at)
    assert apptest.canvas(at, "anatomy.canvas")[0]["cell"] is None and not at.latex
    assert "query" not in at.query_params and "key" not in at.query_params


@pytest.mark.skipif("toy-bert" not in model.available(), reason="needs toy-bert")
def test_out_of_range_cell_in_the_url_is_dropped_and_said_in_chinese():
    at = start(model="toy-bert", query=999, key=500, head=40, lang="zh")
    assert_clean(at)
    header, _ = apptest.canvas(at, "anatomy.canvas")
    assert header["cell"] is None and header["head"] == 0
    assert "query" not in at.query_params and "key" not in at.query_params and "head" not in at.query_params
    assert any("点击矩阵中的一个单元格" in i.value for i in at.info)
    assert header["text"]["stage"] == "阶段"                                   # the canvas speaks Chinese too
