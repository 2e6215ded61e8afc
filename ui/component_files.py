"""Streamlit components v2 of this app: each is ui/components/<stem>.{html,css,js}, registered
once per process (a second registration under one name only logs a warning)."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

FILES = Path(__file__).parent / "components"


@st.cache_resource
def component(stem: str):
    """The mounting command of ui/components/<stem>.*, named attention_explorer.<stem>."""
    return st.components.v2.component(
        f"attention_explorer.{stem}",
        html=(FILES / f"{stem}.html").read_text(encoding="utf-8"),
        css=(FILES / f"{stem}.css").read_text(encoding="utf-8"),
        js=(FILES / f"{stem}.js").read_text(encoding="utf-8"),
    )
