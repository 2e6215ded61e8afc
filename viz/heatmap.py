"""One head as an interactive heatmap: rows = queries, columns = keys, α_ij or a stage before it."""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import plotly.graph_objects as go

from .colors import colorscale, hatch_image, png_data_uri, stage_scale, value_range
from .figure import figure
from .labels import UNKNOWN_COLOUR, position_labels, token_labels
from .stages import STAGE_TITLES, Head, head_matrix, head_name

# What the rows and columns are for each kind of attention; cross attention is the same picture
# with decoder queries and encoder keys, so it shares every line below.
AXIS_TITLES = {
    "encoder": ("query (source token)", "key (source token)"),
    "decoder": ("query (target token)", "key (target token)"),
    "cross": ("query (decoder token)", "key (encoder token)"),
}
ROW_PIXELS = 18        # tall enough for a 12 px label per row
SHORT_MATRIX_PIXELS = 700  # a short matrix still gets this much height, so cells are not slivers
MAX_ROW_PIXELS = 36
HATCH_CELL_PIXELS = 6  # hatch resolution per matrix cell: 2 stripes, stretched with the plot
HATCH_MAX_PIXELS = 1536  # ...but at most this many per side: 512 tokens x 6 px would be 3072²
MAX_PLOT_PIXELS = 1830   # a long input's matrix stops growing here; hover still reads every cell
PLOT_WIDTH_PIXELS = 800  # about what the wide layout gives the matrix on a 1400 px window
LABEL_PIXELS = 11        # a 12 px tick label (rotated, on x) needs about this much room, or labels overprint


def label_step(pixels_per_cell: float) -> int:
    """Label every k-th cell so that labels do not overprint (k = 1 while they fit)."""
    return max(1, math.ceil(LABEL_PIXELS / max(pixels_per_cell, 1e-6)))


def figure_title(record, head: Head, stage: str) -> str:
    return f"{record.kind} attention · layer {record.layer} · {head_name(head)} · {STAGE_TITLES[stage]}"


def head_heatmap(record, head: Head, stage: str = "weights", title: Optional[str] = None,
                 unknown: tuple = ((), ()), validate: bool = True) -> go.Figure:
    """Figure: one head's [q_pos, k_pos] matrix of softmax(q·k·scale + bias) or a stage before it.
    unknown: (query flags, key flags), True where the model read the token as <unk>;
    validate=False skips plotly's property checks (viz.figure.figure)."""
    z = head_matrix(record, head, stage)                    # [q_pos, k_pos], NaN where masked
    n_rows, n_cols = z.shape
    zmin, zmax = value_range(z, stage)
    rows = position_labels(record.query_tokens[:n_rows])
    cols = position_labels(record.key_tokens[:n_cols])
    y_title, x_title = AXIS_TITLES.get(record.kind, ("query", "key"))
    masked = bool(np.isnan(z).any())

    heatmap = dict(
        type="heatmap", z=z, x=cols, y=rows, zmin=zmin, zmax=zmax,
        colorscale=colorscale(*stage_scale(stage)),
        colorbar=dict(title=dict(text=stage), thickness=14),
        # Masked cells have no value; hovering them would only show an empty number.
        hoverongaps=False,
        hovertemplate=f"query %{{y}}<br>key %{{x}}<br>{stage} %{{z:.6g}}<extra></extra>",
    )
    notes = ["hatched cells: masked (this query may not attend to this key)"] if masked else []
    if any(unknown[0]) or any(unknown[1]):
        notes.append(f'<span style="color:{UNKNOWN_COLOUR}"><i>x</i><sup>?</sup></span>: outside the vocabulary, read as &lt;unk&gt;')
    plot_height = int(min(n_rows * np.clip(SHORT_MATRIX_PIXELS / max(n_rows, 1), ROW_PIXELS, MAX_ROW_PIXELS),
                          MAX_PLOT_PIXELS))
    row_step, col_step = label_step(plot_height / n_rows), label_step(PLOT_WIDTH_PIXELS / n_cols)
    if row_step > 1 or col_step > 1:
        notes.append("labels: every " + (f"{row_step}th row" if row_step > 1 else "row")
                     + " and " + (f"{col_step}th column" if col_step > 1 else "column") + "; hover names every cell")
    subtitle = " · ".join(notes)
    row_text = token_labels(record.query_tokens[:n_rows], unknown[0])
    col_text = token_labels(record.key_tokens[:n_cols], unknown[1])
    axis = dict(type="category", tickmode="array", showgrid=False, zeroline=False,
                tickfont=dict(size=12), automargin=True)
    layout = dict(
        title=dict(text=title or figure_title(record, head, stage),
                   subtitle=dict(text=subtitle, font=dict(size=12))),
        # Categories are unique "token (position)" names; the ticks show the bare token.
        # Explicit ranges: exactly the cells, no padding band around them.
        xaxis=dict(axis, title=dict(text=x_title), range=[-0.5, n_cols - 0.5],
                   tickvals=cols[::col_step], ticktext=col_text[::col_step]),
        # go.Heatmap puts row 0 at the bottom; an attention matrix reads from the top, so the
        # y range runs from the last row down to the first.
        yaxis=dict(axis, title=dict(text=y_title), tickvals=rows[::row_step], ticktext=row_text[::row_step],
                   range=[n_rows - 0.5, -0.5]),
        height=plot_height + 170,
        margin=dict(l=10, r=10, t=80, b=10),
    )
    if masked:
        # NaN cells are transparent: a hatch image behind the heatmap shows through exactly there.
        cell = int(np.clip(HATCH_MAX_PIXELS // max(n_rows, n_cols), 2, HATCH_CELL_PIXELS))
        hatch = hatch_image(n_rows * cell, n_cols * cell, cell)
        layout["images"] = [dict(source=png_data_uri(hatch), xref="x domain", yref="y domain",
                                 x=0, y=1, sizex=1, sizey=1, xanchor="left", yanchor="top",
                                 sizing="stretch", layer="below")]
    return figure([heatmap], layout, validate)
