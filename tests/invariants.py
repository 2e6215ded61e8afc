"""The DESIGN.md invariant of an AttentionRecord, shared by every test that checks records."""
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
