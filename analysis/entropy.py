"""Per-head attention entropy: how spread a head's attention is."""
from __future__ import annotations

import numpy as np

from .heads import real_queries


def head_entropy(record) -> np.ndarray:
    """[head] float32, bits: H_i = -Σ_j α_ij log2 α_ij over every key of row i, averaged over the
    real query rows only (real_queries: padding queries, all zeros, are left out, so padding a
    sequence does not change the result). Low: the head looks at one token; log2(n_keys): uniform.
    A record without a real query row gives 0 for every head."""
    w = record.weights.astype(np.float64)                      # [head, q, k]
    rows = real_queries(record)                                # [q]
    if not rows.any():
        return np.zeros(len(w), np.float32)
    w = w[:, rows]                                             # [head, q_real, k]
    safe = np.where(w > 0, w, 1.0)
    entropy = -(w * np.log2(safe)).sum(axis=-1)                # [head, q_real]
    return entropy.mean(axis=-1).astype(np.float32)
