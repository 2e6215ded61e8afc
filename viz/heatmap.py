"""One head as an interactive heatmap: rows = queries, columns = keys, α_ij or a stage before it."""
from __future__ import annotations

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


def figure_title(record, head: Head, stage: str) -> str:
    return f"{record.kind} attention · layer {record.layer} · {head_name(head)} · {STAGE_TITLES[stage]}"


def head_heatmap(record, head: Head, stage: str = "weights", title: Optional[str] = None,
                 unknown: tuple = ((), ())) -> go.Figure:
    """Figure: one head's [q_pos, k_pos] matrix of softmax(q·k·scale + bias) or a stage before it.
    unknown: (query flags, key flags), True where the model read the token as <unk>."""
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
    subtitle = " · ".join(notes)
    axis = dict(type="category", tickmode="array", showgrid=False, zeroline=False,
                tickfont=dict(size=12), automargin=True)
    layout = dict(
        title=dict(text=title or figure_title(record, head, stage),
                   subtitle=dict(text=subtitle, font=dict(size=12))),
        # Categories are unique "token (position)" names; the ticks show the bare token.
        # Explicit ranges: exactly the cells, no padding band around them.
        xaxis=dict(axis, title=dict(text=x_title), range=[-0.5, n_cols - 0.5], tickvals=cols, ticktext=token_labels(record.key_tokens[:n_cols], unknown[1])),
        # go.Heatmap puts row 0 at the bottom; an attention matrix reads from the top, so the
        # y range runs from the last row down to the first.
        yaxis=dict(axis, title=dict(text=y_title), tickvals=rows, ticktext=token_labels(record.query_tokens[:n_rows], unknown[0]),
                   range=[n_rows - 0.5, -0.5]),
        height=int(min(n_rows * np.clip(SHORT_MATRIX_PIXELS / max(n_rows, 1), ROW_PIXELS, MAX_ROW_PIXELS), 1830)) + 170,
        margin=dict(l=10, r=10, t=80, b=10),
    )
    if masked:
        # NaN cells are transparent: a hatch image behind the heatmap shows through exactly there.
        hatch = hatch_image(n_rows * HATCH_CELL_PIXELS, n_cols * HATCH_CELL_PIXELS, HATCH_CELL_PIXELS)
        layout["images"] = [dict(source=png_data_uri(hatch), xref="x domain", yref="y domain",
                                 x=0, y=1, sizex=1, sizey=1, xanchor="left", yanchor="top",
                                 sizing="stretch", layer="below")]
    return figure([heatmap], layout)
