"""What an intervention changed: attention after − before per head (the numbers; the attention
canvas draws them, viz/canvas.compare_payload), the change per layer x head, and the top-1
prediction per position before and after (numpy + plotly only)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from .colors import SEQUENTIAL, colorscale
from .figure import label_margin, pinned_title, top_margin
from .labels import VISIBLE
from .text import Translator, english

CELL_PIXELS = 44       # height of one (kind, layer) row of the summary grid
# Changes below this are float noise (a rerun's reductions in another order), not an effect.
NO_CHANGE = 1e-5
# The colour scales never span less than this: a change of 1e-6 (float noise) must not be
# painted as deep red; "no change" is said in words instead.
# (One Δα_ij: viz/canvas.CHANGE_MIN_RANGE.)
SUMMARY_MIN_SCALE = 0.05   # mean over queries of Σ_j |Δα_ij|, 0..2


def visible(token: str) -> str:
    """A token as plain text (st.dataframe, st.code): spaces and newlines made visible, no escaping."""
    return VISIBLE.get(token, token)


def common_shape(before, after) -> tuple[int, int]:
    """(q_pos, k_pos) both records have: a regenerated output can be shorter or longer."""
    return (min(before.weights.shape[1], after.weights.shape[1]),
            min(before.weights.shape[2], after.weights.shape[2]))


def weight_change(before, after) -> np.ndarray:
    """[head, q, k] float32: α_after − α_before over the common positions, NaN where neither run
    lets the query see the key (no weight to compare)."""
    nq, nk = common_shape(before, after)
    delta = after.weights[:, :nq, :nk] - before.weights[:, :nq, :nk]
    either = before.allowed[:nq, :nk] | after.allowed[:nq, :nk]
    return np.where(either[None], delta, np.float32(np.nan)).astype(np.float32)


def row_change(before, after) -> np.ndarray:
    """[head]: Σ_j |α_after,ij − α_before,ij| averaged over the query rows either run uses.

    Each row is a probability distribution, so the value lies in 0 (unchanged) .. 2 (disjoint)
    whatever the length: layers and inputs stay comparable, unlike a plain sum over cells.
    """
    delta = np.nan_to_num(weight_change(before, after))               # [head, q, k]
    nq, nk = common_shape(before, after)
    rows = (before.allowed[:nq, :nk] | after.allowed[:nq, :nk]).any(axis=-1)   # [q]
    per_row = np.abs(delta).sum(axis=-1)                                # [head, q]
    if not rows.any():
        return np.zeros(delta.shape[0], np.float32)
    return per_row[:, rows].mean(axis=-1).astype(np.float32)


def change_grid(before_records: Sequence, after_records: Sequence) -> tuple[list[tuple[str, int]], np.ndarray]:
    """([(kind, layer)], [row, head]): row_change for every attention call both runs have."""
    after = {(r.kind, r.layer): r for r in after_records}
    # Forward order: the whole encoder first, then each decoder layer's self- and cross-attention.
    order = {"encoder": (0, 0), "decoder": (1, 0), "cross": (1, 1)}
    pairs = sorted(((r.kind, r.layer) for r in before_records if (r.kind, r.layer) in after),
                   key=lambda p: (order[p[0]][0], p[1], order[p[0]][1]))
    before = {(r.kind, r.layer): r for r in before_records}
    if not pairs:
        raise ValueError("the two runs have no attention call in common")
    return pairs, np.stack([row_change(before[p], after[p]) for p in pairs])


def largest_change(pairs: Sequence[tuple[str, int]], grid: np.ndarray) -> tuple[tuple[str, int], float]:
    """((kind, layer), its largest row change over heads): where the after − before view should
    open. Ties go to the earliest call in forward order."""
    per_call = np.asarray(grid, dtype=np.float64).max(axis=1)          # [row]
    best = int(np.argmax(per_call))
    return pairs[best], float(per_call[best])


def change_summary_figure(before_records: Sequence, after_records: Sequence, heads_off: Sequence = (),
                          title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """Figure: the mean row change Σ_j |Δα_ij| per (kind, layer) x head; switched-off heads marked."""
    pairs, grid = change_grid(before_records, after_records)          # grid: [row, head]
    n_heads = grid.shape[1]
    off = set(map(tuple, heads_off))
    text = [[f"{v:.3f}" + (" " + t("fig.int.off") if (kind, layer, h) in off else "") for h, v in enumerate(row)]
            for (kind, layer), row in zip(pairs, grid)]
    ys = [f"{t(f'fig.kind_short.{kind}')} {layer}" for kind, layer in pairs]
    top = float(grid.max())
    fig = go.Figure(go.Heatmap(
        z=grid.astype(np.float32), x=[t("fig.head", head=h) for h in range(n_heads)], y=ys,
        # A fixed floor for the top: a change of 1e-7 (float noise) must not fill the scale.
        zmin=0.0, zmax=max(top, SUMMARY_MIN_SCALE), colorscale=colorscale(SEQUENTIAL),
        text=text, texttemplate="%{text}", textfont=dict(size=12),
        colorbar=dict(title=dict(text="Σ|Δα|"), thickness=14),
        hovertemplate=f"%{{y}} · %{{x}}<br>{t('fig.int.summary.hover')}: %{{z:.4f}}<extra></extra>",
    ))
    text = title or t("fig.int.summary.title")
    top = top_margin(text, top_tick_font=12)          # the title pinned above the "head" labels
    fig.update_layout(
        title=pinned_title(text),
        xaxis=dict(type="category", side="top", showgrid=False, zeroline=False, tickfont=dict(size=12)),
        yaxis=dict(type="category", autorange="reversed", showgrid=False, zeroline=False, automargin=True,
                   title=t("fig.int.summary.y")),
        height=len(pairs) * CELL_PIXELS + top + 60, margin=dict(l=label_margin(ys, 12) + 24, r=10, t=top, b=10, pad=0),
    )
    return fig


def pair_labels(before_tokens: Sequence[str], after_tokens: Sequence[str]) -> list[str]:
    """Per common position: the token, or "before→after" where the two runs read different ones
    (a regenerated output). Plain text: the canvas sets it as text, never as HTML."""
    return [b if a == b else f"{visible(b)}→{visible(a)}" for b, a in zip(before_tokens, after_tokens)]


def prediction_rows(before_predictions: Sequence, after_predictions: Sequence,
                    before_tokens: Sequence[str], after_tokens: Sequence[str]) -> list[dict]:
    """Per common position: the input token(s), the top-1 prediction and its probability before
    and after, and whether the top-1 changed (a table for st.dataframe)."""
    n = min(len(before_predictions), len(after_predictions))
    rows = []
    for i in range(n):
        (b_tok, b_p), (a_tok, a_p) = before_predictions[i][0], after_predictions[i][0]
        b_in = before_tokens[i] if i < len(before_tokens) else ""
        a_in = after_tokens[i] if i < len(after_tokens) else ""
        rows.append({
            "position": i,
            "input": visible(b_in) if a_in == b_in else f"{visible(b_in)} → {visible(a_in)}",
            "top-1 before": visible(b_tok), "p before": round(float(b_p), 4),
            "top-1 after": visible(a_tok), "p after": round(float(a_p), 4),
            "changed": b_tok != a_tok,
        })
    return rows


__all__ = ["change_grid", "change_summary_figure", "common_shape", "largest_change", "pair_labels", "prediction_rows",
           "row_change", "visible", "weight_change"]
