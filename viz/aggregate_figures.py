"""Figures of the aggregates (computed in analysis/): mean over heads per layer, attention rollout
with one of its rows, and per-head entropy / mean attention distance over layers x heads."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analysis import head_entropy, mean_attention_distance, mean_over_heads, per_head_grid

from .colors import MASK_CSS, SEQUENTIAL, WEIGHT_GAMMA, colorscale
from .labels import position_labels, token_label, token_labels

MAX_COLUMNS = 3        # mean-over-heads panels per row: wide enough for ~40 token labels each
MAX_TICKS = 32         # more tick labels than this on one axis overlap; every k-th is shown
PANEL_PIXELS = (300, 560)   # height of one mean-over-heads panel: min, max
ROW_PIXELS = 18        # as viz.heatmap: a 12 px label per row
GRID_CELL_PIXELS = 44  # height of one layer row in the per-head grids


def _tick_step(n: int, max_ticks: int = MAX_TICKS) -> int:
    """Show every k-th label so at most max_ticks fit (hover still names every cell)."""
    return max(1, math.ceil(n / max_ticks))


def _token_axis(tokens: Sequence[str], n: int, max_ticks: int = MAX_TICKS) -> dict:
    """Category axis over unique "token (position)" names, ticks showing the bare token."""
    categories = position_labels(list(tokens[:n]))
    step = _tick_step(n, max_ticks)
    return dict(type="category", tickmode="array", tickvals=categories[::step],
                ticktext=token_labels(list(tokens[:n]))[::step], showgrid=False, zeroline=False,
                automargin=True, tickfont=dict(size=11 if step == 1 else 10))


def masked_mean(record) -> np.ndarray:
    """[q_pos, k_pos] float32: mean_h α, NaN where the query may not attend to the key."""
    return np.where(record.allowed, mean_over_heads(record), np.float32(np.nan)).astype(np.float32)


def mean_heads_figure(records: Sequence, title: Optional[str] = None) -> go.Figure:
    """Figure: one heatmap of mean_h α_ij per layer (rows = queries, columns = keys), one 0..1 scale."""
    records = sorted(records, key=lambda r: r.layer)
    if not records:
        raise ValueError("no records to draw")
    n_cols = min(len(records), MAX_COLUMNS)
    n_rows = math.ceil(len(records) / n_cols)
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[f"layer {r.layer}" for r in records],
                        horizontal_spacing=0.08, vertical_spacing=0.12 / n_rows)
    max_ticks = MAX_TICKS // n_cols + 8
    for i, record in enumerate(records):
        row, col = divmod(i, n_cols)
        z = masked_mean(record)                                        # [q_pos, k_pos]
        nq, nk = z.shape
        ys, xs = position_labels(record.query_tokens[:nq]), position_labels(record.key_tokens[:nk])
        fig.add_trace(go.Heatmap(
            z=z, x=xs, y=ys, coloraxis="coloraxis", hoverongaps=False,
            hovertemplate=f"layer {record.layer}<br>query %{{y}}<br>key %{{x}}<br>mean α %{{z:.4f}}<extra></extra>",
        ), row=row + 1, col=col + 1)
        fig.update_xaxes(_token_axis(record.key_tokens, nk, max_ticks), range=[-0.5, nk - 0.5],
                         tickangle=-90 if nk > 12 else 0, row=row + 1, col=col + 1)
        # Row 0 on top, as a matrix reads (go.Heatmap puts it at the bottom by default).
        fig.update_yaxes(_token_axis(record.query_tokens, nq, max_ticks), range=[nq - 0.5, -0.5],
                         row=row + 1, col=col + 1)
    n_q = max(r.weights.shape[1] for r in records)
    panel = int(np.clip(n_q * 12, *PANEL_PIXELS))
    fig.update_layout(
        title=dict(text=title or f"{records[0].kind} attention · mean over heads, per layer",
                   subtitle=dict(text="grey: masked (this query may not attend to this key)", font=dict(size=12))),
        coloraxis=dict(colorscale=colorscale(SEQUENTIAL, WEIGHT_GAMMA), cmin=0.0, cmax=1.0,
                       colorbar=dict(title=dict(text="mean α"), thickness=14)),
        # NaN cells are gaps: a grey background (in neither scale) shows through them as "masked".
        plot_bgcolor=MASK_CSS,
        height=n_rows * panel + 200, margin=dict(l=10, r=10, t=100, b=10, pad=0),
    )
    return fig


def rollout_figure(matrix: np.ndarray, tokens: Sequence[str], title: Optional[str] = None) -> go.Figure:
    """Figure: the rollout R = Ã_L ··· Ã_1 as a heatmap (row i: how much each input flows into i)."""
    z = np.asarray(matrix, dtype=np.float32)                           # [pos, pos]
    n = z.shape[0]
    labels = position_labels(list(tokens[:n]))
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=0.0, zmax=1.0, colorscale=colorscale(SEQUENTIAL, WEIGHT_GAMMA),
        colorbar=dict(title=dict(text="rollout"), thickness=14),
        hovertemplate="position %{y}<br>from input %{x}<br>rollout %{z:.4f}<extra></extra>",
    ))
    fig.update_layout(
        title=dict(text=title or "attention rollout (Abnar & Zuidema, 2020): Ã = 0.5·mean_h A + 0.5·I, multiplied through the layers"),
        # Every label, as in viz.heatmap: rows are at least ROW_PIXELS tall.
        xaxis=dict(_token_axis(tokens, n, n), title="input position (key)", range=[-0.5, n - 0.5]),
        yaxis=dict(_token_axis(tokens, n, n), title="position at the top layer (query)", range=[n - 0.5, -0.5]),
        height=int(min(n * np.clip(700 / max(n, 1), ROW_PIXELS, 36), 1830)) + 170,
        margin=dict(l=10, r=10, t=80, b=10, pad=0),
    )
    return fig


def rollout_row_figure(matrix: np.ndarray, tokens: Sequence[str], row: int, title: Optional[str] = None) -> go.Figure:
    """Figure: one row of the rollout as bars: the share of each input position in position `row`."""
    values = np.asarray(matrix, dtype=np.float32)[row]                 # [pos]
    n = values.shape[0]
    labels = position_labels(list(tokens[:n]))
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color="#31688e",
                           hovertemplate="input %{x}<br>rollout %{y:.4f}<extra></extra>"))
    fig.update_layout(
        title=dict(text=title or f"rollout row of {token_label(tokens[row])} ({row}): where its representation comes from"),
        xaxis=dict(_token_axis(tokens, n, n), title="input position"),
        yaxis=dict(title="share", range=[0, max(float(values.max()) * 1.1, 1e-6)], rangemode="tozero"),
        height=340, margin=dict(l=10, r=10, t=60, b=10, pad=0),
    )
    return fig


def head_grid_figure(grid: np.ndarray, layers: Sequence[int], title: str, unit: str,
                     zmax: Optional[float] = None, fmt: str = "{:.2f}") -> go.Figure:
    """Figure: an annotated [layer, head] heatmap of one per-head measure; NaN cells read "n/a"."""
    z = np.asarray(grid, dtype=np.float32)                             # [layer, head]
    n_layers, n_heads = z.shape
    finite = z[np.isfinite(z)]
    top = zmax if zmax is not None else (float(finite.max()) if finite.size else 1.0)
    text = [[fmt.format(v) if np.isfinite(v) else "n/a" for v in row] for row in z]
    # Numeric axes with text ticks: an all-NaN grid (distance of cross-attention) registers no
    # categories, and its "n/a" labels still need their cells.
    heads, rows = np.arange(n_heads), np.arange(n_layers)
    fig = go.Figure(go.Heatmap(
        z=z, x=heads, y=rows, zmin=0.0, zmax=top if top > 0 else 1.0, colorscale=colorscale(SEQUENTIAL),
        text=text, texttemplate="%{text}", textfont=dict(size=13), hoverongaps=False,
        colorbar=dict(title=dict(text=unit), thickness=14),
        customdata=np.array([[f"layer {layer} · head {h}" for h in heads] for layer in layers]),
        hovertemplate=f"%{{customdata}}<br>%{{text}} {unit}<extra></extra>",
    ))
    # A NaN cell is a gap (grey background) and plotly writes no text on gaps: annotations do.
    missing = [(i, j) for i in range(n_layers) for j in range(n_heads) if not np.isfinite(z[i, j])]
    fig.update_layout(
        title=dict(text=title),
        xaxis=dict(tickmode="array", tickvals=heads, ticktext=[f"head {h}" for h in heads], side="top",
                   range=[-0.5, n_heads - 0.5], showgrid=False, zeroline=False),
        # Layer 0 on top, as in the overview.
        yaxis=dict(tickmode="array", tickvals=rows, ticktext=[f"layer {layer}" for layer in layers],
                   range=[n_layers - 0.5, -0.5], showgrid=False, zeroline=False),
        plot_bgcolor=MASK_CSS,
        annotations=[dict(x=j, y=i, text="n/a", showarrow=False, font=dict(size=13, color="white"))
                     for i, j in missing],
        height=n_layers * GRID_CELL_PIXELS + 170, margin=dict(l=10, r=10, t=110, b=10, pad=0),
    )
    return fig


def entropy_figure(records: Sequence, title: Optional[str] = None) -> go.Figure:
    """Figure: H = -Σ_j α_ij log2 α_ij per head (bits, mean over queries), 0..log2(n_keys)."""
    records = sorted(records, key=lambda r: r.layer)
    grid = per_head_grid(records, head_entropy)
    # The top of the scale is a uniform head over all keys: the range says how spread a head is.
    top = math.log2(max(max(r.weights.shape[-1] for r in records), 2))
    return head_grid_figure(grid, [r.layer for r in records],
                            title or f"{records[0].kind} attention · entropy per head (bits; low = focused)",
                            "bits", zmax=top)


def distance_figure(records: Sequence, title: Optional[str] = None) -> go.Figure:
    """Figure: Σ_j α_ij |i − j| per head (tokens, mean over queries); n/a for cross-attention."""
    records = sorted(records, key=lambda r: r.layer)
    grid = per_head_grid(records, mean_attention_distance)
    return head_grid_figure(grid, [r.layer for r in records],
                            title or f"{records[0].kind} attention · mean attention distance per head (tokens)",
                            "tokens")
