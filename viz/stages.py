"""The views of one head's [q_pos, k_pos] matrix, named with the one stage vocabulary
(model.trace.STAGES): scores -> scaled -> biased -> masked -> weights, plus the mask pattern."""
from __future__ import annotations

from typing import Union

import numpy as np

from .text import EN, Translator, english

# Every stage that is a [q, k] matrix (context is [q, d_head]: not a matrix view), with the
# mask pattern (the record's `allowed`) between the biased scores and the masked ones, where
# the equation applies it (tests check the names against model.trace.STAGES). These names are the Explore radio's options and the URL's `stage=`.
MATRIX_VIEWS = ("scores", "scaled", "biased", "mask", "masked", "weights")

# The views' titles in English; every language's are in viz/text.py ("fig.stage.<view>").
STAGE_TITLES = {view: EN[f"fig.stage.{view}"] for view in MATRIX_VIEWS}

Head = Union[int, str]   # a head index, or "mean" (the average over heads)


def stage_values(record, stage: str) -> np.ndarray:
    """[head, q_pos, k_pos] float32: the record's values at one view of softmax(QKᵀ·scale + bias, masked)."""
    if stage == "scores":
        values = record.scores
    elif stage in ("scaled", "biased", "masked"):
        values = record.scores * np.float32(record.scale)
        if stage != "scaled" and record.bias is not None:
            values = values + record.bias
        if stage == "masked":
            values = np.where(record.allowed[None], values, np.float32(-np.inf))
    elif stage == "mask":
        # The allowed pattern itself; head_matrix hatches the masked cells like every view.
        values = np.broadcast_to(record.allowed[None].astype(np.float32), record.weights.shape)
    elif stage == "weights":
        values = record.weights
    else:
        raise ValueError(f"unknown stage {stage!r}; choose one of {MATRIX_VIEWS}")
    return np.asarray(values, dtype=np.float32)


def head_matrix(record, head: Head, stage: str = "weights") -> np.ndarray:
    """[q_pos, k_pos] float32 of one head (or the mean over heads), NaN where not allowed."""
    values = stage_values(record, stage)
    if head == "mean":
        # Masked values are -inf in every head; mask first so the mean stays finite.
        values = np.where(record.allowed[None], values, np.float32(0)).mean(axis=0)
    else:
        if not 0 <= int(head) < values.shape[0]:
            raise IndexError(f"head {head} out of range: this record has {values.shape[0]} heads")
        values = values[int(head)]
    return np.where(record.allowed, values, np.float32(np.nan)).astype(np.float32)


def head_name(head: Head, t: Translator = english) -> str:
    return t("fig.head.mean") if head == "mean" else t("fig.head", head=int(head))


def stage_title(stage: str, t: Translator = english) -> str:
    """The view's title in t's language ("softmax weights α")."""
    return t(f"fig.stage.{stage}")
