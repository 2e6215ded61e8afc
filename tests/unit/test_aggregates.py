"""analysis/: rollout, entropy and distance on hand-made records whose answers are known, and on
real traces, padded or with special tokens hidden."""
import subprocess
import sys

import numpy as np
import pytest

from model.trace import AttentionRecord
import model
from analysis import (head_entropy, kept_positions, mean_attention_distance, mean_over_heads, per_head_grid,
                      real_queries, restrict, rollout)


def record(weights, kind="encoder", layer=0, allowed=None):
    weights = np.asarray(weights, dtype=np.float32)
    h, nq, nk = weights.shape
    zeros = np.zeros((h, nk, 2), np.float32)
    return AttentionRecord(kind=kind, layer=layer, query_tokens=list("abcdefgh"[:nq]), key_tokens=list("abcdefgh"[:nk]),
                           q=np.zeros((h, nq, 2), np.float32), k=zeros, v=zeros,
                           scores=np.zeros_like(weights), scale=1.0, bias=None,
                           allowed=np.ones((nq, nk), bool) if allowed is None else allowed,
                           weights=weights, context=np.zeros((h, nq, 2), np.float32))


def test_uniform_heads_have_maximal_entropy_and_identity_has_none():
    uniform = np.full((1, 4, 4), 0.25)
    identity = np.eye(4)[None]
    r = record(np.concatenate([uniform, identity]))
    np.testing.assert_allclose(head_entropy(r), [2.0, 0.0], atol=1e-6)      # log2(4) bits
    np.testing.assert_allclose(mean_attention_distance(r), [np.mean([1.5, 1, 1, 1.5]), 0.0], atol=1e-6)


def test_previous_token_head_has_distance_one():
    prev = np.eye(4, k=-1)
    prev[0, 0] = 1
    r = record(prev[None], kind="decoder", allowed=np.tril(np.ones((4, 4), bool)))
    assert mean_attention_distance(r)[0] == pytest.approx(0.75)
    assert np.isnan(mean_attention_distance(record(prev[None], kind="cross"))[0])


def test_masked_query_rows_are_left_out():
    w = np.full((1, 3, 3), 1 / 2)
    w[:, :, 2] = 0
    w[:, 2, :] = 0
    allowed = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 0]], bool)
    assert head_entropy(record(w, allowed=allowed))[0] == pytest.approx(1.0)


def test_rollout_of_identity_layers_is_identity_and_rows_sum_to_one():
    eye = record(np.eye(3)[None].repeat(2, 0))
    np.testing.assert_allclose(rollout([eye, eye]), np.eye(3), atol=1e-6)
    rng = np.random.default_rng(0)
    layers = []
    for layer in range(3):
        w = rng.random((2, 5, 5))
        layers.append(record(w / w.sum(-1, keepdims=True), layer=layer))
    r = rollout(layers)
    np.testing.assert_allclose(r.sum(-1), np.ones(5), atol=1e-5)
    # Two layers by hand: (0.5 A2 + 0.5 I)(0.5 A1 + 0.5 I).
    a1 = 0.5 * mean_over_heads(layers[0]) + 0.5 * np.eye(5)
    a2 = 0.5 * mean_over_heads(layers[1]) + 0.5 * np.eye(5)
    np.testing.assert_allclose(rollout(layers[:2]), a2 @ a1, atol=1e-5)


def test_rollout_refuses_cross_attention():
    with pytest.raises(ValueError, match="cross"):
        rollout([record(np.eye(3)[None], kind="cross")])


def test_per_head_grid_shape():
    layers = [record(np.eye(3)[None].repeat(4, 0), layer=l) for l in (1, 0)]
    assert per_head_grid(layers, head_entropy).shape == (2, 4)


# ---- padding queries are no queries -------------------------------------------------------------

def test_a_zero_padding_row_enters_neither_entropy_nor_distance():
    """The same 3 real rows, once alone and once with a padding query (no allowed key, all zeros)
    and a padding key (never attended): the means are over the real rows only."""
    rng = np.random.default_rng(4)
    w = rng.random((2, 3, 3))
    w /= w.sum(-1, keepdims=True)
    real = record(w)
    padded_w = np.zeros((2, 4, 4))
    padded_w[:, :3, :3] = w
    allowed = np.zeros((4, 4), bool)
    allowed[:3, :3] = True
    padded = record(padded_w, allowed=allowed)
    assert list(real_queries(padded)) == [True, True, True, False]
    np.testing.assert_allclose(head_entropy(padded), head_entropy(real), atol=1e-6)
    np.testing.assert_allclose(mean_attention_distance(padded), mean_attention_distance(real), atol=1e-6)
    # Counting the zero row (entropy 0) would pull the mean down by a quarter.
    assert head_entropy(padded)[0] > 1.2 * head_entropy(real)[0] * 3 / 4
    # Nothing real at all: zeros, not NaN.
    empty = record(np.zeros((2, 2, 2)), allowed=np.zeros((2, 2), bool))
    assert np.array_equal(head_entropy(empty), [0, 0]) and np.array_equal(mean_attention_distance(empty), [0, 0])


@pytest.mark.parametrize("name,text", [("toy-bert", "the cat sat"), ("toy-gpt", "the cat sat"),
                                       ("toy-seq2seq", "reverse: cat"), ("minilm", "The cat sat.")])
def test_padded_and_unpadded_traces_give_the_same_grids(name, text):
    """Padding (as in a batch) adds masked keys and fully masked queries: no measure may change.
    (minilm, layer 0 head 0, while Hugging Face padding queries still attended: 1.855 bits padded
    against 2.039 unpadded.)"""
    if name not in model.available():
        pytest.skip(f"{name} is not installed")
    network = model.load(name)
    plain, padded = network.trace(text), network.trace(text, pad_to=16)
    assert padded.records[0].weights.shape[-1] > plain.records[0].weights.shape[-1], "the trace was not padded"
    for kind in plain.kinds():
        for measure in (head_entropy, mean_attention_distance):
            np.testing.assert_allclose(per_head_grid(padded.records_of(kind), measure),
                                       per_head_grid(plain.records_of(kind), measure), atol=1e-5,
                                       err_msg=f"{name} {kind} {measure.__name__}")
        if kind != "cross":
            # The rollout of the real positions does not read the padding either.
            n = plain.records_of(kind)[0].weights.shape[-1]
            np.testing.assert_allclose(restrict(rollout(padded.records_of(kind)), np.arange(n)),
                                       rollout(plain.records_of(kind)), atol=1e-5)


# ---- rollout over the full sequence, then the positions shown ------------------------------------

def test_kept_positions_and_restrict():
    assert list(kept_positions([True, False, False, True], 4)) == [1, 2]
    assert list(kept_positions([True], 3)) == [1, 2]                   # past the flags: kept
    m = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(restrict(m, [1, 3]), [[5, 7], [13, 15]])
    np.testing.assert_array_equal(restrict(m, [0], [2, 3]), [[2, 3]])


def test_rollout_with_special_tokens_hidden_is_the_full_rollout_restricted():
    """The hidden-token view's rollout is the real run's rollout, rows and columns dropped; the
    rollout of renormalised, filtered weights is another matrix (what the page showed before)."""
    from model.special import without_special
    network = model.load("toy-gpt")
    full = network.trace("the cat sat on the mat.")
    assert any(full.decoder_special)
    hidden = without_special(full)
    matrix = rollout(full.records_of("decoder"))
    kept = kept_positions(full.decoder_special, matrix.shape[0])
    shown = restrict(matrix, kept)
    assert shown.shape == (len(hidden.decoder_tokens),) * 2
    np.testing.assert_array_equal(shown, matrix[kept][:, kept])
    assert np.all(shown.sum(-1) <= 1 + 1e-6) and shown.sum(-1).min() < 0.99   # <bos> took a share
    assert not np.allclose(shown, rollout(hidden.records_of("decoder")), atol=1e-3)


def test_analysis_imports_no_streamlit_plotly_or_torch():
    code = ("import sys, analysis; bad = {'streamlit', 'plotly', 'torch'} & set(sys.modules); "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
