"""Rollout, entropy and distance on hand-made records whose answers are known."""
import numpy as np
import pytest

from model.trace import AttentionRecord
from viz.aggregates import head_entropy, mean_attention_distance, mean_over_heads, per_head_grid, rollout


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
