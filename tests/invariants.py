"""The docs/ARCHITECTURE.md invariant of an AttentionRecord, shared by every test that checks records."""
import numpy as np


def softmax_masked(logits: np.ndarray) -> np.ndarray:
    """Row softmax in float64 where -inf marks masked cells; an all-masked row gives zeros."""
    logits = logits.astype(np.float64)
    top = np.max(logits, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    e = np.exp(logits - top)
    total = e.sum(-1, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)


def assert_record_invariants(record, atol=1e-5):
    """softmax(scores·scale + bias, masked) == weights; rows sum to 1 (0 when fully masked);
    context == weights @ v; float32 arrays of consistent shapes, no NaN."""
    h, nq, nk = record.weights.shape
    assert record.kind in ("encoder", "decoder", "cross")
    assert record.scores.shape == (h, nq, nk) and record.allowed.shape == (nq, nk)
    assert record.q.shape[:2] == (h, nq) and record.k.shape[:2] == (h, nk) and record.v.shape[:2] == (h, nk)
    assert len(record.query_tokens) == nq and len(record.key_tokens) == nk
    for name in ("q", "k", "v", "scores", "weights", "context"):
        array = getattr(record, name)
        assert array.dtype == np.float32, name
        assert not np.isnan(array).any(), name
    assert record.allowed.dtype == bool
    np.testing.assert_allclose(record.scores, record.q @ np.swapaxes(record.k, -1, -2), atol=1e-4, rtol=1e-4)
    logits = record.scores.astype(np.float64) * record.scale
    if record.bias is not None:
        logits = logits + record.bias
    logits = np.where(record.allowed[None], logits, -np.inf)
    np.testing.assert_allclose(record.weights, softmax_masked(logits), atol=atol)
    sums = record.weights.sum(-1)                                     # [head, q]
    expected = np.broadcast_to(record.allowed.any(-1)[None].astype(np.float64), sums.shape)
    np.testing.assert_allclose(sums, expected, atol=atol)
    assert np.all(record.weights[:, ~record.allowed] == 0)
    np.testing.assert_allclose(record.context, record.weights @ record.v, atol=atol, rtol=1e-4)
    if record.kind == "decoder":
        assert not np.any(np.triu(record.allowed, 1)), "a decoder query sees the future"


def hand_record(kind="encoder", layer=0, n_heads=2, query_tokens=("a", "b", "c"), key_tokens=None,
                causal=False, seed=0, d_head=4, bias=False, pad_rows=()):
    """An AttentionRecord computed by hand in numpy (no model): softmax(q·k/√d_head + bias,
    masked) @ v, so it keeps the invariant above by construction. pad_rows: query rows that may
    attend to nothing (padding queries), whose weights are all zero."""
    from model.trace import AttentionRecord
    key_tokens = list(query_tokens if key_tokens is None else key_tokens)
    nq, nk = len(query_tokens), len(key_tokens)
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((n_heads, nq, d_head)).astype(np.float32)
    k = rng.standard_normal((n_heads, nk, d_head)).astype(np.float32)
    v = rng.standard_normal((n_heads, nk, d_head)).astype(np.float32)
    scores = (q @ k.transpose(0, 2, 1)).astype(np.float32)                 # [head, q, k]
    scale = 1 / np.sqrt(d_head)
    b = rng.standard_normal((n_heads, nq, nk)).astype(np.float32) if bias else None
    allowed = np.tril(np.ones((nq, nk), bool)) if causal else np.ones((nq, nk), bool)
    for row in pad_rows:
        allowed[row] = False
    logits = np.where(allowed, scores * scale + (0 if b is None else b), -np.inf)
    weights = softmax_masked(logits).astype(np.float32)
    return AttentionRecord(kind=kind, layer=layer, query_tokens=list(query_tokens), key_tokens=key_tokens,
                           q=q, k=k, v=v, scores=scores, scale=float(scale), bias=b, allowed=allowed,
                           weights=weights, context=(weights @ v).astype(np.float32))
