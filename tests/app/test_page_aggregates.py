"""Aggregates page and viz/aggregate_figures.py: mean over heads, rollout, entropy and distance maps
(the measures themselves: analysis/, tests/unit/test_aggregates.py)."""
import json
import math

import numpy as np
import pytest

import app
import model
from analysis import (head_entropy, kept_positions, mean_attention_distance, mean_over_heads, per_head_grid,
                      restrict, rollout)
from model.trace import AttentionRecord
from viz import aggregate_figures as figures
from tests.apptest import (array, assert_canvas_is_record, assert_clean, canvas, canvas_values, charts,
                           overview_values, spec, start)
from viz.canvas import matrices_payload, unpack

KINDS = {"encoder-decoder": ["encoder", "decoder", "cross"], "decoder-only": ["decoder"],
         "encoder-only": ["encoder"]}


# ---- helpers ----------------------------------------------------------------------------------

def own_trace(name):
    """The trace the app draws, computed here directly from the model."""
    network = model.load(name)
    new = app.NEW_TOKENS if network.architecture == "decoder-only" else 0
    return network, network.trace(app.DEFAULT_TEXTS[name], max_new_tokens=new)


def record(weights, kind="encoder", layer=0, allowed=None, tokens="abcdefgh"):
    weights = np.asarray(weights, dtype=np.float32)
    h, nq, nk = weights.shape
    zeros = np.zeros((h, nk, 2), np.float32)
    return AttentionRecord(kind=kind, layer=layer, query_tokens=list(tokens[:nq]), key_tokens=list(tokens[:nk]),
                           q=np.zeros((h, nq, 2), np.float32), k=zeros, v=zeros,
                           scores=np.zeros_like(weights), scale=1.0, bias=None,
                           allowed=np.ones((nq, nk), bool) if allowed is None else allowed,
                           weights=weights, context=np.zeros((h, nq, 2), np.float32))


def random_records(n_layers=2, n_heads=3, n=5, kind="encoder", causal=False, seed=0):
    rng = np.random.default_rng(seed)
    allowed = np.tril(np.ones((n, n), bool)) if causal else np.ones((n, n), bool)
    out = []
    for layer in range(n_layers):
        w = rng.random((n_heads, n, n)) * allowed
        out.append(record(w / w.sum(-1, keepdims=True), kind=kind, layer=layer, allowed=allowed))
    return out


# ---- viz/aggregate_figures.py -----------------------------------------------------------------

def test_the_matrices_payload_holds_every_matrix_exactly_and_its_tiles():
    """viz.canvas.matrices_payload: ready-made matrices (means over heads, rollout) travel as
    float32, NaN where masked, with their names and what a cell holds; the overview's tiles are
    their uint8 codes; tokens stay as typed (the browser sets them as text)."""
    records = random_records(n_layers=3, causal=True, kind="decoder")
    means = [figures.masked_mean(r) for r in records]
    matrix = rollout(records)
    tokens = ["<script>", "b", "c", "d", "e"]
    header, arrays = unpack(matrices_payload([*means, matrix], ["m0", "m1", "m2", "rollout"], tokens, "decoder",
                                             chosen=3, values=["mean α"] * 3 + ["rollout"], title="T"))
    assert (header["mode"], header["head"], header["heads"], header["names"][-1]) == ("matrices", 3, 4, "rollout")
    assert header["query_tokens"] == tokens and header["values"][-1] == "rollout"
    assert header["head_in_view"] is False and header["stage_in_view"] is False   # not Explore's head or stage
    for mine, sent in zip([*means, matrix], arrays["m"]):
        np.testing.assert_array_equal(sent, np.asarray(mine, np.float32))
    # a cell is drawn where some matrix has a value (the rollout has one everywhere: zeros above the diagonal)
    np.testing.assert_array_equal(arrays["allowed"].astype(bool), np.isfinite(arrays["m"]).any(axis=0))
    assert np.isnan(arrays["m"][0][~records[0].allowed]).all() and np.isfinite(arrays["m"][-1]).all()
    tiles = overview_values(header, arrays)[0]
    np.testing.assert_allclose(np.nan_to_num(tiles), np.nan_to_num(arrays["m"]), atol=header["overview"]["ranges"]["weights"][1] / 254)
    assert np.array_equal(np.isnan(tiles), np.isnan(arrays["m"]))


def test_head_grids_hold_entropy_and_distance_and_mark_missing_values():
    records = random_records(n_layers=2, n_heads=3, n=4, seed=3)
    fig = spec(figures.entropy_figure(records))
    grid = per_head_grid(records, head_entropy)
    np.testing.assert_array_equal(array(fig["data"][0]["z"]), grid)
    assert fig["data"][0]["text"][1][2] == f"{grid[1, 2]:.2f}"
    assert fig["data"][0]["zmax"] == pytest.approx(math.log2(4))   # a uniform head over 4 keys
    assert fig["layout"]["xaxis"]["ticktext"] == ["head 0", "head 1", "head 2"]
    assert fig["layout"]["yaxis"]["ticktext"] == ["layer 0", "layer 1"]
    assert fig["layout"]["yaxis"]["range"][0] > fig["layout"]["yaxis"]["range"][1]
    assert not fig["layout"].get("annotations")
    cross = [record(r.weights, kind="cross", layer=r.layer) for r in records]
    fig = spec(figures.distance_figure(cross))
    assert np.isnan(array(fig["data"][0]["z"])).all()
    assert [a["text"] for a in fig["layout"]["annotations"]] == ["n/a"] * 6
    np.testing.assert_array_equal(array(spec(figures.distance_figure(records))["data"][0]["z"]),
                                  per_head_grid(records, mean_attention_distance))


# ---- the page ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", model.available())
def test_every_kind_of_every_model_draws_the_right_numbers(name):
    network, trace = own_trace(name)
    for kind in KINDS[network.architecture]:
        at = start(page="aggregates", model=name, kind=kind)
        assert_clean(at)
        records = trace.records_of(kind)
        figs = charts(at)
        header, arrays = canvas(at, "aggregates.canvas")        # every layer's mean, then the rollout
        means = arrays["m"][:network.n_layers]
        for r, z in zip(records, means):
            assert z.shape == r.weights.shape[1:]
            np.testing.assert_allclose(z[r.allowed], mean_over_heads(r)[r.allowed], atol=1e-6)
            assert np.isnan(z[~r.allowed]).all()
        assert header["query_tokens"] == records[0].query_tokens and header["key_tokens"] == records[0].key_tokens
        if kind == "cross":
            assert header["heads"] == network.n_layers, "no rollout for cross-attention"
            assert header["head"] == network.n_layers - 1             # it opens on the last layer's mean
            assert any("self-attention only" in info.value for info in at.info)
        else:
            assert header["heads"] == network.n_layers + 1 and header["names"][-1] == "rollout"
            assert header["head"] == network.n_layers                  # it opens on the rollout
            np.testing.assert_allclose(arrays["m"][-1], rollout(records), atol=1e-6)
        assert list(figs) == ["aggregates.entropy", "aggregates.distance"]
        entropy, distance = figs["aggregates.entropy"], figs["aggregates.distance"]
        np.testing.assert_allclose(array(entropy["data"][0]["z"]), per_head_grid(records, head_entropy), atol=1e-5)
        dist = array(distance["data"][0]["z"])
        if kind == "cross":
            assert np.isnan(dist).all()
            assert len(distance["layout"]["annotations"]) == network.n_layers * network.n_heads
        else:
            np.testing.assert_allclose(dist, per_head_grid(records, mean_attention_distance), atol=1e-4)


def test_open_in_explore_jumps_to_the_chosen_head():
    network, trace = own_trace("toy-seq2seq")
    at = start(page="aggregates", model="toy-seq2seq", kind="decoder")
    picker = at.selectbox(key="aggregates.pick.decoder")
    entropy = per_head_grid(trace.records_of("decoder"), head_entropy)
    # The options are sorted by entropy: the first is the most focused head.
    assert picker.options[0].startswith("layer {} · head {}".format(*np.unravel_index(entropy.argmin(), entropy.shape)))
    picker.set_value((2, 1)).run()
    at.button(key="aggregates.open").click().run()
    assert_clean(at)
    params = {k: at.query_params[k] for k in at.query_params}
    flat = {k: v[0] if isinstance(v, list) else v for k, v in params.items()}
    # The page is the URL's path now (ui/registry.py), no longer a query parameter.
    assert at.session_state["view"].page == "explore"
    assert (flat["kind"], flat["layer"], flat["head"]) == ("decoder", "2", "1")
    header, arrays = canvas(at, "explore.canvas")        # Explore's canvas opens on that head
    assert (header["kind"], header["layer"], header["head"]) == ("decoder", 2, 1)
    r = trace.get("decoder", 2)
    assert_canvas_is_record(header, arrays, r)            # the layer's own numbers, from which it paints
    # and the weights it paints, derived from them, are the model's
    np.testing.assert_allclose(canvas_values(header, arrays)[r.allowed], r.weights[1][r.allowed], atol=1e-6)


@pytest.mark.parametrize("name,kind", [("toy-gpt", "decoder"), ("minilm", "encoder")])
def test_hidden_special_tokens_show_the_full_rollout_restricted(name, kind):
    """With special tokens hidden, the rollout drawn is the real run's (over every position),
    its hidden rows and columns dropped, and the caption says so."""
    if name not in model.available():
        pytest.skip(f"{name} is not installed")
    network, full = own_trace(name)
    flags = full.encoder_special if kind == "encoder" else full.decoder_special
    assert any(flags)
    at = start(page="aggregates", model=name, kind=kind, hide_special=1)
    assert_clean(at)
    matrix = rollout(full.records_of(kind))
    kept = kept_positions(flags, matrix.shape[0])
    shown = restrict(matrix, kept)
    header, arrays = canvas(at, "aggregates.canvas")
    np.testing.assert_allclose(arrays["m"][-1], shown, atol=1e-6)
    tokens = [full.records_of(kind)[0].query_tokens[i] for i in kept]
    assert header["query_tokens"] == tokens and header["names"][-1] == "rollout"
    said = " ".join(c.value for c in at.caption)
    assert f"({matrix.shape[0]} positions, special tokens included), then restricted to the {len(kept)} tokens" in said
    # Nothing hidden: the caption names every position.
    at = start(page="aggregates", model=name, kind=kind)
    assert f"Computed over all {matrix.shape[0]} positions" in " ".join(c.value for c in at.caption)


def test_chinese_interface():
    at = start(page="aggregates", model="toy-bert", lang="zh")
    assert_clean(at)
    assert any("注意力展开" in md.value for md in at.markdown)
    assert any("在序列的全部" in c.value for c in at.caption)


def test_typed_markup_stays_text():
    at = start(page="aggregates", model="toy-bert", text="<b>x</b>")
    assert_clean(at)
    figs = charts(at)
    header, _ = canvas(at, "aggregates.canvas")         # the canvas sets tokens as text: sent as typed
    assert header["query_tokens"][:3] == ["<", "b", ">"]
    assert "<b>" not in json.dumps([f["layout"] for f in figs.values()])
