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
from .figure import label_margin, pinned_title, top_margin
from .heatmap import BOTTOM_PIXELS, PLOT_WIDTH_PIXELS, TOP_PIXELS, matrix_plot_pixels, x_labels_pixels
from .labels import (line_pixels, position_labels, remember_ticks, text_pixels, token_axis, token_label, token_labels,
                     with_note)
from .text import Translator, english

MAX_COLUMNS = 3        # mean-over-heads panels per row: wide enough for ~40 token labels each
MAX_TICKS = 32         # (kept for callers) the most labels an axis of one panel row shows
PANEL_PIXELS = (300, 560)   # height of one mean-over-heads panel: min, max
GRID_CELL_PIXELS = 44  # height of one layer row in the per-head grids
SUBPLOT_TITLE_FONT = 16     # make_subplots' titles ("layer 3") are 16 px
PANEL_GAP_PIXELS = 14       # between a panel's labels and its neighbour, beyond what the labels take


def _token_axis(tokens: Sequence[str], n: int, pixels: float, along: str, t: Translator) -> tuple[dict, str]:
    """Category axis over unique "token (position)" names, ticks showing the bare token: every
    label that fits in `pixels` (viz.labels.token_axis), and the note when they are thinned."""
    axis, note = token_axis(list(tokens[:n]), pixels / max(n, 1), along, font=11, t=t)
    return dict(axis, showgrid=False, zeroline=False), note


def masked_mean(record) -> np.ndarray:
    """[q_pos, k_pos] float32: mean_h α, NaN where the query may not attend to the key."""
    return np.where(record.allowed, mean_over_heads(record), np.float32(np.nan)).astype(np.float32)


def _turned_length(axis: dict) -> float:
    """Pixels an x axis's labels reach below the plot: a line, or the longest label when turned."""
    font = axis["tickfont"]["size"]
    if axis.get("tickangle") == -90:
        return max((text_pixels(label, font) for label in axis["ticktext"]), default=0.0)
    return line_pixels(font)


def mean_heads_figure(records: Sequence, title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """Figure: one heatmap of mean_h α_ij per layer (rows = queries, columns = keys), one 0..1 scale.

    The gaps between panels are sized in pixels from what sits in them: a row's turned key labels
    and the next row's "layer" titles below it, a panel's query labels beside it, so no label is
    cut by or printed over a neighbour."""
    records = sorted(records, key=lambda r: r.layer)
    if not records:
        raise ValueError("no records to draw")
    n_cols = min(len(records), MAX_COLUMNS)
    n_rows = math.ceil(len(records) / n_cols)
    n_q = max(r.weights.shape[1] for r in records)
    n_k = max(r.weights.shape[2] for r in records)
    panel = int(np.clip(n_q * 12, *PANEL_PIXELS))
    y_width = max(text_pixels(label, 11) for r in records for label in token_labels(r.query_tokens)) + 10
    gap_x = y_width + PANEL_GAP_PIXELS if n_cols > 1 else 0.0
    panel_w = (PLOT_WIDTH_PIXELS - (n_cols - 1) * gap_x) / n_cols
    x_axes = [_token_axis(r.key_tokens, r.weights.shape[2], panel_w * r.weights.shape[2] / n_k, "x", t) for r in records]
    y_axes = [_token_axis(r.query_tokens, r.weights.shape[1], panel * r.weights.shape[1] / n_q, "y", t) for r in records]
    labels_below = max(_turned_length(axis) for axis, _ in x_axes) + 8
    title_line = line_pixels(SUBPLOT_TITLE_FONT) + 4
    gap_y = labels_below + title_line + PANEL_GAP_PIXELS
    plot_h = n_rows * panel + (n_rows - 1) * gap_y
    fig = make_subplots(rows=n_rows, cols=n_cols, subplot_titles=[t("fig.layer", layer=r.layer) for r in records],
                        horizontal_spacing=min(gap_x / PLOT_WIDTH_PIXELS, 0.3),
                        vertical_spacing=gap_y / plot_h if n_rows > 1 else 0.0)
    for i, record in enumerate(records):
        row, col = divmod(i, n_cols)
        z = masked_mean(record)                                        # [q_pos, k_pos]
        nq, nk = z.shape
        ys, xs = position_labels(record.query_tokens[:nq]), position_labels(record.key_tokens[:nk])
        fig.add_trace(go.Heatmap(
            z=z, x=xs, y=ys, coloraxis="coloraxis", hoverongaps=False,
            hovertemplate=(f"{t('fig.layer', layer=record.layer)}<br>{t('fig.query')} %{{y}}<br>"
                           f"{t('fig.key')} %{{x}}<br>{t('fig.agg.mean.colorbar')} %{{z:.4f}}<extra></extra>"),
        ), row=row + 1, col=col + 1)
        (x_axis, x_note), (y_axis, y_note) = x_axes[i], y_axes[i]
        # A thinned axis says so once: under the bottom row, left of the first column.
        if row == n_rows - 1:
            x_axis = dict(x_axis, title=dict(text=x_note, font=dict(size=11)))
        if col == 0:
            y_axis = dict(y_axis, title=dict(text=y_note, font=dict(size=11)))
        fig.update_xaxes(x_axis, range=[-0.5, nk - 0.5], row=row + 1, col=col + 1)
        # Row 0 on top, as a matrix reads (go.Heatmap puts it at the bottom by default).
        fig.update_yaxes(y_axis, range=[nq - 0.5, -0.5], row=row + 1, col=col + 1)
    text = title or t("fig.agg.mean.title", kind=t(f"fig.kind.{records[0].kind}"))
    subtitle = t("fig.agg.mean.subtitle")
    # The first row's "layer" titles stand above the plot, in the top margin, under the title.
    top = top_margin(text, subtitle) + math.ceil(title_line)
    bottom = math.ceil(labels_below + (line_pixels(11) if any(note for _, note in x_axes) else 0) + 10)
    fig.update_layout(
        title=pinned_title(text, subtitle),
        coloraxis=dict(colorscale=colorscale(SEQUENTIAL, WEIGHT_GAMMA), cmin=0.0, cmax=1.0,
                       colorbar=dict(title=dict(text=t("fig.agg.mean.colorbar")), thickness=14)),
        # NaN cells are gaps: a grey background (in neither scale) shows through them as "masked".
        plot_bgcolor=MASK_CSS,
        height=int(plot_h) + top + bottom, margin=dict(l=10, r=10, t=top, b=bottom, pad=0),
    )
    for annotation in fig.layout.annotations:
        annotation.font.size = SUBPLOT_TITLE_FONT
    # Every panel's cells are panel_w / n_k wide and panel / n_q tall (a shorter record's fewer).
    axes = {}
    for i in range(len(records)):
        axes[f"xaxis{i + 1 if i else ''}"] = (panel_w / n_k, "x")
        axes[f"yaxis{i + 1 if i else ''}"] = (panel / n_q, "y")
    fig.update_layout(meta=remember_ticks({}, axes, t)["meta"])
    return fig


def rollout_figure(matrix: np.ndarray, tokens: Sequence[str], title: Optional[str] = None,
                   t: Translator = english) -> go.Figure:
    """Figure: the rollout R = Ã_L ··· Ã_1 as a heatmap (row i: how much each input flows into i)."""
    z = np.asarray(matrix, dtype=np.float32)                           # [pos, pos]
    n = z.shape[0]
    labels = position_labels(list(tokens[:n]))
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=0.0, zmax=1.0, colorscale=colorscale(SEQUENTIAL, WEIGHT_GAMMA),
        colorbar=dict(title=dict(text=t("fig.agg.rollout.colorbar")), thickness=14),
        hovertemplate=(f"{t('fig.position')} %{{y}}<br>{t('fig.agg.rollout.from')} %{{x}}<br>"
                       f"{t('fig.agg.rollout.colorbar')} %{{z:.4f}}<extra></extra>"),
    ))
    # As viz.heatmap: every label that fits, a figure no taller than the screen.
    x_axis, x_note = _token_axis(tokens, n, PLOT_WIDTH_PIXELS, "x", t)
    x_title = with_note(t("fig.agg.rollout.x"), x_note)
    plot_height = matrix_plot_pixels(n, x_labels_pixels(x_axis, x_title))
    y_axis, y_note = _token_axis(tokens, n, plot_height, "y", t)
    fig.update_layout(
        meta=remember_ticks({}, {"xaxis": (PLOT_WIDTH_PIXELS / n, "x"), "yaxis": (plot_height / n, "y")}, t)["meta"],
        title=dict(text=title or t("fig.agg.rollout.title")),
        xaxis=dict(x_axis, title=x_title, range=[-0.5, n - 0.5]),
        yaxis=dict(y_axis, title=with_note(t("fig.agg.rollout.y"), y_note), range=[n - 0.5, -0.5]),
        height=int(plot_height + TOP_PIXELS + x_labels_pixels(x_axis, x_title) + BOTTOM_PIXELS),
        margin=dict(l=10, r=10, t=TOP_PIXELS, b=BOTTOM_PIXELS, pad=0),
    )
    return fig


def rollout_row_figure(matrix: np.ndarray, tokens: Sequence[str], row: int, title: Optional[str] = None,
                       t: Translator = english) -> go.Figure:
    """Figure: one row of the rollout as bars: the share of each input position in position `row`."""
    values = np.asarray(matrix, dtype=np.float32)[row]                 # [pos]
    n = values.shape[0]
    labels = position_labels(list(tokens[:n]))
    fig = go.Figure(go.Bar(x=labels, y=values, marker_color="#31688e",
                           hovertemplate=f"{t('fig.agg.row.input')} %{{x}}<br>"
                                         f"{t('fig.agg.rollout.colorbar')} %{{y:.4f}}<extra></extra>"))
    x_axis, x_note = _token_axis(tokens, n, PLOT_WIDTH_PIXELS, "x", t)
    fig.update_layout(
        meta=remember_ticks({}, {"xaxis": (PLOT_WIDTH_PIXELS / n, "x")}, t)["meta"],
        title=dict(text=title or t("fig.agg.row.title", token=token_label(tokens[row]), row=row)),
        xaxis=dict(x_axis, title=with_note(t("fig.agg.row.x"), x_note)),
        yaxis=dict(title=t("fig.agg.row.y"), range=[0, max(float(values.max()) * 1.1, 1e-6)], rangemode="tozero"),
        height=340, margin=dict(l=10, r=10, t=60, b=10, pad=0),
    )
    return fig


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
