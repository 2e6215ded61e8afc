"""One module per page, each with render(ctx: PageContext); ui/registry.py lists them. Here the
registry becomes Streamlit's navigation: one st.Page per entry, its URL path the page's id."""
from __future__ import annotations

from functools import partial
from typing import Callable

import streamlit as st

from ..registry import PAGES, PageEntry


def navigation_pages(t: Callable[..., str], show: Callable[[PageEntry], None]) -> dict[str, st.Page]:
    """page id -> st.Page for st.navigation, titled in the interface's language; running one
    calls show(entry). The first entry is the default page, served at the root (/)."""
    return {entry.id: st.Page(partial(show, entry), title=t(entry.title_key), url_path=entry.id,
                              default=number == 0)
            for number, entry in enumerate(PAGES)}
