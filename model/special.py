"""A trace with its special tokens ([CLS], [SEP], <s>, </s>, <pad>, <bos>, <eos>) hidden.

Special tokens soak up attention (BERT's [SEP] often takes most of a row) and hide the pattern
among the real tokens. Hiding them drops their rows and columns and renormalises each row
over the keys that remain:

    α'_ij = α_ij / Σ_{j' kept} α_ij'  =  softmax over the kept keys of the same logits,

so the filtered record still satisfies the record's invariant (docs/ARCHITECTURE.md), and its context is
recomputed as α' @ v over the kept keys. It is a view for reading the pattern, not what the
model computed: the app says so next to the switch.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .trace import AttentionRecord, Trace


def _kept(flags: list[bool], n: int) -> np.ndarray:
    """Positions to keep among n: those not flagged special (positions past the flags are kept)."""
    flags = list(flags)[:n] + [False] * max(0, n - len(flags))
    return np.flatnonzero(~np.asarray(flags, dtype=bool))


def _filter_record(record: AttentionRecord, rows: np.ndarray, cols: np.ndarray) -> AttentionRecord:
    weights = record.weights[:, rows][:, :, cols]                     # [head, q_kept, k_kept]
    allowed = record.allowed[rows][:, cols]                           # [q_kept, k_kept]
    total = weights.sum(-1, keepdims=True)                            # [head, q_kept, 1]
    # A row whose every allowed key was special keeps nothing to attend to: all zeros, and no
    # key of it stays allowed, as for a fully masked row.
    empty = total[..., 0] <= 0                                        # [head, q_kept]
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1), 0).astype(np.float32)
    allowed = allowed & ~empty.all(0)[:, None]
    v = record.v[:, cols]                                             # [head, k_kept, d_head]
    return replace(
        record,
        query_tokens=[record.query_tokens[i] for i in rows],
        key_tokens=[record.key_tokens[j] for j in cols],
        q=record.q[:, rows], k=record.k[:, cols], v=v,
        scores=record.scores[:, rows][:, :, cols],
        bias=None if record.bias is None else record.bias[:, rows][:, :, cols],
        allowed=allowed, weights=weights,
        context=(weights @ v).astype(np.float32),                    # [head, q_kept, d_head]
    )


def has_special(trace: Trace) -> bool:
    return any(trace.encoder_special) or any(trace.decoder_special)


def without_special(trace: Trace) -> Trace:
    """The trace with every special token dropped from every record, rows renormalised."""
    if not has_special(trace):
        return trace
    source = _kept(trace.encoder_special, len(trace.encoder_tokens))
    target = _kept(trace.decoder_special, len(trace.decoder_tokens))
    axes = {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}
    records = [_filter_record(r, *axes[r.kind]) for r in trace.records]

    def pick(values: list, kept: np.ndarray) -> list:
        return [values[i] for i in kept if i < len(values)]

    predictions = trace.predictions
    if predictions:
        kept = target if trace.arch.has_decoder else source
        predictions = pick(predictions, kept)
    generated_from = trace.generated_from
    if generated_from is not None:
        # the first generated position, counted among the kept ones
        generated_from = int((target < generated_from).sum())
    return replace(
        trace, records=records,
        encoder_tokens=pick(trace.encoder_tokens, source), decoder_tokens=pick(trace.decoder_tokens, target),
        encoder_unknown=pick(trace.encoder_unknown, source), decoder_unknown=pick(trace.decoder_unknown, target),
        encoder_special=[False] * len(source), decoder_special=[False] * len(target),
        predictions=predictions, generated_from=generated_from,
    )
