"""One module per page, each with render(ctx: PageContext)."""
from __future__ import annotations

from importlib import import_module
from typing import Callable

from ..state import PAGES

# page name (the URL's `page` value) -> module in this package
MODULES = {
    "explore": "explore",
    "anatomy": "anatomy",
    "generation": "generation",
    "worked-example": "worked_example",
    "aggregates": "aggregates",
    "intervene": "intervene",
}
assert set(MODULES) == set(PAGES)
# Pages that draw from the typed text's trace; the worked example has its own matrices.
NEEDS_TRACE = {"explore", "anatomy", "generation", "aggregates", "intervene"}


def renderer(page: str) -> Callable:
    return import_module(f"{__name__}.{MODULES[page]}").render
