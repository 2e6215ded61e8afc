"""Pooling a long matrix into blocks, for pictures that show more cells than they have pixels
(numpy only: the attention canvas's overview tiles and the plotly overview both use it).

Pooling keeps what a glance should find: the strongest weight in a block (a sharp head stays
sharp); stages with signed values (scores ... masked) are averaged instead.
"""
from __future__ import annotations

import math

import numpy as np

def pool_factor(n_rows: int, n_cols: int, most: int) -> int:
    """Cells per pooled block a side so that at most `most` blocks fit a side (1: no pooling)."""
    return max(1, math.ceil(max(n_rows, n_cols) / most))


def _reduce_blocks(array: np.ndarray, factor: int, ufunc) -> np.ndarray:
    """[head, R·f, C·f] -> [head, R, C]: ufunc over each f x f block. Rows first, then columns:
    each step reduces a contiguous axis (~5x faster than both axes at once at 512 tokens)."""
    heads, n_q, n_k = array.shape
    rows = ufunc.reduce(array.reshape(heads, n_q // factor, factor, n_k), axis=2)          # [head, R, C·f]
    return ufunc.reduce(rows.reshape(heads, n_q // factor, n_k // factor, factor), axis=3)  # [head, R, C]


def pool(values: np.ndarray, allowed: np.ndarray, factor: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """([head, q/f, k/f] pooled values, [head, q/f, k/f] allowed) over factor x factor blocks,
    counting only allowed cells; a block with none allowed stays masked (NaN)."""
    allowed = np.ascontiguousarray(np.broadcast_to(allowed, values.shape))
    if factor == 1:
        return values, allowed
    heads, n_q, n_k = values.shape
    rows, cols = -(-n_q // factor), -(-n_k // factor)

    def padded(array, fill):
        out = np.full((heads, rows * factor, cols * factor), fill, dtype=array.dtype)
        out[:, :n_q, :n_k] = array
        return out

    ok = padded(allowed, False)                                   # [head, R·f, C·f]
    v = padded(values.astype(np.float32), 0)
    any_ok = _reduce_blocks(ok, factor, np.logical_or)            # [head, R, C]
    everywhere = bool(ok.all())       # no mask, no padding: skip a 75 MB np.where at 512 tokens
    if how == "max":
        pooled = _reduce_blocks(v if everywhere else np.where(ok, v, -np.inf), factor, np.maximum)
    else:
        total = _reduce_blocks(v if everywhere else np.where(ok, v, 0), factor, np.add)
        pooled = total / np.maximum(_reduce_blocks(ok.astype(np.float32), factor, np.add), 1)
    return np.where(any_ok, pooled, np.nan).astype(np.float32), any_ok
