"""The encoder (or decoder) block's vectors as compact heat strips: one row per vector, one cell
per component, blue negative, white 0, red positive.

Pure functions (numpy + plotly only): arrays in, figures out. Every text a figure shows (row
labels, axis titles, head titles, the word for a value) is passed in, already translated; it is
escaped here, since plotly renders tags. Each row is its own heatmap trace whose `meta` says what
the row is ("ours", "model", "gamma"...), so a test reads a row by what it is, not by position.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from .colors import DIVERGING, colorscale
from .figure import figure

ROW_PIXELS = 40          # one strip: tall enough for an 18 px tick label in lecture mode
ROW_GAP = 0.12           # share of a row's height left blank between strips
LABEL_MARGIN = 190       # px at the left for the row labels
HEADS_PIXELS = 70        # the row of head strips
BOUNDARY_COLOR = "#000000"


@dataclass(frozen=True)
class Strip:
    """One row of a strip figure: a vector and what it is."""

    id: str                  # "ours", "model", "input", "normalised", "gamma", "beta"...: the trace's meta
    label: str               # the row's label, translated by the caller
    values: np.ndarray       # [n] the vector


def _text(text: str) -> str:
    """Plotly text from a plain string: tags shown literally (plotly turns &lt; back into <)."""
    return html.escape(str(text), quote=False)


def symmetric_range(values: np.ndarray) -> float:
    """The largest |value| (finite ones), 1 for an all-zero vector: the scale runs −top..top with white at 0."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    return top if top > 0 else 1.0


def _hover(label: str, component: str, value_word: str) -> str:
    return f"{_text(label)}<br>{_text(component)} %{{x}}<br>{_text(value_word)} %{{z:.6g}}<extra></extra>"


def _colorbar(top: float) -> dict:
    """A thin colour bar with three labelled ticks: −top, 0, top (plotly's own choice on a strip
    this short is often 0 alone)."""
    return dict(thickness=10, len=1.0, lenmode="fraction", outlinewidth=0, tickvals=[-top, 0.0, top],
                ticktext=[f"{-top:.2g}", "0", f"{top:.2g}"])


def vector_strips(rows: Sequence[Strip], x_title: str, component: str, value_word: str,
                  boundaries: Sequence[int] = (), shared_scale: bool = True, validate: bool = True) -> go.Figure:
    """Figure: each row a 1 × n heat strip, stacked, over one axis of components 0..n−1.

    shared_scale: one colour range for every row (rows meant to be compared, such as our number
    and the model's, or z_h and Concat(z)), with a colour bar; otherwise each row has its own
    range (γ near 1 beside x near 10) and its label says the range (±top).
    boundaries: components before which a thin line is drawn (where one head's part of Concat(z) ends)."""
    if not rows:
        raise ValueError("vector_strips needs at least one row")
    lengths = {len(np.asarray(r.values).reshape(-1)) for r in rows}
    if len(lengths) != 1:
        raise ValueError(f"every strip must have the same length; got {sorted(lengths)}")
    n = lengths.pop()
    shared_top = max(symmetric_range(np.asarray(r.values, dtype=np.float32)) for r in rows)
    count = len(rows)
    height = 1.0 / count
    data, layout = [], {}
    for i, row in enumerate(rows):
        values = np.asarray(row.values, dtype=np.float32).reshape(1, -1)      # [1, n]
        top = shared_top if shared_scale else symmetric_range(values)
        label = row.label if shared_scale else f"{row.label} (±{top:.3g})"
        axis = "y" if i == 0 else f"y{i + 1}"
        data.append(dict(type="heatmap", z=values, x=np.arange(n), y=[_text(label)], xaxis="x", yaxis=axis,
                         zmin=-top, zmax=top, colorscale=colorscale(DIVERGING), meta=row.id, name=_text(label),
                         showscale=shared_scale and i == 0, colorbar=_colorbar(top),
                         hovertemplate=_hover(label, component, value_word)))
        # Row 0 on top: domains are counted from the bottom of the plot.
        upper = 1.0 - i * height
        layout[f"yaxis{'' if i == 0 else i + 1}"] = dict(
            domain=[upper - height * (1 - ROW_GAP), upper], type="category", showgrid=False, fixedrange=True,
            ticks="", automargin=True)
    layout["xaxis"] = dict(anchor=f"y{count}" if count > 1 else "y", range=[-0.5, n - 0.5], showgrid=False,
                           zeroline=False, title=dict(text=_text(x_title)), fixedrange=True)
    layout.update(
        height=ROW_PIXELS * count + 70, margin=dict(l=LABEL_MARGIN, r=70, t=10, b=50),
        plot_bgcolor="#ffffff",
        shapes=[dict(type="line", xref="x", yref="paper", x0=b - 0.5, x1=b - 0.5, y0=0, y1=1,
                     line=dict(color=BOUNDARY_COLOR, width=1)) for b in boundaries if 0 < b < n])
    return figure(data, layout, validate)


def heads_figure(z: np.ndarray, head_titles: Sequence[str], x_title: str, component: str, value_word: str,
                 validate: bool = True) -> go.Figure:
    """Figure: every head's output z_h [head, d_head] as strips side by side, one column per
    head, on one colour range (heads are compared with each other). The same numbers joined end
    to end are Concat(z_1, …, z_h)."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2:
        raise ValueError(f"z must be [head, d_head]; got shape {z.shape}")
    n_heads, d_head = z.shape
    if len(head_titles) != n_heads:
        raise ValueError(f"{len(head_titles)} titles for {n_heads} heads")
    top = symmetric_range(z)
    gap = 0.01 if n_heads > 1 else 0.0
    width = (1.0 - gap * (n_heads - 1)) / n_heads
    data, layout, annotations = [], {}, []
    for h in range(n_heads):
        axis = "x" if h == 0 else f"x{h + 1}"
        left = h * (width + gap)
        data.append(dict(type="heatmap", z=z[h:h + 1], x=np.arange(d_head), y=["z"], xaxis=axis, yaxis="y",
                         zmin=-top, zmax=top, colorscale=colorscale(DIVERGING), meta=f"head{h}",
                         name=_text(head_titles[h]), showscale=h == 0, colorbar=_colorbar(top),
                         hovertemplate=_hover(head_titles[h], component, value_word)))
        layout[f"xaxis{'' if h == 0 else h + 1}"] = dict(
            domain=[left, left + width], anchor="y", range=[-0.5, d_head - 0.5], showticklabels=False,
            showgrid=False, zeroline=False, fixedrange=True)
        annotations.append(dict(text=_text(head_titles[h]), x=left + width / 2, y=1.0, xref="paper", yref="paper",
                                xanchor="center", yanchor="bottom", showarrow=False))
    annotations.append(dict(text=_text(x_title), x=0.5, y=0.0, xref="paper", yref="paper", xanchor="center",
                            yanchor="top", yshift=-6, showarrow=False))
    layout.update(
        yaxis=dict(showticklabels=False, showgrid=False, fixedrange=True),
        height=HEADS_PIXELS + 70, margin=dict(l=LABEL_MARGIN, r=70, t=30, b=40), annotations=annotations,
        plot_bgcolor="#ffffff")
    return figure(data, layout, validate)
