"""What an intervention changed: attention after − before per head, the change per layer x head,
and the top-1 prediction per position before and after (numpy + plotly only)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colors import DIVERGING, MASK_CSS, SEQUENTIAL, colorscale
from .labels import VISIBLE, token_label

MAX_COLUMNS = 4        # head panels per row of the after − before figure
MAX_TICKS = 24         # tick labels on a panel's y axis (x: the same over two panels) before every k-th is shown
CELL_PIXELS = 44       # height of one (kind, layer) row of the summary grid


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


def change_summary_figure(before_records: Sequence, after_records: Sequence, heads_off: Sequence = (),
                          title: Optional[str] = None) -> go.Figure:
    """Figure: the mean row change Σ_j |Δα_ij| per (kind, layer) x head; switched-off heads marked."""
    pairs, grid = change_grid(before_records, after_records)          # grid: [row, head]
    n_heads = grid.shape[1]
    off = set(map(tuple, heads_off))
    text = [[f"{v:.3f}" + (" (off)" if (kind, layer, h) in off else "") for h, v in enumerate(row)]
            for (kind, layer), row in zip(pairs, grid)]
    ys = [f"{kind} {layer}" for kind, layer in pairs]
    top = float(grid.max())
    fig = go.Figure(go.Heatmap(
        z=grid.astype(np.float32), x=[f"head {h}" for h in range(n_heads)], y=ys,
        # A fixed floor for the top: a change of 1e-7 (float noise) must not fill the scale.
        zmin=0.0, zmax=max(top, 0.05), colorscale=colorscale(SEQUENTIAL),
        text=text, texttemplate="%{text}", textfont=dict(size=12),
        colorbar=dict(title=dict(text="Σ|Δα|"), thickness=14),
        hovertemplate="%{y} · %{x}<br>mean over queries of Σ_j |Δα_ij|: %{z:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=dict(text=title or "change of attention per layer × head: mean over queries of Σ_j |α_after − α_before| (0 = unchanged, 2 = disjoint)"),
        xaxis=dict(type="category", side="top", showgrid=False, zeroline=False),
        yaxis=dict(type="category", autorange="reversed", showgrid=False, zeroline=False,
                   title="attention (kind layer)"),
        height=len(pairs) * CELL_PIXELS + 160, margin=dict(l=10, r=10, t=100, b=10, pad=0),
    )
    return fig


def _pair_labels(before_tokens: Sequence[str], after_tokens: Sequence[str], n: int) -> list[str]:
    """Tick text per position: the token, or "before→after" where the two runs read different ones."""
    out = []
    for b, a in zip(before_tokens[:n], after_tokens[:n]):
        out.append(token_label(b) if a == b else f"{token_label(b)}→{token_label(a)}")
    return out


def weight_change_figure(before, after, title: Optional[str] = None) -> go.Figure:
    """Figure: α_after − α_before of every head of one attention call, diverging scale centred on 0."""
    delta = weight_change(before, after)                               # [head, q, k]
    n_heads, nq, nk = delta.shape
    # Long sequences get wider panels, two per row, so their labels and cells stay readable.
    n_cols = min(n_heads, MAX_COLUMNS if nk <= 24 else 2)
    n_rows = math.ceil(n_heads / n_cols)
    finite = np.abs(delta[np.isfinite(delta)])
    top = max(float(finite.max()) if finite.size else 0.0, 1e-6)
    y_text = _pair_labels(before.query_tokens, after.query_tokens, nq)
    x_text = _pair_labels(before.key_tokens, after.key_tokens, nk)
    # Unique category names "token (position)": repeated tokens would merge into one category.
    ys = [f"{label} ({i})" for i, label in enumerate(y_text)]
    xs = [f"{label} ({j})" for j, label in enumerate(x_text)]
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[f"head {h}" for h in range(n_heads)],
                        horizontal_spacing=0.06, vertical_spacing=0.14 / n_rows)
    for h in range(n_heads):
        row, col = divmod(h, n_cols)
        fig.add_trace(go.Heatmap(
            z=delta[h], x=xs, y=ys, coloraxis="coloraxis", hoverongaps=False,
            hovertemplate=f"head {h}<br>query %{{y}}<br>key %{{x}}<br>after − before %{{z:+.4f}}<extra></extra>",
        ), row=row + 1, col=col + 1)
        step_x, step_y = max(1, math.ceil(nk * n_cols / (2 * MAX_TICKS))), max(1, math.ceil(nq / MAX_TICKS))
        fig.update_xaxes(type="category", tickmode="array", tickvals=xs[::step_x], ticktext=x_text[::step_x],
                         range=[-0.5, nk - 0.5], showgrid=False, zeroline=False, tickfont=dict(size=10),
                         tickangle=-90 if nk > 8 else 0, row=row + 1, col=col + 1)
        # Row 0 on top, as a matrix reads.
        fig.update_yaxes(type="category", tickmode="array", tickvals=ys[::step_y], ticktext=y_text[::step_y],
                         range=[nq - 0.5, -0.5], showgrid=False, zeroline=False, tickfont=dict(size=10),
                         row=row + 1, col=col + 1)
    panel = int(np.clip(nq * 14, 260, 520))
    fig.update_layout(
        title=dict(text=title or f"{before.kind} attention · layer {before.layer} · α after − α before",
                   subtitle=dict(text="red: more attention after the intervention, blue: less; grey: masked in both runs",
                                 font=dict(size=12))),
        # Symmetric about 0 so white is exactly "no change", whatever the largest change is.
        coloraxis=dict(colorscale=colorscale(DIVERGING), cmin=-top, cmax=top, cmid=0.0,
                       colorbar=dict(title=dict(text="Δα"), thickness=14)),
        plot_bgcolor=MASK_CSS,
        height=n_rows * panel + 200, margin=dict(l=10, r=10, t=110, b=10, pad=0),
    )
    return fig


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


__all__ = ["change_grid", "change_summary_figure", "common_shape", "prediction_rows", "row_change",
           "visible", "weight_change", "weight_change_figure"]
