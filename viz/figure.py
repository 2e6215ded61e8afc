"""go.Figure from plain dicts, with plotly's property validation only where it is wanted.

Building a figure through plotly's graph objects validates every property on the way in; for
the Explore page's two figures that took about 25 ms each here (of ~30 ms to build them), on
every rerun. The dicts below are the same figure without that cost. The tests set
ATTENTION_EXPLORER_VALIDATE_FIGURES=1 (conftest.py), so every figure a test draws is still
validated: a misspelt property fails there, not silently in the browser.
"""
from __future__ import annotations

import os

import plotly.graph_objects as go


def validating() -> bool:
    return os.environ.get("ATTENTION_EXPLORER_VALIDATE_FIGURES", "") == "1"


def figure(data: list[dict], layout: dict) -> go.Figure:
    """The figure of `data` (trace dicts, each with its "type") and `layout`."""
    # _validate is plotly's own switch (plotly.basedatatypes.BaseFigure); the JSON it produces
    # is the same as the validated figure's for valid input.
    return go.Figure({"data": data, "layout": layout}, _validate=validating())
