"""A figure as a standalone HTML page or a PNG, the way plotly itself exports them.

PNG goes through plotly's own static export (Kaleido), which drives a headless Chromium. On
these machines that is Debian's /usr/bin/chromium; nothing downloads a browser. Each export
starts a browser (about 3 s here), so the app only calls this when a user clicks download.
Which browser is the caller's argument: nothing here reads or sets environment variables
(ui/settings.py reads BROWSER_PATH for the app).
"""
from __future__ import annotations

import os
import shutil
from typing import Optional

import plotly.graph_objects as go

from .figure import room_for_row_labels

SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def standalone_html(figure: go.Figure) -> str:
    """The figure with plotly.js inlined: opens offline, hover and zoom included."""
    return export_figure(figure).to_html(include_plotlyjs=True, full_html=True)


def chromium_path(configured: Optional[str] = None) -> Optional[str]:
    """The browser Kaleido will drive: `configured` (a path or a command name) if it exists,
    else a system Chromium when nothing is configured, else None."""
    if configured:
        return configured if shutil.which(configured) or os.path.exists(configured) else None
    return next((path for path in SYSTEM_CHROMIUM if os.path.exists(path)), None)


def png_export_available(browser: Optional[str]) -> bool:
    """Kaleido is installed and there is a browser for it (chromium_path's answer)."""
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return browser is not None


def export_figure(figure: go.Figure) -> go.Figure:
    """A copy of the figure as an exported image must be laid out: the app's page may lend a chart
    room its own layout lacks (Streamlit's theme), a PNG has only its margins. So the left margin
    holds the row labels ("layer 11", "第 11 层") at their font size, and every axis may grow its
    margin for its labels (plotly's automargin)."""
    copy = go.Figure(figure)
    room_for_row_labels(copy)
    for name in [key for key in copy.layout.to_plotly_json() if key.startswith(("xaxis", "yaxis"))]:
        copy.layout[name].automargin = True
    return copy


def png_bytes(figure: go.Figure, browser: str, scale: float = 2) -> bytes:
    """PNG of the figure at `scale` times its layout size (Kaleido, as plotly.io.to_image, with
    the browser handed to it rather than found through $BROWSER_PATH)."""
    if not browser:
        raise RuntimeError("PNG export needs Chromium: install Debian's chromium or set BROWSER_PATH")
    import kaleido
    import plotly.io as pio

    # What plotly.io.to_image passes on, plus the browser (choreographer's Browser(path=...)).
    kopts = {"path": browser}
    for name in ("plotlyjs", "mathjax", "headers"):
        value = getattr(pio.defaults, name, None)
        if value:
            kopts[name] = value
    figure = export_figure(figure)
    opts = dict(format="png", width=figure.layout.width or 1000,
                height=figure.layout.height or pio.defaults.default_height, scale=scale)
    return kaleido.calc_fig_sync(figure.to_dict(), opts=opts, topojson=pio.defaults.topojson, kopts=kopts)
