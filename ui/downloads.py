"""Download buttons for the figure on screen: standalone HTML and, where Kaleido can run, PNG.

Both are deferred (Streamlit calls the function only when the button is clicked), so showing
the buttons costs nothing on a rerun; plotly's toolbar camera exports PNG in the browser too.
"""
from __future__ import annotations

import streamlit as st

from viz.export import png_bytes, png_export_available, standalone_html

from .settings import browser


def figure_downloads(ctx, figure, stem: str, key: str) -> None:
    """Buttons "HTML" and "PNG" for `figure`, saved as stem.html / stem.png (none in lecture mode)."""
    if ctx.lecture:
        return
    t = ctx.t
    left, right, _ = st.columns([1, 1, 3])
    left.download_button(t("download.figure"), data=lambda: standalone_html(figure), file_name=f"{stem}.html",
                         mime="text/html", key=f"{key}.html", on_click="ignore", help=t("download.figure.help"),
                         width="stretch")
    chromium = browser()
    if png_export_available(chromium):
        right.download_button(t("download.png"), data=lambda: png_bytes(figure, chromium), file_name=f"{stem}.png",
                              mime="image/png", key=f"{key}.png", on_click="ignore", help=t("download.png.help"),
                              width="stretch")
