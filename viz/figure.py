"""go.Figure from plain dicts, with plotly's property validation only where it is wanted.

Building a figure through plotly's graph objects validates every property on the way in; for
the Explore page's two figures that took about 25 ms each here (of ~30 ms to build them), on
every rerun. The dicts below are the same figure without that cost.

Whether to validate is the caller's argument, never read here: viz functions validate unless
told not to, and the app's pages skip it unless ATTENTION_EXPLORER_VALIDATE_FIGURES=1
(ui/settings.py; conftest.py sets it), so every figure a test draws is still validated: a
misspelt property fails there, not silently in the browser.
"""
from __future__ import annotations

import math
from typing import Optional

import plotly.graph_objects as go

from .labels import refit_axis, text_pixels


def figure(data: list[dict], layout: dict, validate: bool = True) -> go.Figure:
    """The figure of `data` (trace dicts, each with its "type") and `layout`."""
    # _validate is plotly's own switch (plotly.basedatatypes.BaseFigure); the JSON it produces
    # is the same as the validated figure's for valid input.
    return go.Figure({"data": data, "layout": layout}, _validate=bool(validate))


LECTURE_FONT = 20        # px: legible from the back of a lecture hall (ui/lecture.py: text ≥ 20 px)
LECTURE_TITLE_FONT = 26
LECTURE_TEXT = "#000000"  # every text of a lecture figure: 21:1 on white


def for_projector(fig: go.Figure) -> go.Figure:
    """The same figure with every text at least lecture size: base font, title, axis ticks and
    titles, colour bar and annotations (a projector halves what is legible on a laptop)."""
    layout = fig.layout
    layout.font.size = max(layout.font.size or 12, LECTURE_FONT)
    layout.title.font.size = max(layout.title.font.size or 17, LECTURE_TITLE_FONT)
    layout.font.color = LECTURE_TEXT
    layout.title.font.color = LECTURE_TEXT
    for name in [key for key in layout.to_plotly_json() if key.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        axis.tickfont.size = max(axis.tickfont.size or 12, LECTURE_FONT)
        axis.title.font.size = max(axis.title.font.size or 14, LECTURE_FONT)
        # Streamlit's chart theme greys tick labels (#808495, 3.7:1 on white); a hall needs 7:1
        axis.tickfont.color = LECTURE_TEXT
        axis.title.font.color = LECTURE_TEXT
    _refit_token_axes(layout, LECTURE_FONT)
    for annotation in layout.annotations or ():
        annotation.font.size = max(annotation.font.size or 12, LECTURE_FONT)
        if not annotation.font.color:
            annotation.font.color = LECTURE_TEXT
    if layout.title.subtitle.text:
        layout.title.subtitle.font.size = max(layout.title.subtitle.font.size or 12, LECTURE_FONT)
    # the larger title and subtitle need more room above the plot, or they run into top ticks;
    # the figure grows by as much, so the plot keeps its size
    top = layout.margin.t if layout.margin.t is not None else 80
    layout.margin.t = max(int(top * 1.5), _pinned_title_room(layout))
    room_for_row_labels(fig)
    for name in [key for key in layout.to_plotly_json() if key.startswith("coloraxis")]:
        bar = layout[name].colorbar                # a colour bar shared by several traces
        bar.tickfont.size = max(bar.tickfont.size or 12, LECTURE_FONT)
        bar.tickfont.color = LECTURE_TEXT
        bar.title.font.size = max(bar.title.font.size or 12, LECTURE_FONT)
        bar.title.font.color = LECTURE_TEXT
    for trace in fig.data:
        if "colorbar" in trace:
            trace.colorbar.tickfont.size = LECTURE_FONT
            trace.colorbar.tickfont.color = LECTURE_TEXT
            trace.colorbar.title.font.color = LECTURE_TEXT
            trace.colorbar.title.font.size = max(trace.colorbar.title.font.size or 12, LECTURE_FONT)
        if "textfont" in trace and (trace["texttemplate"] if "texttemplate" in trace else None):
            # numbers printed in the cells (the worked example's 4 × 4 matrices)
            trace.textfont.size = max(trace.textfont.size or 12, LECTURE_FONT)
    if layout.height:
        before = layout.height
        layout.height += layout.margin.t - top
        if not any(trace.type == "image" for trace in fig.data):
            # room for the larger tick labels; an image keeps its aspect ratio, so there more
            # height would only be a gap
            layout.height = int(layout.height * 1.15)
        # a projector is a 1080-line screen too: grow up to it, never past it
        layout.height = min(layout.height, max(before, SCREEN_FIGURE_PIXELS))
    return fig


def _refit_token_axes(layout, font: int) -> None:
    """Token axes (viz.labels.token_axis) labelled again for `font` px: larger labels need more
    room each, so fewer may fit; the axis title then says which are shown (viz.labels.refit_axis)."""
    meta = layout.meta if isinstance(layout.meta, dict) else {}
    for name, plan in meta.get("token_axes", {}).items():
        if name in layout:
            changes = refit_axis(layout[name].to_plotly_json(), plan["ppc"], plan["along"], font, meta["tick_notes"])
            layout[name].update(changes)


def _pinned_title_room(layout) -> int:
    """The top margin a title pinned to the top edge (pinned_title) needs at the layout's
    current font sizes, above any top tick labels; 0 for a title plotly places itself."""
    if layout.title.yref != "container" or layout.title.yanchor != "top" or not layout.title.text:
        return 0
    axes = [layout[name] for name in layout.to_plotly_json() if name.startswith("xaxis")]
    top_ticks = [a.tickfont.size or TICK_FONT for a in axes if a.side == "top" and a.showticklabels is not False]
    return top_margin(layout.title.text, layout.title.subtitle.text or "", max(top_ticks) if top_ticks else None,
                      layout.title.font.size or TITLE_FONT, layout.title.subtitle.font.size or SUBTITLE_FONT)


def room_for_row_labels(fig: go.Figure) -> go.Figure:
    """Widen the left margin to hold the first y axis's tick labels at their size, where plotly
    would not grow it (automargin off): a cut "layer 1" label reads as nothing. In place."""
    layout = fig.layout
    axis = layout.yaxis
    if axis.automargin or not axis.ticktext or axis.side == "right" or axis.showticklabels is False:
        return fig
    layout.margin.l = max(layout.margin.l or 0, label_margin(axis.ticktext, axis.tickfont.size or TICK_FONT))
    return fig


# ---- room for titles and labels -----------------------------------------------------------------

# A figure taller than this does not fit a 1920×1080 screen with the browser's bars (~120 px),
# Streamlit's header (~60 px) and a line of the page above it: the reader would scroll inside
# one chart. Figures that grow with their input stop here.
SCREEN_FIGURE_PIXELS = 860
TITLE_FONT = 17          # plotly's default title size for a 12 px base font
SUBTITLE_FONT = 12
TICK_FONT = 12
TITLE_PAD = 8            # px between the figure's top edge and the title
TICK_LEN = 5             # plotly's default tick length
GAP = 6                  # px between the title block and the top tick labels
# Measured in the app (Streamlit's plotly.js, Source Sans): a title line takes about 1.3 em, a
# subtitle stands 1.6 em of its own font below the title (plotly.js SUBTITLE_PADDING_EM), and a
# top tick label with its tick about 1.4 em + the tick length + 2 px.
TITLE_LINE_EMS = 1.3
SUBTITLE_PADDING_EMS = 1.6
TICK_LABEL_EMS = 1.4


def text_lines(text) -> int:
    """How many lines plotly draws for `text` (<br> breaks lines; empty text takes none)."""
    return str(text).count("<br>") + 1 if text else 0


def title_pixels(title: str, subtitle: str = "", title_font: float = TITLE_FONT,
                 subtitle_font: float = SUBTITLE_FONT) -> float:
    """Height of a title and its subtitle, one under the other."""
    height = TITLE_LINE_EMS * title_font * text_lines(title)
    if subtitle:
        height += (SUBTITLE_PADDING_EMS + TITLE_LINE_EMS * text_lines(subtitle)) * subtitle_font
    return height


def top_margin(title: str, subtitle: str = "", top_tick_font: Optional[float] = None,
               title_font: float = TITLE_FONT, subtitle_font: float = SUBTITLE_FONT) -> int:
    """A top margin that holds the title block pinned to the top edge and, under it, the tick
    labels of an axis drawn on top (top_tick_font, None when there is none): never overprinted."""
    ticks = TICK_LABEL_EMS * top_tick_font + TICK_LEN + 2 if top_tick_font else 0.0
    title, subtitle = _title_lines(title, subtitle)
    return math.ceil(TITLE_PAD + title_pixels(title, subtitle, title_font, subtitle_font) + GAP + ticks)


def _title_lines(title: str, subtitle: str = "") -> tuple[str, str]:
    """(title, subtitle) as pinned_title draws them: a title's first line, its other lines
    above the subtitle's."""
    first, _, rest = str(title).partition("<br>")
    return first, "<br>".join(part for part in (rest, subtitle) if part)


def pinned_title(text: str, subtitle: str = "", subtitle_font: float = SUBTITLE_FONT) -> dict:
    """A layout title anchored at the figure's top edge (not centred in the top margin, where a
    subtitle slides down into the top tick labels); top_margin() says how much room it takes.
    A title of several lines keeps its first as the title and the rest go to the subtitle: the
    browser's plotly anchors a multi-line title by its last line, pushing the first off the top."""
    first, subtitle = _title_lines(text, subtitle)
    return dict(text=first, font=dict(size=TITLE_FONT), y=1, yref="container", yanchor="top",
                pad=dict(t=TITLE_PAD), subtitle=dict(text=subtitle, font=dict(size=subtitle_font)))


def label_margin(labels, font_size: float = TICK_FONT) -> int:
    """A side margin that holds the longest of `labels` (tick labels beside the plot)."""
    return math.ceil(max((text_pixels(label, font_size) for label in labels), default=0.0) + TICK_LEN + 6)
