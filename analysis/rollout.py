"""Attention rollout (Abnar & Zuidema, 2020), and how to show part of it without changing it."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .heads import mean_over_heads


def rollout(records: Sequence) -> np.ndarray:
    """[pos, pos] float32: R = Ã_L ··· Ã_1 with Ã_l = 0.5·mean_h(A_l) + 0.5·I, rows renormalised,
    computed over every position of the records given (self-attention of one kind, all its
    layers, as the model ran them: pass the full trace's records, never ones with tokens hidden
    and rows renormalised). Row i is how much each input position flows into position i at the
    top. A padding query (an all-zero row) becomes an identity row, and no real row reads it.

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
        a = 0.5 * mean_over_heads(record).astype(np.float64) + 0.5 * np.eye(n)   # [pos, pos]
        a /= a.sum(axis=-1, keepdims=True)
        result = a @ result
    return result.astype(np.float32)


def kept_positions(flags: Sequence[bool], n: int) -> np.ndarray:
    """[kept] int: the positions among n not flagged (e.g. Trace.encoder_special), in order;
    positions past the end of flags are kept (as model.special hides them)."""
    flags = list(flags)[:n] + [False] * max(0, n - len(flags))
    return np.flatnonzero(~np.asarray(flags, dtype=bool))


def restrict(matrix: np.ndarray, rows: Sequence[int], cols: Optional[Sequence[int]] = None) -> np.ndarray:
    """matrix[rows][:, cols] (cols defaults to rows), values unchanged: part of a rollout computed
    over the whole sequence. Rows are not renormalised, so a row sums to the share that comes
    from the kept columns (less than 1 where dropped positions contributed)."""
    rows = np.asarray(rows, dtype=np.intp)
    cols = rows if cols is None else np.asarray(cols, dtype=np.intp)
    return np.asarray(matrix)[np.ix_(rows, cols)]
