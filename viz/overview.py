"""All layers x heads of one attention kind as ONE image: the grid of α matrices at a glance."""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go

from .colors import (GAP_RGB, MASK_CSS, hatch_masked, lookup_table, png_data_uri, stage_scale, to_rgb,
                     value_range)
from .figure import figure, label_margin, pinned_title, top_margin
from .stages import stage_title, stage_values
from .text import Translator, english

# Plotly paints one image in well under a second where dozens of heatmaps take ~10 s
# (docs/ARCHITECTURE.md, performance rules); numpy does the colouring instead.
TILE_PIXELS = 96       # cells are repeated until a tile is about this big, so the hatch shows
MAX_CELL_PIXELS = 8
GAP_PIXELS = 6
# The image's width on screen: the main column of a 1400 px window (Streamlit's wide layout)
# less the layer labels. The height follows from it; the image keeps its aspect ratio.
PLOT_WIDTH_PIXELS = 820
LEGEND_STEPS = 24
LEGEND_STEP_PIXELS = 8


# A tile shows at most this many cells a side: longer inputs are pooled in blocks, or 72 heads at
# 512 tokens would be a 75-megapixel image (12 s to encode and paint, measured here).
MAX_TILE_CELLS = 64
# Pooling keeps what a glance should find: the strongest weight in a block (a sharp head stays
# sharp); stages with signed values (scores ... masked) are averaged instead.
MAX_POOLED_STAGES = ("weights", "mask")


def pool_factor(n_rows: int, n_cols: int) -> int:
    """Cells per pooled block a side (1: no pooling)."""
    return max(1, math.ceil(max(n_rows, n_cols) / MAX_TILE_CELLS))


def _reduce_blocks(array: np.ndarray, factor: int, ufunc) -> np.ndarray:
    """[head, R·f, C·f] -> [head, R, C]: ufunc over each f x f block. Rows first, then columns:
    each step reduces a contiguous axis (~5x faster than both axes at once at 512 tokens)."""
    heads, n_q, n_k = array.shape
    rows = ufunc.reduce(array.reshape(heads, n_q // factor, factor, n_k), axis=2)          # [head, R, C·f]
    return ufunc.reduce(rows.reshape(heads, n_q // factor, n_k // factor, factor), axis=3)  # [head, R, C]


def pool(values: np.ndarray, allowed: np.ndarray, factor: int, how: str) -> tuple[np.ndarray, np.ndarray]:
    """([head, q/f, k/f] pooled values, [head, q/f, k/f] allowed) over factor x factor blocks,
    counting only allowed cells; a block with none allowed stays masked."""
    if factor == 1:
        return values, allowed
    heads, n_q, n_k = values.shape
    rows, cols = -(-n_q // factor), -(-n_k // factor)

    def padded(array, fill):
        out = np.full((heads, rows * factor, cols * factor), fill, dtype=array.dtype)
        out[:, :n_q, :n_k] = array
        return out

    ok = padded(allowed, False)                                   # [head, R·f, C·f]
    v = padded(values.astype(np.float32), 0)
    any_ok = _reduce_blocks(ok, factor, np.logical_or)            # [head, R, C]
    everywhere = bool(ok.all())       # no mask, no padding: skip a 75 MB np.where at 512 tokens
    if how == "max":
        pooled = _reduce_blocks(v if everywhere else np.where(ok, v, -np.inf), factor, np.maximum)
    else:
        total = _reduce_blocks(v if everywhere else np.where(ok, v, 0), factor, np.add)
        pooled = total / np.maximum(_reduce_blocks(ok.astype(np.float32), factor, np.add), 1)
    return np.where(any_ok, pooled, np.nan).astype(np.float32), any_ok


def cell_pixels(n_rows: int, n_cols: int) -> int:
    """Pixels per matrix cell: at least 2 (for the hatch), at most MAX_CELL_PIXELS."""
    return int(np.clip(math.ceil(TILE_PIXELS / max(n_rows, n_cols, 1)), 2, MAX_CELL_PIXELS))


def tiles_rgb(rows: Sequence[tuple[object, np.ndarray, np.ndarray]], stage: str = "weights") -> tuple[np.ndarray, dict]:
    """[height, width, 3] uint8 grid of tiles and its geometry, from arrays alone: one row of
    tiles per (label, values [tile, q_pos, k_pos], allowed [q_pos, k_pos]), a tile per matrix of
    `values` (a head, or the mean over heads), coloured as the view `stage` is."""
    if not rows:
        raise ValueError("no matrices to draw")
    labels = [label for label, _, _ in rows]
    values = [np.asarray(v, dtype=np.float32) for _, v, _ in rows]                  # each [tile, q, k]
    allowed = [np.broadcast_to(np.asarray(a, bool)[None], v.shape) for v, (_, _, a) in zip(values, rows)]
    # One colour range for the whole grid, so the same colour is the same number in every tile.
    zmin, zmax = value_range(np.concatenate([np.where(a, v, np.nan).ravel() for v, a in zip(values, allowed)]), stage)
    factor = pool_factor(max(v.shape[1] for v in values), max(v.shape[2] for v in values))
    how = "max" if stage in MAX_POOLED_STAGES else "mean"
    pooled = [pool(v, np.ascontiguousarray(a), factor, how) for v, a in zip(values, allowed)]
    values, allowed = [p[0] for p in pooled], [p[1] for p in pooled]
    n_tiles = max(v.shape[0] for v in values)
    n_q = max(v.shape[1] for v in values)
    n_k = max(v.shape[2] for v in values)
    cell = cell_pixels(n_q, n_k)
    tile_h, tile_w = n_q * cell, n_k * cell
    height = len(rows) * tile_h + (len(rows) - 1) * GAP_PIXELS
    width = n_tiles * tile_w + (n_tiles - 1) * GAP_PIXELS
    canvas = np.empty((height, width, 3), np.uint8)
    canvas[:] = GAP_RGB
    name, gamma = stage_scale(stage)
    for row, (v, a) in enumerate(zip(values, allowed)):
        for tile in range(v.shape[0]):
            rgb = to_rgb(v[tile], name, zmin, zmax, masked=~a[tile], gamma=gamma)     # [q, k, 3]
            hidden = ~a[tile] | ~np.isfinite(v[tile])
            rgb = rgb.repeat(cell, 0).repeat(cell, 1)
            hatch_masked(rgb, hidden.repeat(cell, 0).repeat(cell, 1))
            top, left = row * (tile_h + GAP_PIXELS), tile * (tile_w + GAP_PIXELS)
            canvas[top:top + rgb.shape[0], left:left + rgb.shape[1]] = rgb
    geometry = dict(rows=labels, n_tiles=n_tiles, tile_h=tile_h, tile_w=tile_w,
                    gap=GAP_PIXELS, cell=cell, zmin=zmin, zmax=zmax, scale=name, gamma=gamma,
                    pool=factor, pooled_by=how)
    return canvas, geometry


def overview_rgb(records: Sequence, stage: str = "weights") -> tuple[np.ndarray, dict]:
    """tiles_rgb of every layer (rows, labelled by layer) x head (columns) of one attention kind."""
    records = sorted(records, key=lambda r: r.layer)
    if not records:
        raise ValueError("no records to draw")
    if len({r.kind for r in records}) != 1:
        raise ValueError("an overview shows one attention kind; got " + ", ".join(sorted({r.kind for r in records})))
    return tiles_rgb([(r.layer, stage_values(r, stage), r.allowed) for r in records], stage)


def _legend(geometry: dict, t: Translator = english) -> tuple[list[dict], list[dict]]:
    """Shapes and annotations of a small colour bar, linear in value, under the image (a go.Image
    has no colorbar): "zmin [strip] zmax  [grey] masked"."""
    lut = lookup_table(geometry["scale"], geometry["gamma"])
    start = 44                                            # room for the zmin label on the left
    shapes, notes = [], []
    base = dict(type="rect", xref="x domain", yref="y domain", xsizemode="pixel", ysizemode="pixel",
                xanchor=0, yanchor=0, y0=-24, y1=-10, line=dict(width=0))
    for i in range(LEGEND_STEPS):
        r, g, b = lut[round(i * (len(lut) - 1) / (LEGEND_STEPS - 1))]
        x0 = start + i * LEGEND_STEP_PIXELS
        shapes.append(dict(base, x0=x0, x1=x0 + LEGEND_STEP_PIXELS, fillcolor=f"rgb({r},{g},{b})"))
    end = start + LEGEND_STEPS * LEGEND_STEP_PIXELS
    shapes.append(dict(base, x0=end + 60, x1=end + 76, fillcolor=MASK_CSS))
    note = dict(xref="x domain", yref="y domain", x=0, y=0, yshift=-17, yanchor="middle", showarrow=False, font=dict(size=12))
    notes.append(dict(note, text=f"{geometry['zmin']:.3g}", xanchor="right", xshift=start - 4))
    notes.append(dict(note, text=f"{geometry['zmax']:.3g}", xanchor="left", xshift=end + 4))
    notes.append(dict(note, text=t("fig.masked"), xanchor="left", xshift=end + 80))
    return shapes, notes


def pooled_note(geometry: dict, t: Translator = english) -> str:
    """What a cell of a pooled overview stands for ("" when every cell is one token pair)."""
    f = geometry["pool"]
    if f == 1:
        return ""
    return t(f"fig.overview.pooled.{geometry['pooled_by']}", f=f)


def overview_image(records: Sequence, stage: str = "weights", title: Optional[str] = None,
                   validate: bool = True, t: Translator = english) -> go.Figure:
    """Figure: every layer (rows) x head (columns) of one kind as one image of α_ij (or a stage).
    validate=False skips plotly's property checks (viz.figure.figure); t writes the text."""
    canvas, geo = overview_rgb(records, stage)
    height, width, _ = canvas.shape
    pitch_w, pitch_h = geo["tile_w"] + geo["gap"], geo["tile_h"] + geo["gap"]
    shapes, notes = _legend(geo, t)
    kind = records[0].kind
    title = title or t("fig.overview.title", kind=t(f"fig.kind.{kind}"), stage=stage_title(stage, t))
    subtitle = pooled_note(geo, t)
    layer_labels = [t("fig.layer", layer=layer) for layer in geo["rows"]]
    # The title is pinned to the top edge and the margin holds it and the "head" labels under
    # it; the left margin holds the longest "layer" label (a PNG export has no automargin help).
    top = top_margin(title, subtitle, top_tick_font=12)
    layout = dict(
        title=pinned_title(title, subtitle),
        xaxis=dict(tickmode="array", tickvals=[h * pitch_w + (geo["tile_w"] - 1) / 2 for h in range(geo["n_tiles"])],
                   ticktext=[t("fig.head", head=h) for h in range(geo["n_tiles"])], side="top", showgrid=False,
                   zeroline=False, constrain="domain", constraintoward="left", tickfont=dict(size=12)),
        yaxis=dict(tickmode="array", tickvals=[i * pitch_h + (geo["tile_h"] - 1) / 2 for i in range(len(geo["rows"]))],
                   ticktext=layer_labels, showgrid=False, zeroline=False, tickfont=dict(size=12),
                   constrain="domain", constraintoward="top"),
        height=int(np.clip(PLOT_WIDTH_PIXELS * height / width, 160, 900)) + top + 40,
        margin=dict(l=label_margin(layer_labels, 12), r=10, t=top, b=40),
        shapes=shapes, annotations=notes,
    )
    return figure([dict(type="image", source=png_data_uri(canvas), hoverinfo="skip")], layout, validate)
