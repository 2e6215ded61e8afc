"""The source text's worked example: 4 tokens, each a 4-dimensional vector, down to z_1.

It runs through the same attention_stages() as every model, so the numbers a lecturer shows
are the numbers the models compute. With n_heads > 1 it is multi-head attention as the models
do it: Q, K, V split into heads along their columns, attention per head, the heads' outputs
concatenated and multiplied by W^O.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .attention import attention_stages, causal_mask

N_TOKENS, D_MODEL = 4, 4
# The order in which a seed draws its matrices. W_O comes last, so adding it left the seed's
# X, W^Q, W^K and W^V as they were.
MATRICES = ("X", "W_Q", "W_K", "W_V", "W_O")
# The stages of model.trace.STAGES that the example has (it adds no position bias, so no
# "biased"); its display names stay the text's: α for the weights, z for the context.
STAGES = ("scores", "scaled", "masked", "weights", "context")


def seed_matrices(seed: int = 0) -> dict[str, np.ndarray]:
    """X, W^Q, W^K, W^V, W^O (each 4×4) drawn from `seed`, rounded to one decimal so they can be
    read and typed."""
    rng = np.random.default_rng(seed)
    return {name: np.round(rng.uniform(-1.0, 1.0, size=(N_TOKENS if name == "X" else D_MODEL, D_MODEL)), 1)
            .astype(np.float32) for name in MATRICES}


def _matrix(value, name: str) -> np.ndarray:
    matrix = np.asarray(value, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"{name}: expected a matrix, got shape {matrix.shape}")
    return matrix


def _stages(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> dict[str, np.ndarray]:
    """softmax(q kᵀ / √d_k, masked) v through model.attention, each stage as float32 numpy."""
    allowed = causal_mask(q.shape[-2]) if causal else None
    stages = attention_stages(torch.from_numpy(q), torch.from_numpy(k), torch.from_numpy(v),
                              allowed=allowed, scale=1.0 / np.sqrt(q.shape[-1]))
    return {
        "scores": stages.scores.numpy(),      # Q Kᵀ
        "scaled": stages.scaled.numpy(),      # Q Kᵀ / √d_k
        "masked": stages.masked.numpy(),      # -inf above the diagonal when causal
        "weights": stages.weights.numpy(),    # α: softmax per row
        "context": stages.context.numpy(),    # Z = α V; context[0] is the text's z_1
    }


def worked_example(seed: int = 0, X: Optional[np.ndarray] = None, W_Q: Optional[np.ndarray] = None,
                   W_K: Optional[np.ndarray] = None, W_V: Optional[np.ndarray] = None,
                   causal: bool = False, n_heads: int = 1, W_O: Optional[np.ndarray] = None) -> dict:
    """Q = X W^Q, K = X W^K, V = X W^V; α = softmax(Q Kᵀ / √d_k); Z = α V; with n_heads > 1,
    head_h = softmax(Q_h K_hᵀ / √d_k) V_h and output = Concat(head_1..head_h) W^O.

    Missing matrices are the seed's (seed_matrices). Single head: the STAGES are top-level keys
    ("weights" is the text's α, "context" its Z), and "heads" holds the same dict once. Several
    heads: "heads" holds one such dict per head (with its "Q", "K", "V" slices), plus "concat",
    "W_O" and "output"; "d_k" is then the per-head width d_model / n_heads.
    """
    drawn = seed_matrices(seed)
    given = {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "W_O": W_O}
    m = {name: drawn[name] if given[name] is None else _matrix(given[name], name) for name in MATRICES}
    X, W_Q, W_K, W_V = m["X"], m["W_Q"], m["W_K"], m["W_V"]
    if not (W_Q.shape[0] == W_K.shape[0] == W_V.shape[0] == X.shape[1]) or W_Q.shape[1] != W_K.shape[1]:
        raise ValueError(f"shapes do not fit: X {X.shape}, W_Q {W_Q.shape}, W_K {W_K.shape}, W_V {W_V.shape}")
    n_heads = int(n_heads)
    if n_heads < 1 or W_Q.shape[1] % n_heads or W_V.shape[1] % n_heads:
        raise ValueError(f"{n_heads} heads do not divide the widths of W_Q {W_Q.shape} and W_V {W_V.shape}")
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V                                   # [token, d_model]
    result = {"X": X, "W_Q": W_Q, "W_K": W_K, "W_V": W_V, "Q": Q, "K": K, "V": V,
              "causal": bool(causal), "n_heads": n_heads}
    if n_heads == 1:
        stages = _stages(Q, K, V, causal)
        return {**result, "d_k": Q.shape[1], **stages, "heads": [{"Q": Q, "K": K, "V": V, **stages}]}

    W_O = m["W_O"]
    if W_O.shape[0] != V.shape[1]:
        raise ValueError(f"shapes do not fit: W_O {W_O.shape} after {n_heads} heads of total width {V.shape[1]}")

    def split(M):   # [token, n_heads·d] -> [head, token, d]: head h owns columns h·d .. (h+1)·d - 1
        return np.ascontiguousarray(M.reshape(M.shape[0], n_heads, -1).transpose(1, 0, 2))

    q, k, v = split(Q), split(K), split(V)                                # [head, token, d_k]
    stages = _stages(q, k, v, causal)                                     # one call, every head
    heads = [{"Q": q[h], "K": k[h], "V": v[h], **{name: stages[name][h] for name in STAGES}}
             for h in range(n_heads)]
    concat = np.concatenate([head["context"] for head in heads], axis=1)        # [token, n_heads·d_v]
    return {**result, "d_k": q.shape[-1], "heads": heads, "concat": concat, "W_O": W_O,
            "output": (concat @ W_O).astype(np.float32)}                  # [token, d_model]
