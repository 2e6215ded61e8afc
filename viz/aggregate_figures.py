"""Figures of the aggregates (computed in analysis/): per-head entropy / mean attention distance
over layers x heads, and the mean over heads that the attention canvas draws per layer (with
the rollout: ui/pages/aggregates.py)."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from analysis import head_entropy, mean_attention_distance, mean_over_heads, per_head_grid

from .colors import MASK_CSS, SEQUENTIAL, colorscale
from .figure import label_margin, pinned_title, top_margin
from .text import Translator, english

GRID_CELL_PIXELS = 44  # height of one layer row in the per-head grids


def masked_mean(record) -> np.ndarray:
    """[q_pos, k_pos] float32: mean_h α, NaN where the query may not attend to the key."""
    return np.where(record.allowed, mean_over_heads(record), np.float32(np.nan)).astype(np.float32)


def head_grid_figure(grid: np.ndarray, layers: Sequence[int], title: str, unit: str,
                     zmax: Optional[float] = None, fmt: str = "{:.2f}", t: Translator = english) -> go.Figure:
    """Figure: an annotated [layer, head] heatmap of one per-head measure; NaN cells read "n/a"."""
    z = np.asarray(grid, dtype=np.float32)                             # [layer, head]
    n_layers, n_heads = z.shape
    finite = z[np.isfinite(z)]
    top = zmax if zmax is not None else (float(finite.max()) if finite.size else 1.0)
    text = [[fmt.format(v) if np.isfinite(v) else "n/a" for v in row] for row in z]
    # Numeric axes with text ticks: an all-NaN grid (distance of cross-attention) registers no
    # categories, and its "n/a" labels still need their cells.
    heads, rows = np.arange(n_heads), np.arange(n_layers)
    layer_labels = [t("fig.layer", layer=layer) for layer in layers]
    fig = go.Figure(go.Heatmap(
        z=z, x=heads, y=rows, zmin=0.0, zmax=top if top > 0 else 1.0, colorscale=colorscale(SEQUENTIAL),
        text=text, texttemplate="%{text}", textfont=dict(size=13), hoverongaps=False,
        colorbar=dict(title=dict(text=unit), thickness=14),
        customdata=np.array([[t("fig.sep").join([t("fig.layer", layer=layer), t("fig.head", head=h)]) for h in heads]
                             for layer in layers]),
        hovertemplate=f"%{{customdata}}<br>%{{text}} {unit}<extra></extra>",
    ))
    # A NaN cell is a gap (grey background) and plotly writes no text on gaps: annotations do.
    missing = [(i, j) for i in range(n_layers) for j in range(n_heads) if not np.isfinite(z[i, j])]
    # The title (the page's may run to two lines) is pinned to the top, the "head" labels under it.
    margin_top = top_margin(title, top_tick_font=12)
    fig.update_layout(
        title=pinned_title(title),
        xaxis=dict(tickmode="array", tickvals=heads, ticktext=[t("fig.head", head=h) for h in heads], side="top",
                   range=[-0.5, n_heads - 0.5], showgrid=False, zeroline=False, tickfont=dict(size=12)),
        # Layer 0 on top, as in the overview.
        yaxis=dict(tickmode="array", tickvals=rows, ticktext=layer_labels, tickfont=dict(size=12),
                   range=[n_layers - 0.5, -0.5], showgrid=False, zeroline=False),
        plot_bgcolor=MASK_CSS,
        annotations=[dict(x=j, y=i, text="n/a", showarrow=False, font=dict(size=13, color="white"))
                     for i, j in missing],
        height=n_layers * GRID_CELL_PIXELS + margin_top + 60,
        margin=dict(l=label_margin(layer_labels, 12), r=10, t=margin_top, b=10, pad=0),
    )
    return fig


def entropy_figure(records: Sequence, title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """Figure: H = -Σ_j α_ij log2 α_ij per head (bits, mean over queries), 0..log2(n_keys)."""
    records = sorted(records, key=lambda r: r.layer)
    grid = per_head_grid(records, head_entropy)
    # The top of the scale is a uniform head over all keys: the range says how spread a head is.
    top = math.log2(max(max(r.weights.shape[-1] for r in records), 2))
    return head_grid_figure(grid, [r.layer for r in records],
                            title or t("fig.agg.entropy.title", kind=t(f"fig.kind.{records[0].kind}")),
                            t("fig.agg.entropy.unit"), zmax=top, t=t)


def distance_figure(records: Sequence, title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """Figure: Σ_j α_ij |i − j| per head (tokens, mean over queries); n/a for cross-attention."""
    records = sorted(records, key=lambda r: r.layer)
    grid = per_head_grid(records, mean_attention_distance)
    return head_grid_figure(grid, [r.layer for r in records],
                            title or t("fig.agg.distance.title", kind=t(f"fig.kind.{records[0].kind}")),
                            t("fig.agg.distance.unit"), t=t)
