"""What the app reads from its environment, in one place: viz/ takes these as arguments and
never reads the environment itself."""
from __future__ import annotations

import os
from typing import Optional

from viz.export import chromium_path


def validate_figures() -> bool:
    """Run plotly's property validation on figures the pages build (slower: ~25 ms a figure).
    Off in the app; conftest.py sets ATTENTION_EXPLORER_VALIDATE_FIGURES=1 for every test."""
    return os.environ.get("ATTENTION_EXPLORER_VALIDATE_FIGURES", "") == "1"


def browser() -> Optional[str]:
    """The Chromium for server-side PNG export: $BROWSER_PATH if set (and present), else a
    system Chromium, else None (the PNG button is not shown)."""
    return chromium_path(os.environ.get("BROWSER_PATH"))
