"""Scaled dot-product attention, written as the steps of the equation.

    Attention(Q, K, V) = softmax(Q Kᵀ · scale + bias, masked) V,   scale = 1/√d_k

Masks are boolean "allowed" tensors (True = the query may see the key) so that padding and
causal masks combine with `&`, and a record can show them as matrices.
"""
from __future__ import annotations

import math
from typing import NamedTuple, Optional

import torch


class AttentionStages(NamedTuple):
    """Every named intermediate of one attention call; the names are the equation's steps and
    model/trace.py's STAGES, the one vocabulary of the whole app."""

    scores: torch.Tensor   # [..., q_pos, k_pos]  q·k, before scaling
    scaled: torch.Tensor   # [..., q_pos, k_pos]  scores·scale
    biased: torch.Tensor   # [..., q_pos, k_pos]  scaled + position bias (scaled itself when none)
    masked: torch.Tensor   # [..., q_pos, k_pos]  biased, -inf where not allowed: the softmax input
    weights: torch.Tensor  # [..., q_pos, k_pos]  softmax over keys; a fully masked row is 0
    context: torch.Tensor  # [..., q_pos, d_head] weights @ v


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """[n, n] allowed mask: query i may see keys j <= i (no position sees the future)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(key_ids: torch.Tensor, pad_id: int, n_queries: Optional[int] = None) -> torch.Tensor:
    """[batch, q_pos, k_pos] allowed mask: no query sees a padding key.

    Padding queries are masked by the recorder (model/recording.py), for both backends alike, so
    that the rule lives in one place; a model's own padding rows never reach a real token.
    """
    n_queries = key_ids.shape[1] if n_queries is None else n_queries
    key_ok = key_ids != pad_id                                   # [batch, k_pos]
    return key_ok[:, None, :].expand(-1, n_queries, -1)          # [batch, q_pos, k_pos]


def attention_stages(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    allowed: Optional[torch.Tensor] = None,
    scale: Optional[float] = None,
    bias: Optional[torch.Tensor] = None,
) -> AttentionStages:
    """softmax(q·kᵀ·scale + bias, masked to -inf where not allowed) @ v, keeping every stage.

    q: [..., q_pos, d_head], k and v: [..., k_pos, d_head]; allowed and bias broadcast to
    [..., q_pos, k_pos]. scale defaults to 1/√d_head as in the paper.
    """
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    scores = q @ k.transpose(-2, -1)                         # [..., q_pos, k_pos]
    scaled = scores * scale                                  # [..., q_pos, k_pos]
    biased = scaled if bias is None else scaled + bias       # [..., q_pos, k_pos]
    if allowed is None:
        masked = biased
    else:
        masked = biased.masked_fill(~allowed, float("-inf"))  # [..., q_pos, k_pos]
    weights = torch.softmax(masked, dim=-1)                  # [..., q_pos, k_pos]
    if allowed is not None:
        # softmax of an all -inf row is NaN; such a query sees nothing, so it gets weight 0.
        weights = weights.masked_fill(~allowed, 0.0)
    context = weights @ v                                    # [..., q_pos, d_head]
    return AttentionStages(scores, scaled, biased, masked, weights, context)


def attention(q, k, v, allowed=None, scale=None, bias=None):
    """Attention(Q, K, V) = softmax(Q Kᵀ · scale + bias) V -> (context, weights)."""
    stages = attention_stages(q, k, v, allowed, scale, bias)
    return stages.context, stages.weights
