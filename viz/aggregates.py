"""Summaries over heads and layers, in numpy: mean over heads, attention rollout, and per-head
entropy and mean attention distance (to find the heads worth a look)."""
from __future__ import annotations

from typing import Sequence

import numpy as np


def mean_over_heads(record) -> np.ndarray:
    """[q_pos, k_pos]: the heads' weights averaged."""
    return record.weights.mean(axis=0, dtype=np.float32)


def rollout(records: Sequence) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020): Ã_l = 0.5·mean_h(A_l) + 0.5·I, rows renormalised,
    R = Ã_L ··· Ã_1. Row i of R is how much each input position flows into position i at the top.

    Only self-attention composes this way (queries and keys are the same positions).
    """
    if not records:
        raise ValueError("rollout needs at least one self-attention record")
    ordered = sorted(records, key=lambda r: r.layer)
    if any(r.kind == "cross" for r in ordered):
        raise ValueError("rollout composes self-attention layers; cross-attention has no residual identity")
    n = ordered[0].weights.shape[-1]
    result = np.eye(n, dtype=np.float64)
    for record in ordered:
        a = 0.5 * mean_over_heads(record).astype(np.float64) + 0.5 * np.eye(n)
        a /= a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result.astype(np.float32)


def head_entropy(record) -> np.ndarray:
    """[head]: mean over real query rows of H_i = -Σ_j α_ij log2 α_ij (bits). Low: the head
    looks at one token; high: it spreads its attention."""
    w = record.weights.astype(np.float64)                      # [head, q, k]
    rows = record.allowed.any(axis=-1)                         # queries that see something
    safe = np.where(w > 0, w, 1.0)
    entropy = -(w * np.log2(safe)).sum(axis=-1)                # [head, q]
    return entropy[:, rows].mean(axis=-1).astype(np.float32) if rows.any() else np.zeros(len(w), np.float32)


def mean_attention_distance(record) -> np.ndarray:
    """[head]: mean over real query rows of Σ_j α_ij |i - j|, in tokens. Self-attention only:
    across two sequences (cross-attention) positions are not comparable, so the result is NaN."""
    h, nq, nk = record.weights.shape
    if record.kind == "cross":
        return np.full(h, np.nan, dtype=np.float32)
    distance = np.abs(np.arange(nq)[:, None] - np.arange(nk)[None, :])   # [q, k]
    per_row = (record.weights * distance[None]).sum(axis=-1)             # [head, q]
    rows = record.allowed.any(axis=-1)
    return per_row[:, rows].mean(axis=-1).astype(np.float32) if rows.any() else np.zeros(h, np.float32)


def per_head_grid(records: Sequence, measure) -> np.ndarray:
    """[layer, head] of a per-head measure over the records of one kind."""
    ordered = sorted(records, key=lambda r: r.layer)
    return np.stack([measure(r) for r in ordered])
