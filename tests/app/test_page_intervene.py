"""Intervene page and viz/intervene.py: heads switched off, keys masked, and what changed."""

import numpy as np
import pytest

import app
import model
from model import Intervention
from model.trace import AttentionRecord
from viz import intervene as vi
from tests.apptest import array, assert_clean, canvas, canvas_values, chart, charts, param, pictures, spec, start
from tests.invariants import hand_record
from viz.canvas import compare_payload, unpack



# ---- helpers ----------------------------------------------------------------------------------

def all_heads(network, kind):
    return sorted((kind, layer, head) for layer in range(network.n_layers) for head in range(network.n_heads))


def record(weights, kind="encoder", layer=0, allowed=None, tokens="abcdefgh"):
    weights = np.asarray(weights, dtype=np.float32)
    h, nq, nk = weights.shape
    zeros = np.zeros((h, nk, 2), np.float32)
    q_tokens = list(tokens[:nq]) if kind != "cross" else list("ABCDEFGH"[:nq])
    return AttentionRecord(kind=kind, layer=layer, query_tokens=q_tokens, key_tokens=list(tokens[:nk]),
                           q=np.zeros((h, nq, 2), np.float32), k=zeros, v=zeros,
                           scores=np.zeros_like(weights), scale=1.0, bias=None,
                           allowed=np.ones((nq, nk), bool) if allowed is None else allowed,
                           weights=weights, context=np.zeros((h, nq, 2), np.float32))


# ---- viz/intervene.py -------------------------------------------------------------------------

def test_weight_change_covers_the_common_positions_and_leaves_never_allowed_cells_empty():
    causal = np.tril(np.ones((3, 3), bool))
    before = record(np.tril(np.full((2, 3, 3), 0.2)), kind="decoder", allowed=causal)
    after = record(np.tril(np.full((2, 4, 4), 0.3)), kind="decoder", allowed=np.tril(np.ones((4, 4), bool)))
    assert vi.common_shape(before, after) == (3, 3)
    delta = vi.weight_change(before, after)
    assert delta.shape == (2, 3, 3) and delta.dtype == np.float32
    np.testing.assert_allclose(delta[:, causal], 0.1, atol=1e-6)
    assert np.isnan(delta[:, ~causal]).all()


def test_row_change_is_zero_when_unchanged_and_two_when_disjoint():
    same = record(np.full((2, 3, 3), 1 / 3))
    assert np.all(vi.row_change(same, same) == 0)
    first = record(np.eye(3)[None, :, [0, 0, 0]].repeat(2, 0))     # every query on key 0
    last = record(np.eye(3)[None, :, [2, 2, 2]].repeat(2, 0))      # every query on key 2
    np.testing.assert_allclose(vi.row_change(first, last), [2.0, 2.0])


def test_change_grid_runs_in_forward_order_and_the_summary_marks_switched_off_heads():
    w = np.full((2, 3, 3), 1 / 3)
    before = [record(w, "cross", 1), record(w, "decoder", 1), record(w, "encoder", 1),
              record(w, "cross", 0), record(w, "decoder", 0), record(w, "encoder", 0)]
    changed = np.zeros_like(w)
    changed[:, :, 0] = 1                                             # all attention on key 0
    after = [record(changed if (r.kind, r.layer) == ("decoder", 1) else w, r.kind, r.layer) for r in before]
    pairs, grid = vi.change_grid(before, after)
    assert pairs == [("encoder", 0), ("encoder", 1), ("decoder", 0), ("cross", 0), ("decoder", 1), ("cross", 1)]
    np.testing.assert_allclose(grid[4], 4 / 3)                       # |1 - 1/3| + 2·(1/3)
    assert np.all(np.delete(grid, 4, axis=0) == 0)
    fig = spec(vi.change_summary_figure(before, after, heads_off=[("cross", 0, 1)]))
    np.testing.assert_array_equal(array(fig["data"][0]["z"]), grid)
    assert fig["data"][0]["text"][3][1] == "0.000 (off)"
    assert fig["data"][0]["text"][3][0] == "0.000"
    assert list(fig["data"][0]["y"]) == [f"{k} {l}" for k, l in pairs]
    assert fig["data"][0]["zmin"] == 0


def test_the_comparison_canvas_carries_both_runs_and_labels_changed_tokens():
    """The canvas's payload comparing two runs (viz.canvas.compare_payload) decodes, in numpy by
    the browser's equations, to α before, α after and their difference over the positions both
    runs have; a position read differently is labelled "before→after", markup stays text."""
    before = hand_record(kind="decoder", n_heads=3, query_tokens=("a", "b", "c"), causal=True, bias=True)
    after = hand_record(kind="decoder", n_heads=3, query_tokens=("a", "b", "<X>", "d"), causal=True, bias=True, seed=1)
    labels = (vi.pair_labels(before.query_tokens, after.query_tokens), vi.pair_labels(before.key_tokens, after.key_tokens))
    header, arrays = unpack(compare_payload(before, after, 1, labels=labels, heads_off=[2]))
    assert (header["rows"], header["cols"], header["stage"], header["stages"]) == (3, 3, "change", ["before", "weights", "change"])
    assert header["query_tokens"] == ["a", "b", "c→<X>"] and header["heads_off"] == [2]
    assert header["stage_in_view"] is False and header["min_range"]["change"] >= 0.01   # noise is not a change
    delta = vi.weight_change(before, after)
    for h in range(3):
        np.testing.assert_allclose(canvas_values(header, arrays, "change", h), delta[h], atol=1e-6)
        np.testing.assert_allclose(canvas_values(header, arrays, "before", h),
                                   np.where(before.allowed, before.weights[h], np.nan), atol=1e-6)
        np.testing.assert_allclose(canvas_values(header, arrays, "weights", h),
                                   np.where(after.allowed[:3, :3], after.weights[h, :3, :3], np.nan), atol=1e-6)
    np.testing.assert_allclose(canvas_values(header, arrays, "change", "mean"), delta.mean(axis=0), atol=1e-6)
    assert "before_v" not in arrays and "v" in arrays           # the first run's derivation needs no v
    same_header, same = unpack(compare_payload(before, before, 0))
    assert np.nanmax(np.abs(canvas_values(same_header, same, "change", 0))) == 0


def test_prediction_rows_compare_top1_over_common_positions():
    before = [[("a", 0.9)], [(" ", 0.8)], [("c", 0.5)]]
    after = [[("a", 0.7)], [("x", 0.6)]]
    rows = vi.prediction_rows(before, after, ["<bos>", "a", "b"], ["<bos>", "z"])
    assert len(rows) == 2
    assert rows[0] == {"position": 0, "input": "<bos>", "top-1 before": "a", "p before": 0.9,
                       "top-1 after": "a", "p after": 0.7, "changed": False}
    assert rows[1]["top-1 before"] == "␣" and rows[1]["changed"] is True
    assert rows[1]["input"] == "a → z"


# ---- the page ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", model.available())
def test_every_model_shows_what_changed(name):
    network = model.load(name)
    kind = {"encoder-decoder": "encoder", "decoder-only": "decoder", "encoder-only": "encoder"}[network.architecture]
    at = start(page="intervene", model=name, heads_off=f"{kind}.0.0,{kind}.0.1", layer=1, kind=kind)
    assert_clean(at)
    new = app.NEW_TOKENS if network.architecture == "decoder-only" else 0
    text = app.DEFAULT_TEXTS[name]
    off = Intervention(heads_off=frozenset({(kind, 0, 0), (kind, 0, 1)}))
    before, after = network.trace(text, max_new_tokens=new), network.trace(text, max_new_tokens=new, intervention=off)
    assert [c.value for c in at.code][-2:] == [before.output_text, after.output_text]
    summary, (header, arrays) = chart(at, "intervene.summary"), canvas(at, "intervene.canvas")
    pairs, grid = vi.change_grid(before.records, after.records)
    np.testing.assert_allclose(array(summary["data"][0]["z"]), grid, atol=1e-5)
    if kind == "encoder":   # the encoder input is not regenerated: layer 0's own weights stay
        assert np.all(grid[pairs.index((kind, 0))] == 0)
    expected = vi.weight_change(before.get(kind, 1), after.get(kind, 1))
    assert (header["kind"], header["layer"], header["heads"], header["stage"]) == (kind, 1, network.n_heads, "change")
    for h in range(network.n_heads):
        np.testing.assert_allclose(canvas_values(header, arrays, "change", h), expected[h], atol=1e-5)
    if not before.predictions:      # a model without a language-model head (minilm)
        assert not at.dataframe and any("predicts no tokens" in c.value for c in at.caption)
        return
    table = at.dataframe[0].value
    encoder_only = network.architecture == "encoder-only"
    rows = vi.prediction_rows(before.predictions, after.predictions,
                              before.encoder_tokens if encoder_only else before.decoder_tokens,
                              after.encoder_tokens if encoder_only else after.decoder_tokens)
    assert list(table["changed"]) == [r["changed"] for r in rows]      # English columns (lang=en)


def test_nothing_chosen_asks_for_a_choice():
    at = start(page="intervene", model="toy-seq2seq")
    assert_clean(at)
    assert not pictures(at)
    assert any("Choose heads" in info.value for info in at.info)


def test_switching_off_every_cross_head_changes_the_output():
    network = model.load("toy-seq2seq")
    every = all_heads(network, "cross")
    at = start(page="intervene", model="toy-seq2seq", text="reverse: abcdef",
               heads_off=",".join(f"{k}.{l}.{h}" for k, l, h in every))
    assert_clean(at)
    assert list(at.multiselect(key="w.heads_off").value) == every
    before, after = [c.value for c in at.code][-2:]
    assert before == network.trace("reverse: abcdef").output_text
    assert after == network.trace("reverse: abcdef", intervention=Intervention(heads_off=frozenset(every))).output_text
    assert after != before
    # The decoder was regenerated: the page says so.
    assert any("generated again" in c.value for c in at.caption)
    assert at.dataframe[0].value["changed"].any()


def test_masking_a_key_token_empties_its_column_in_the_after_trace():
    network = model.load("toy-seq2seq")
    text = "reverse: abcdef"
    at = start(page="intervene", model="toy-seq2seq", text=text, kind="encoder", layer=1)
    source = network.trace(text).encoder_tokens
    at.multiselect(key="intervene.masked").set_value([6]).run()
    assert_clean(at)
    assert at.multiselect(key="intervene.masked").options[6] == f"{source[6]} (6)"
    before = network.trace(text).get("encoder", 1)
    header, arrays = canvas(at, "intervene.canvas")
    for h in range(header["heads"]):
        after_weights = canvas_values(header, arrays, "change", h) + before.weights[h]     # Δ + before = after
        np.testing.assert_allclose(after_weights[:, 6], 0, atol=1e-6)
        assert after_weights[:, :6].sum() > 0
    assert "heads_off" not in at.query_params


def test_heads_off_widget_lands_sorted_in_the_url():
    at = start(page="intervene", model="toy-seq2seq")
    at.multiselect(key="w.heads_off").set_value([("decoder", 1, 2), ("cross", 0, 1)]).run()
    assert_clean(at)
    assert param(at, "heads_off") == "cross.0.1,decoder.1.2"
    header, _ = canvas(at, "intervene.canvas")
    assert set(charts(at)) == {"intervene.summary"}
    assert header["heads_off"] == [h for k, l, h in [("cross", 0, 1), ("decoder", 1, 2)] if (k, l) == (header["kind"], header["layer"])]
    # The same link opened fresh shows the same choice.
    again = start(page="intervene", model="toy-seq2seq", heads_off=param(at, "heads_off"))
    assert list(again.multiselect(key="w.heads_off").value) == [("cross", 0, 1), ("decoder", 1, 2)]


def test_decoder_only_masks_prompt_positions():
    network = model.load("toy-gpt")
    at = start(page="intervene", model="toy-gpt", layer=1)
    text = app.DEFAULT_TEXTS["toy-gpt"]
    before = network.trace(text, max_new_tokens=app.NEW_TOKENS)
    masked = at.multiselect(key="intervene.masked")
    assert len(masked.options) == before.generated_from        # the prompt, not the continuation
    masked.set_value([3]).run()
    assert_clean(at)
    after = network.trace(text, max_new_tokens=app.NEW_TOKENS, intervention=Intervention(hidden_decoder_keys=frozenset({3})))
    header, arrays = canvas(at, "intervene.canvas")
    np.testing.assert_allclose(canvas_values(header, arrays, "change", 0),
                               vi.weight_change(before.get("decoder", 1), after.get("decoder", 1))[0], atol=1e-5)
    assert np.all(after.get("decoder", 1).weights[:, :, 3] == 0)


def test_the_prediction_table_speaks_chinese():
    at = start(page="intervene", model="toy-gpt", lang="zh", heads_off="decoder.0.0")
    assert_clean(at)
    columns = list(at.dataframe[0].value.columns)
    assert columns[:2] == ["位置", "输入"] and "是否改变" in columns
    assert not any(c.isascii() and c.isalpha() for column in columns for c in column), columns
