"""Per-head mean attention distance: local heads (previous token) against long-range ones."""
from __future__ import annotations

import numpy as np

from .heads import real_queries


def mean_attention_distance(record) -> np.ndarray:
    """[head] float32, tokens: D_i = Σ_j α_ij |i - j| with i, j the record's own positions,
    averaged over the real query rows only (real_queries: padding queries are left out; padding
    keys carry no weight, so padding a sequence does not change the result). Self-attention
    only: across two sequences (cross-attention) positions are not comparable, so NaN. A record
    without a real query row gives 0 for every head."""
    h, nq, nk = record.weights.shape
    if record.kind == "cross":
        return np.full(h, np.nan, dtype=np.float32)
    rows = real_queries(record)                                            # [q]
    if not rows.any():
        return np.zeros(h, np.float32)
    distance = np.abs(np.arange(nq)[:, None] - np.arange(nk)[None, :])    # [q, k]
    per_row = (record.weights.astype(np.float64) * distance[None]).sum(axis=-1)   # [head, q]
    return per_row[:, rows].mean(axis=-1).astype(np.float32)
