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

import plotly.graph_objects as go


def figure(data: list[dict], layout: dict, validate: bool = True) -> go.Figure:
    """The figure of `data` (trace dicts, each with its "type") and `layout`."""
    # _validate is plotly's own switch (plotly.basedatatypes.BaseFigure); the JSON it produces
    # is the same as the validated figure's for valid input.
    return go.Figure({"data": data, "layout": layout}, _validate=bool(validate))


LECTURE_FONT = 18        # px: legible from the back of a lecture hall on a projector
LECTURE_TITLE_FONT = 24


def for_projector(fig: go.Figure) -> go.Figure:
    """The same figure with every text at least lecture size: base font, title, axis ticks and
    titles, colour bar and annotations (a projector halves what is legible on a laptop)."""
    layout = fig.layout
    layout.font.size = max(layout.font.size or 12, LECTURE_FONT)
    layout.title.font.size = max(layout.title.font.size or 17, LECTURE_TITLE_FONT)
    layout.font.color = "#000000"
    for name in [key for key in layout.to_plotly_json() if key.startswith(("xaxis", "yaxis"))]:
        axis = layout[name]
        axis.tickfont.size = max(axis.tickfont.size or 12, LECTURE_FONT)
        axis.title.font.size = max(axis.title.font.size or 14, LECTURE_FONT)
    for annotation in layout.annotations or ():
        annotation.font.size = max(annotation.font.size or 12, LECTURE_FONT - 2)
    if layout.title.subtitle.text:
        layout.title.subtitle.font.size = max(layout.title.subtitle.font.size or 12, LECTURE_FONT - 2)
    # the larger title and subtitle need more room above the plot, or they run into top ticks;
    # the figure grows by as much, so the plot keeps its size
    top = layout.margin.t if layout.margin.t is not None else 80
    layout.margin.t = int(top * 1.5)
    for trace in fig.data:
        if "colorbar" in trace:
            trace.colorbar.tickfont.size = LECTURE_FONT
    if layout.height:
        layout.height += layout.margin.t - top
        if not any(trace.type == "image" for trace in fig.data):
            # room for the larger tick labels; an image keeps its aspect ratio, so there more
            # height would only be a gap
            layout.height = int(layout.height * 1.15)
    return fig
