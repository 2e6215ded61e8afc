"""What the app reads from its environment, in one place: viz/ takes these as arguments and
never reads the environment itself."""
from __future__ import annotations

import os


def validate_figures() -> bool:
    """Run plotly's property validation on figures the pages build (slower: ~25 ms a figure).
    Off in the app; conftest.py sets ATTENTION_EXPLORER_VALIDATE_FIGURES=1 for every test."""
    return os.environ.get("ATTENTION_EXPLORER_VALIDATE_FIGURES", "") == "1"

