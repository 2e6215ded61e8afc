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
    """Every named intermediate of one attention call; the names are the equation's steps."""

    scores: torch.Tensor   # [..., q_pos, k_pos]  q·k, before scaling
    scaled: torch.Tensor   # [..., q_pos, k_pos]  scores·scale (+ bias)
    masked: torch.Tensor   # [..., q_pos, k_pos]  scaled, -inf where not allowed
    weights: torch.Tensor  # [..., q_pos, k_pos]  softmax over keys; a fully masked row is 0
    context: torch.Tensor  # [..., q_pos, d_head] weights @ v


def causal_mask(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """[n, n] allowed mask: query i may see keys j <= i (no position sees the future)."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril()


def padding_mask(key_ids: torch.Tensor, pad_id: int, query_ids: Optional[torch.Tensor] = None) -> torch.Tensor:
    """[batch, q_pos, k_pos] allowed mask: neither a padding key nor a padding query takes part.

    Masking padding queries too (not only keys) makes a padded row all zeros, so the matrix
    shown to the user is exactly the batch's padding pattern.
    """
    query_ids = key_ids if query_ids is None else query_ids
    key_ok = key_ids != pad_id      # [batch, k_pos]
    query_ok = query_ids != pad_id  # [batch, q_pos]
    return query_ok[:, :, None] & key_ok[:, None, :]


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
    if bias is not None:
        scaled = scaled + bias                               # [..., q_pos, k_pos]
    if allowed is None:
        masked = scaled
    else:
        masked = scaled.masked_fill(~allowed, float("-inf"))  # [..., q_pos, k_pos]
    weights = torch.softmax(masked, dim=-1)                  # [..., q_pos, k_pos]
    if allowed is not None:
        # softmax of an all -inf row is NaN; such a query sees nothing, so it gets weight 0.
        weights = weights.masked_fill(~allowed, 0.0)
    context = weights @ v                                    # [..., q_pos, d_head]
    return AttentionStages(scores, scaled, masked, weights, context)


def attention(q, k, v, allowed=None, scale=None, bias=None):
    """Attention(Q, K, V) = softmax(Q Kᵀ · scale + bias) V -> (context, weights)."""
    stages = attention_stages(q, k, v, allowed, scale, bias)
    return stages.context, stages.weights
