"""The source text's worked example: 4 tokens, each a 4-dimensional vector, down to z_1.

It runs through the same attention_stages() as every model, so the numbers a lecturer shows
are the numbers the models compute.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .attention import attention_stages, causal_mask

N_TOKENS, D_MODEL = 4, 4


def worked_example(seed: int = 0, X: Optional[np.ndarray] = None, W_Q: Optional[np.ndarray] = None,
                   W_K: Optional[np.ndarray] = None, W_V: Optional[np.ndarray] = None,
                   causal: bool = False) -> dict:
    """Q = X W^Q, K = X W^K, V = X W^V; α = softmax(Q Kᵀ / √d_k); Z = α V. Missing matrices are
    drawn from `seed` (values rounded to one decimal so they can be read and typed)."""
    rng = np.random.default_rng(seed)

    def given_or_random(matrix, rows, cols):
        if matrix is None:
            return np.round(rng.uniform(-1.0, 1.0, size=(rows, cols)), 1).astype(np.float32)
        matrix = np.asarray(matrix, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError(f"expected a matrix, got shape {matrix.shape}")
        return matrix

    X = given_or_random(X, N_TOKENS, D_MODEL)
    W_Q = given_or_random(W_Q, X.shape[1], D_MODEL)
    W_K = given_or_random(W_K, X.shape[1], W_Q.shape[1])
    W_V = given_or_random(W_V, X.shape[1], D_MODEL)
    if not (W_Q.shape[0] == W_K.shape[0] == W_V.shape[0] == X.shape[1]) or W_Q.shape[1] != W_K.shape[1]:
        raise ValueError(f"shapes do not fit: X {X.shape}, W_Q {W_Q.shape}, W_K {W_K.shape}, W_V {W_V.shape}")
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V                                   # [token, d_k]
    d_k = Q.shape[1]
    allowed = causal_mask(X.shape[0]) if causal else None
    stages = attention_stages(torch.from_numpy(Q), torch.from_numpy(K), torch.from_numpy(V),
                              allowed=allowed, scale=1.0 / np.sqrt(d_k))
    return {
        "X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "Q": Q, "K": K, "V": V, "d_k": d_k,
        "scores": stages.scores.numpy(),      # Q Kᵀ
        "scaled": stages.scaled.numpy(),      # Q Kᵀ / √d_k
        "masked": stages.masked.numpy(),      # -inf above the diagonal when causal
        "alpha": stages.weights.numpy(),      # softmax per row
        "z": stages.context.numpy(),          # α V; z[0] is the text's z_1
    }
