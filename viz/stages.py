"""The named stages of one attention call: scores -> scaled -> logits (masked) -> weights."""
from __future__ import annotations

from typing import Union

import numpy as np

STAGES = ("scores", "scaled", "bias", "mask", "logits", "weights")
STAGE_TITLES = {
    "scores": "raw scores q·k",
    "scaled": "scaled scores q·k·scale",
    "bias": "scaled scores + position bias",
    "mask": "mask (1 = may attend; hatched = masked)",
    "logits": "softmax input (scaled + bias, masked)",
    "weights": "softmax weights α",
}
# Stages whose values are probabilities or 0/1 flags: a fixed 0..1 range, a sequential scale.
UNIT_STAGES = ("mask", "weights")

Head = Union[int, str]   # a head index, or "mean" (the average over heads)


def stage_values(record, stage: str) -> np.ndarray:
    """[head, q_pos, k_pos] float32: the record's values at one stage of softmax(QKᵀ·scale + bias)."""
    if stage == "scores":
        values = record.scores
    elif stage == "scaled":
        values = record.scores * np.float32(record.scale)
    elif stage == "bias":
        values = record.scores * np.float32(record.scale)
        if record.bias is not None:
            values = values + record.bias
    elif stage == "mask":
        # The allowed pattern itself; head_matrix hatches the masked cells like every stage.
        values = np.broadcast_to(record.allowed[None].astype(np.float32), record.weights.shape)
    elif stage == "logits":
        values = record.logits()
    elif stage == "weights":
        values = record.weights
    else:
        raise ValueError(f"unknown stage {stage!r}; choose one of {STAGES}")
    return np.asarray(values, dtype=np.float32)


def head_matrix(record, head: Head, stage: str = "weights") -> np.ndarray:
    """[q_pos, k_pos] float32 of one head (or the mean over heads), NaN where not allowed."""
    values = stage_values(record, stage)
    if head == "mean":
        # Masked logits are -inf in every head; mask first so the mean stays finite.
        values = np.where(record.allowed[None], values, np.float32(0)).mean(axis=0)
    else:
        if not 0 <= int(head) < values.shape[0]:
            raise IndexError(f"head {head} out of range: this record has {values.shape[0]} heads")
        values = values[int(head)]
    return np.where(record.allowed, values, np.float32(np.nan)).astype(np.float32)


def head_name(head: Head) -> str:
    return "mean over heads" if head == "mean" else f"head {int(head)}"
