"""Token labels for plotly text: invisible characters made visible, markup shown literally."""
from __future__ import annotations

import html

# A space or newline token would be an empty-looking tick; these stand-ins keep it visible.
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}


# A character outside the model's vocabulary keeps its own text in the label, marked by colour
# (Okabe-Ito vermillion) and by shape (italic, a raised "?"), so the mark survives colour blindness.
UNKNOWN_COLOUR = "#d55e00"


def token_label(token: str, unknown: bool = False) -> str:
    """One token as plotly text: plotly renders tags such as <b> or <a href>, so < > & are
    escaped (plotly turns &lt; &gt; &amp; back into the characters, never into markup)."""
    # quote=False: plotly decodes only a few named entities and &quot; is not one of them.
    text = html.escape(VISIBLE.get(token, token), quote=False)
    if unknown:
        # our own markup around the escaped text: the token itself can never add a tag
        return f'<span style="color:{UNKNOWN_COLOUR}"><i>{text}</i><sup>?</sup></span>'
    return text


def token_labels(tokens: list[str], unknown=None) -> list[str]:
    """Labels of a token axis; unknown[i] True marks token i as outside the vocabulary."""
    flags = list(unknown or ())
    return [token_label(t, i < len(flags) and bool(flags[i])) for i, t in enumerate(tokens)]


def unknown_flags(trace, kind: str) -> tuple[list[bool], list[bool]]:
    """(query flags, key flags) of one attention kind: which tokens the model read as <unk>."""
    source, target = list(trace.encoder_unknown), list(trace.decoder_unknown)
    return {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}[kind]


def position_labels(tokens: list[str]) -> list[str]:
    """Unique category names "token (position)": repeated tokens (every "l" of "hello") would
    otherwise merge into one category on a plotly axis."""
    return [f"{token_label(t)} ({i})" for i, t in enumerate(tokens)]
