"""A figure as a standalone HTML page or a PNG, the way plotly itself exports them.

PNG goes through plotly's own static export (Kaleido), which drives a headless Chromium. On
these machines that is Debian's /usr/bin/chromium; nothing downloads a browser. Each export
starts a browser (about 3 s here), so the app only calls this when a user clicks download.
"""
from __future__ import annotations

import os
import shutil

import plotly.graph_objects as go

SYSTEM_CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")


def standalone_html(figure: go.Figure) -> str:
    """The figure with plotly.js inlined: opens offline, hover and zoom included."""
    return figure.to_html(include_plotlyjs=True, full_html=True)


def chromium_path() -> str | None:
    """The browser Kaleido will drive: $BROWSER_PATH if set, else a system Chromium."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if shutil.which(configured) or os.path.exists(configured) else None
    return next((path for path in SYSTEM_CHROMIUM if os.path.exists(path)), None)


def png_export_available() -> bool:
    try:
        import kaleido  # noqa: F401
    except ImportError:
        return False
    return chromium_path() is not None


def png_bytes(figure: go.Figure, scale: float = 2) -> bytes:
    """PNG of the figure at `scale` times its layout size (plotly.io.to_image via Kaleido)."""
    browser = chromium_path()
    if browser is None:
        raise RuntimeError("PNG export needs Chromium: install Debian's chromium or set BROWSER_PATH")
    # choreographer (under Kaleido) looks for the browser in BROWSER_PATH before its own cache.
    os.environ.setdefault("BROWSER_PATH", browser)
    width = figure.layout.width or 1000
    return figure.to_image(format="png", scale=scale, width=width, height=figure.layout.height)
