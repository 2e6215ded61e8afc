"""Pure figure functions: AttentionRecord(s) or arrays -> plotly Figure (numpy + plotly only).

Importing the package imports neither plotly nor a figure module: ui/state.py reads the stage
vocabulary (viz.stages, numpy only) without paying for plotly; the figure functions below are
imported on first use.
"""
from __future__ import annotations

import importlib

_LAZY = {
    "MATRIX_VIEWS": ".stages", "STAGE_TITLES": ".stages", "head_matrix": ".stages", "head_name": ".stages",
    "stage_title": ".stages", "stage_values": ".stages",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_LAZY)
