"""Token labels for plotly text: invisible characters made visible, markup shown literally."""
from __future__ import annotations

import html

# A space or newline token would be an empty-looking tick; these stand-ins keep it visible.
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


def token_label(token: str) -> str:
    """One token as plotly text: plotly renders tags such as <b> or <a href>, so < > & are
    escaped (plotly turns &lt; &gt; &amp; back into the characters, never into markup)."""
    # quote=False: plotly decodes only a few named entities and &quot; is not one of them.
    return html.escape(VISIBLE.get(token, token), quote=False)


def token_labels(tokens: list[str]) -> list[str]:
    return [token_label(t) for t in tokens]


def position_labels(tokens: list[str]) -> list[str]:
    """Unique category names "token (position)": repeated tokens (every "l" of "hello") would
    otherwise merge into one category on a plotly axis."""
    return [f"{token_label(t)} ({i})" for i, t in enumerate(tokens)]
