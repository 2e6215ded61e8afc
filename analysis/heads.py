"""Per-head summaries shared by the measures: the mean over heads, the real query rows, and a
[layer, head] grid of any per-head measure."""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np


def real_queries(record) -> np.ndarray:
    """[q_pos] bool: the query rows that may attend to at least one key. A row with no allowed
    key is a padding query (the recorder masks padding queries fully, for every backend) or a
    row whose keys were all hidden: its weights are all zero, and it is no query of the text."""
    return np.asarray(record.allowed, bool).any(axis=-1)


def mean_over_heads(record) -> np.ndarray:
    """[q_pos, k_pos] float32: mean_h α_ij over every head of the record, each cell as recorded
    (0 where masked; all-zero rows stay zero)."""
    return record.weights.mean(axis=0, dtype=np.float32)


def per_head_grid(records: Sequence, measure: Callable[..., np.ndarray]) -> np.ndarray:
    """[layer, head] of a per-head measure (head_entropy, mean_attention_distance...) over the
    records of one kind, one row per record in layer order."""
    ordered = sorted(records, key=lambda r: r.layer)
    return np.stack([measure(r) for r in ordered])
