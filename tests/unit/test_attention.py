"""attention(): the equation's steps, against PyTorch's own scaled_dot_product_attention."""
import math

import torch

from model.attention import attention, attention_stages, causal_mask, padding_mask


def random_qkv(seed=0, heads=3, nq=5, nk=7, d=8):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(2, heads, nq, d, generator=g), torch.randn(2, heads, nk, d, generator=g),
            torch.randn(2, heads, nk, d, generator=g))


def test_matches_sdpa_without_mask():
    q, k, v = random_qkv()
    context, weights = attention(q, k, v)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_matches_sdpa_with_causal_and_padding_mask():
    q, k, v = random_qkv(nq=6, nk=6)
    ids = torch.tensor([[5, 6, 7, 8, 9, 4], [5, 6, 7, 0, 0, 0]])
    allowed = padding_mask(ids, pad_id=0) & causal_mask(6)            # [batch, q, k]
    context, weights = attention(q, k, v, allowed[:, None])
    # SDPA gives NaN for fully masked rows (padding queries); compare the real rows.
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
    real = allowed.any(-1)                                              # [batch, q]
    torch.testing.assert_close(context[real[:, None].expand(-1, 3, -1)],
                               expected[real[:, None].expand(-1, 3, -1)], atol=1e-5, rtol=1e-5)
    assert torch.all(weights[~allowed[:, None].expand(-1, 3, -1, -1)] == 0)


def test_matches_sdpa_with_scale_and_bias():
    q, k, v = random_qkv(seed=1)
    bias = torch.randn(1, 3, 5, 7)
    context, _ = attention(q, k, v, scale=1.0, bias=bias)
    expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-5)


def test_fully_masked_row_is_zero_not_nan():
    q, k, v = random_qkv()
    allowed = torch.ones(5, 7, dtype=torch.bool)
    allowed[2] = False
    stages = attention_stages(q, k, v, allowed)
    assert not torch.isnan(stages.weights).any() and not torch.isnan(stages.context).any()
    assert torch.all(stages.weights[..., 2, :] == 0) and torch.all(stages.context[..., 2, :] == 0)
    torch.testing.assert_close(stages.weights[..., [0, 1, 3, 4], :].sum(-1), torch.ones(2, 3, 4))


def test_stages_are_the_equation():
    q, k, v = random_qkv(d=16)
    allowed = causal_mask(7)[:5]
    s = attention_stages(q, k, v, allowed)
    torch.testing.assert_close(s.scores, q @ k.transpose(-2, -1))
    torch.testing.assert_close(s.scaled, s.scores / math.sqrt(16))
    assert s.biased is s.scaled   # no bias: the biased stage is the scaled one
    assert torch.isinf(s.masked[..., 0, 1:]).all() and torch.equal(s.masked[..., 0, 0], s.scaled[..., 0, 0])
    torch.testing.assert_close(s.context, s.weights @ v)


def test_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]
    ids = torch.tensor([[3, 4, 0]])
    # Keys only: padding queries are masked by the recorder, for every backend (tests/unit/test_models.py).
    assert padding_mask(ids, 0)[0].tolist() == [[True, True, False], [True, True, False], [True, True, False]]
    cross = padding_mask(torch.tensor([[3, 0]]), 0, n_queries=3)
    assert cross.shape == (1, 3, 2) and cross[0].tolist() == [[True, False], [True, False], [True, False]]


def test_the_stages_are_named_as_in_the_equation():
    """scores -> scaled (·scale) -> biased (+ bias) -> masked (-inf) -> weights -> context."""
    q, k, v = random_qkv(d=8)
    bias = torch.randn(1, 3, 5, 7)
    allowed = torch.ones(5, 7, dtype=torch.bool).tril()
    s = attention_stages(q, k, v, allowed, scale=0.5, bias=bias)
    assert s._fields == ("scores", "scaled", "biased", "masked", "weights", "context")
    torch.testing.assert_close(s.scaled, s.scores * 0.5)
    torch.testing.assert_close(s.biased, s.scaled + bias)
    torch.testing.assert_close(s.masked[..., allowed], s.biased[..., allowed])
    assert torch.isinf(s.masked[..., ~allowed]).all()
