"""The one recorder: every attention call of every model, built-in or Hugging Face, goes through
attend() below, which computes the equation's steps (model/attention.py), applies the run's
intervention and the padding rule, and keeps the stages as a Call.

    with recording(record=True, intervention=..., query_rows=...) as recorder:
        logits = backend.forward(...)        # each attention call -> attend(...)
    recorder.calls                           # batched Calls, in forward order

The recorder of the pass running in this thread lives in a ContextVar: Streamlit runs sessions
in threads, so two sessions may run the same cached model at once, each with its own recorder.
Outside a recording (training, transformers' own tests) attend() is plain attention.

The padding rule, one for both backends (docs/ARCHITECTURE.md, "Padding"): a padding position
takes part neither as a key nor as a query. The models mask padding keys themselves; the
recorder masks padding queries, so a padded row is all zeros in every record and analyses skip
it, and the real rows are exactly what the model computes.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Optional

import numpy as np
import torch

from .attention import attention_stages
from .trace import NO_INTERVENTION, AttentionRecord, Intervention


@dataclass
class Call:
    """One attention call, batched, as tensors on the model's device."""

    kind: str                       # "encoder", "decoder" or "cross"
    layer: int
    q: torch.Tensor                 # [batch, head, q_pos, d_head] (after rotary)
    k: torch.Tensor                 # [batch, head, k_pos, d_head] (grouped-query k/v expanded)
    v: torch.Tensor                 # [batch, head, k_pos, d_head]
    scores: torch.Tensor            # [batch, head, q_pos, k_pos]
    scale: float
    bias: Optional[torch.Tensor]    # [batch, head, q_pos, k_pos] or None
    allowed: torch.Tensor           # [batch, q_pos, k_pos] bool
    weights: torch.Tensor           # [batch, head, q_pos, k_pos]
    context: torch.Tensor           # [batch, head, q_pos, d_head]

    def record(self, index: int, query_labels: list[str], key_labels: list[str]) -> AttentionRecord:
        """Sequence `index` of the batch as a float32 numpy record with token labels."""
        def take(tensor: torch.Tensor) -> np.ndarray:
            return tensor[index].detach().float().cpu().numpy()

        n_q, n_k = self.weights.shape[-2:]
        return AttentionRecord(
            kind=self.kind, layer=self.layer,
            query_tokens=list(query_labels[:n_q]), key_tokens=list(key_labels[:n_k]),
            q=take(self.q), k=take(self.k), v=take(self.v), scores=take(self.scores), scale=float(self.scale),
            bias=None if self.bias is None else take(self.bias),
            allowed=self.allowed[index].cpu().numpy().astype(bool),
            weights=take(self.weights), context=take(self.context))


@dataclass
class Recorder:
    """What the attention calls of one forward pass need, and what they leave."""

    record: bool = True                       # keep every call's stages (False: generation steps)
    intervention: Intervention = NO_INTERVENTION
    # Per query stream, [batch, pos] bool: True for real tokens. "encoder" rows are the encoder's
    # queries; "decoder" rows are the queries of decoder and cross attention. None: all real.
    query_rows: dict = field(default_factory=dict)
    # (module) -> (kind, layer), for models whose attention modules do not say so themselves
    # (Hugging Face); the built-in modules pass their kind and layer to attend() directly.
    site_of: Optional[Callable] = None
    calls: list = field(default_factory=list)

    def __post_init__(self):
        # Streams whose queries are all real are dropped once here, not checked at every call
        # (a tensor reduction per attention call was measurable on a small model's trace).
        self.query_rows = {stream: rows for stream, rows in self.query_rows.items()
                           if rows is not None and not bool(rows.all())}

    def real_queries(self, kind: str, n_queries: int) -> Optional[torch.Tensor]:
        """[batch, q_pos] bool of the real queries of this kind of call, None when all are real."""
        rows = self.query_rows.get("encoder" if kind == "encoder" else "decoder")
        if rows is None or rows.shape[1] != n_queries:
            return None
        return rows


_ACTIVE: contextvars.ContextVar[Optional[Recorder]] = contextvars.ContextVar("attention_recorder", default=None)


@contextmanager
def recording(record: bool = True, intervention: Intervention = NO_INTERVENTION, query_rows: Optional[dict] = None,
              site_of: Optional[Callable] = None) -> Iterator[Recorder]:
    """Every attention call inside goes through this recorder."""
    recorder = Recorder(record, intervention, dict(query_rows or {}), site_of)
    token = _ACTIVE.set(recorder)
    try:
        yield recorder
    finally:
        _ACTIVE.reset(token)


def active() -> Optional[Recorder]:
    return _ACTIVE.get()


def _hide_keys(allowed: torch.Tensor, positions: frozenset) -> torch.Tensor:
    """Intervention: keys at these positions become invisible to every query, as padding is."""
    n_k = allowed.shape[-1]
    hidden = [p for p in positions if 0 <= p < n_k]
    if not hidden:
        return allowed
    keep = torch.ones(n_k, dtype=torch.bool, device=allowed.device)
    keep[hidden] = False
    return allowed & keep                                        # [batch, q_pos, k_pos]


def attend(kind: str, layer: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
           allowed: Optional[torch.Tensor], scale: float, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """softmax(q·kᵀ·scale + bias, masked) @ v for one attention call -> context [batch, head, q_pos, d_head].

    q: [batch, head, q_pos, d_head]; k, v: [batch, head, k_pos, d_head]; allowed: [batch, q_pos, k_pos]
    bool or None (everything allowed); bias broadcasts to [batch, head, q_pos, k_pos].
    """
    recorder = _ACTIVE.get()
    batch, n_heads, n_q, _ = q.shape
    n_k = k.shape[-2]
    everything_allowed = allowed is None
    if recorder is not None:
        hidden = recorder.intervention.hidden_keys(kind)
        rows = recorder.real_queries(kind, n_q)
        everything_allowed = everything_allowed and not hidden and rows is None
        allowed = torch.ones(batch, n_q, n_k, dtype=torch.bool, device=q.device) if allowed is None else allowed
        if hidden:
            allowed = _hide_keys(allowed, hidden)
        if rows is not None:
            allowed = allowed & rows[:, :, None].to(allowed.device)  # [batch, q_pos, k_pos]
    # With nothing masked (an encoder without padding) the two masked_fill passes are skipped;
    # known without looking when no mask was given, else one reduction decides.
    mask = None if everything_allowed or bool(allowed.all()) else allowed[:, None]
    stages = attention_stages(q, k, v, mask, scale, bias)
    context = stages.context                                     # [batch, head, q_pos, d_head]
    if recorder is None:
        return context
    if recorder.record:
        # No detach(): Call.record() detaches what it keeps (a model traced with gradients on
        # keeps its graph only until then); eight detach calls were a measurable part of a
        # small model's trace (python -m bench).
        recorder.calls.append(Call(
            kind, layer, q, k, v, stages.scores, float(scale),
            None if bias is None else bias.expand(batch, n_heads, n_q, n_k),
            allowed.expand(batch, n_q, n_k), stages.weights, context))
    off = recorder.intervention.heads_off_in(kind, layer) if recorder.intervention.heads_off else None
    if off:
        gate = torch.ones(n_heads, dtype=context.dtype, device=context.device)
        gate[off] = 0.0
        context = context * gate[:, None, None]                  # [batch, head, q_pos, d_head]
    return context
