"""One head as an interactive heatmap: rows = queries, columns = keys, α_ij or a stage before it."""
from __future__ import annotations

from typing import Optional

import numpy as np
import plotly.graph_objects as go

from .colors import colorscale, hatch_image, png_data_uri, stage_scale, value_range
from .figure import SCREEN_FIGURE_PIXELS, figure
from .labels import line_pixels, text_pixels
from .labels import UNKNOWN_COLOUR, position_labels, remember_ticks, token_axis, with_note
from .stages import Head, head_matrix, head_name, stage_title
from .text import Translator, english

ROW_PIXELS = 18        # tall enough for a 12 px label per row
SHORT_MATRIX_PIXELS = 700  # a short matrix still gets this much height, so cells are not slivers
MAX_ROW_PIXELS = 36
MIN_PLOT_PIXELS = 240    # a capped figure still leaves the matrix this much height
HATCH_CELL_PIXELS = 6  # hatch resolution per matrix cell: 2 stripes, stretched with the plot
HATCH_MAX_PIXELS = 1536  # ...but at most this many per side: 512 tokens x 6 px would be 3072²
PLOT_WIDTH_PIXELS = 800  # about what the wide layout gives the matrix on a 1400 px window
TOP_PIXELS = 80          # title and subtitle
BOTTOM_PIXELS = 10
AXIS_TITLE_FONT = 14


def figure_title(record, head: Head, stage: str, t: Translator = english) -> str:
    return t("fig.sep").join([t(f"fig.kind.{record.kind}"), t("fig.layer", layer=record.layer),
                              head_name(head, t), stage_title(stage, t)])


def axis_titles(kind: str, t: Translator = english) -> tuple[str, str]:
    """(rows, columns): what the queries and keys are for this kind of attention; cross attention
    is the same picture with decoder queries and encoder keys, so it shares every line below."""
    if kind not in ("encoder", "decoder", "cross"):
        return t("fig.query"), t("fig.key")
    return t(f"fig.axis.{kind}.query"), t(f"fig.axis.{kind}.key")


def matrix_plot_pixels(n_rows: int, below: float) -> int:
    """Height of a matrix's plot area: ROW_PIXELS..MAX_ROW_PIXELS a row (a short matrix gets
    SHORT_MATRIX_PIXELS), but never so tall that the figure, with `below` pixels of labels and
    titles under the plot and the title above it, leaves a 1920×1080 screen."""
    wanted = n_rows * float(np.clip(SHORT_MATRIX_PIXELS / max(n_rows, 1), ROW_PIXELS, MAX_ROW_PIXELS))
    room = SCREEN_FIGURE_PIXELS - TOP_PIXELS - below - BOTTOM_PIXELS
    return int(max(min(wanted, room), min(wanted, MIN_PLOT_PIXELS)))


def x_labels_pixels(axis: dict, title: str) -> float:
    """Height under the plot taken by an x axis's tick labels (upright or turned) and its title."""
    font = axis["tickfont"]["size"]
    if axis.get("tickangle") == -90:
        ticks = max((text_pixels(label, font) for label in axis["ticktext"]), default=0.0)
    else:
        ticks = line_pixels(font)
    return ticks + 10 + line_pixels(AXIS_TITLE_FONT, title.count("<br>") + 1)


def head_heatmap(record, head: Head, stage: str = "weights", title: Optional[str] = None,
                 unknown: tuple = ((), ()), validate: bool = True, t: Translator = english) -> go.Figure:
    """Figure: one head's [q_pos, k_pos] matrix of softmax(q·k·scale + bias) or a stage before it.
    unknown: (query flags, key flags), True where the model read the token as <unk>;
    validate=False skips plotly's property checks (viz.figure.figure); t writes the text."""
    z = head_matrix(record, head, stage)                    # [q_pos, k_pos], NaN where masked
    n_rows, n_cols = z.shape
    zmin, zmax = value_range(z, stage)
    rows = position_labels(record.query_tokens[:n_rows])
    cols = position_labels(record.key_tokens[:n_cols])
    y_title, x_title = axis_titles(record.kind, t)
    masked = bool(np.isnan(z).any())
    short = t(f"fig.stage_short.{stage}")

    heatmap = dict(
        type="heatmap", z=z, x=cols, y=rows, zmin=zmin, zmax=zmax,
        colorscale=colorscale(*stage_scale(stage)),
        colorbar=dict(title=dict(text=short), thickness=14),
        # Masked cells have no value; hovering them would only show an empty number.
        hoverongaps=False,
        hovertemplate=f"{t('fig.query')} %{{y}}<br>{t('fig.key')} %{{x}}<br>{short} %{{z:.6g}}<extra></extra>",
    )
    notes = [t("fig.heatmap.hatched")] if masked else []
    if any(unknown[0]) or any(unknown[1]):
        notes.append(f'<span style="color:{UNKNOWN_COLOUR}"><i>x</i><sup>?</sup></span>: {t("fig.heatmap.unknown")}')
    subtitle = t("fig.sep").join(notes)
    # Columns first: their labels (upright or turned) decide how much height is left for rows.
    x_axis, x_note = token_axis(record.key_tokens[:n_cols], PLOT_WIDTH_PIXELS / n_cols, "x", unknown[1], t=t)
    x_title = with_note(x_title, x_note)
    plot_height = matrix_plot_pixels(n_rows, x_labels_pixels(x_axis, x_title))
    y_axis, y_note = token_axis(record.query_tokens[:n_rows], plot_height / n_rows, "y", unknown[0], t=t)
    common = dict(showgrid=False, zeroline=False)
    layout = dict(
        title=dict(text=title or figure_title(record, head, stage, t),
                   subtitle=dict(text=subtitle, font=dict(size=12))),
        # Categories are unique "token (position)" names; the ticks show the bare token.
        # Explicit ranges: exactly the cells, no padding band around them.
        xaxis=dict(x_axis, **common, title=dict(text=x_title), range=[-0.5, n_cols - 0.5]),
        # go.Heatmap puts row 0 at the bottom; an attention matrix reads from the top, so the
        # y range runs from the last row down to the first.
        yaxis=dict(y_axis, **common, title=dict(text=with_note(y_title, y_note)), range=[n_rows - 0.5, -0.5]),
        height=int(plot_height + TOP_PIXELS + x_labels_pixels(x_axis, x_title) + BOTTOM_PIXELS),
        margin=dict(l=10, r=10, t=TOP_PIXELS, b=BOTTOM_PIXELS),
    )
    remember_ticks(layout, {"xaxis": (PLOT_WIDTH_PIXELS / n_cols, "x"), "yaxis": (plot_height / n_rows, "y")}, t)
    if masked:
        # NaN cells are transparent: a hatch image behind the heatmap shows through exactly there.
        cell = int(np.clip(HATCH_MAX_PIXELS // max(n_rows, n_cols), 2, HATCH_CELL_PIXELS))
        hatch = hatch_image(n_rows * cell, n_cols * cell, cell)
        layout["images"] = [dict(source=png_data_uri(hatch), xref="x domain", yref="y domain",
                                 x=0, y=1, sizex=1, sizey=1, xanchor="left", yanchor="top",
                                 sizing="stretch", layer="below")]
    return figure([heatmap], layout, validate)
