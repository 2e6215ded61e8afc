"""The app's pages: the one list that says what each page is and what the frame gives it.

Adding a page: write ui/pages/<module>.py with render(ctx: PageContext), add one PageEntry
below, and its title in both languages (`page.<id>` in ui/i18n.py). The id is the page's URL path
(/anatomy; the first page is the root, /), the value old links carry in `?page=`, and the
ViewState's `page`. No streamlit and no torch here: ui/state.py validates links against it.
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Callable


@dataclass(frozen=True)
class PageEntry:
    """One page: what it is called and what the frame (app.py) gives it before render(ctx)."""

    id: str                  # URL path and `page` value: lower case, digits and '-', never '/'
    module: str              # ui/pages/<module>.py, whose render(ctx) draws the page
    needs_trace: bool        # draws from the typed text's trace: the frame shows the text box and runs it
    hides_special: bool      # may drop special tokens from its views (the frame offers the toggle)

    @property
    def title_key(self) -> str:
        """The page's title in the translation table (ui/i18n.py), in both languages."""
        return f"page.{self.id}"

    @property
    def render(self) -> Callable:
        """render(ctx) of the page's module, imported on first use (pages import plotly and viz)."""
        return import_module(f"ui.pages.{self.module}").render


# In navigation order; the first is the default page, served at the app's root.
PAGES = (
    PageEntry("explore", "explore", needs_trace=True, hides_special=True),
    PageEntry("anatomy", "anatomy", needs_trace=True, hides_special=True),
    # The block's steps at one position of the model's own tokens: nothing is hidden.
    PageEntry("block", "block", needs_trace=True, hides_special=False),
    # Generation and Intervene keep every position: their steps and hidden keys are counted
    # over the model's own tokens.
    PageEntry("generation", "generation", needs_trace=True, hides_special=False),
    # The worked example has its own 4×4 matrices, not the typed text's.
    PageEntry("worked-example", "worked_example", needs_trace=False, hides_special=False),
    PageEntry("aggregates", "aggregates", needs_trace=True, hides_special=True),
    PageEntry("intervene", "intervene", needs_trace=True, hides_special=False),
)
IDS = tuple(page.id for page in PAGES)
DEFAULT = PAGES[0].id
_BY_ID = {page.id: page for page in PAGES}
assert len(_BY_ID) == len(PAGES), "page ids must be unique"


def page(page_id: str) -> PageEntry:
    """The registry entry of an id (KeyError for anything else)."""
    return _BY_ID[page_id]
