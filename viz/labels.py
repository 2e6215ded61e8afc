"""Token labels for plotly text: invisible characters made visible, markup shown literally."""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Optional

from .text import Translator, english, ordinal

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


def position_labels(tokens: list[str]) -> list[str]:
    """Unique category names "token (position)": repeated tokens (every "l" of "hello") would
    otherwise merge into one category on a plotly axis."""
    return [f"{token_label(t)} ({i})" for i, t in enumerate(tokens)]


# ---- how much room a label needs ----------------------------------------------------------------

# Rough advance widths in ems (1 em = the font size in pixels) for the sans-serif fonts plotly
# uses: wide (CJK) characters take a full em, ASCII and most others about 0.6 em. Enough to
# decide whether labels fit; a browser's exact metrics differ by a few percent.
WIDE_EM, NARROW_EM = 1.0, 0.62
LINE_EMS = 1.25          # a line of text, glyph and leading, is about this many ems tall
MIN_TICK_FONT = 9        # px: smaller tick labels are no longer legible on a laptop
# Steps for thinned labels: a reader can count positions in 2s, 5s and 10s.
NICE_STEPS = (2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000)

_TAG = re.compile(r"<[^>]*>")
_ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def plain_text(label: str) -> str:
    """What a plotly label shows: its tags removed and &lt; &gt; &amp; turned back into characters."""
    text = _TAG.sub("", str(label))
    for entity, char in _ENTITIES.items():
        text = text.replace(entity, char)
    return text


def text_pixels(label: str, font_size: float) -> float:
    """About how wide `label` (plotly text, markup allowed) is at `font_size` px."""
    ems = sum(0.0 if unicodedata.combining(c) else
              WIDE_EM if unicodedata.east_asian_width(c) in ("W", "F") else NARROW_EM
              for c in plain_text(label))
    return ems * font_size


def line_pixels(font_size: float, lines: int = 1) -> float:
    """About how tall `lines` lines of text are at `font_size` px."""
    return lines * LINE_EMS * font_size


@dataclass(frozen=True)
class TickFit:
    """How to label a token axis: every `step`-th cell, at `font` px, rotated by `angle` degrees."""

    step: int
    font: int
    angle: int


def upright_pixels(labels, font_size: float) -> float:
    """Room a cell needs for upright labels centred on their cells not to touch: half of each of
    two neighbours, plus a gap (a long "<eos>" beside a one-letter label needs less than its width)."""
    widths = [text_pixels(label, font_size) for label in labels]
    if len(widths) < 2:
        return (widths[0] if widths else 0.0) + 4
    return max((a + b) / 2 for a, b in zip(widths, widths[1:])) + 4


def _fits(labels, room: float, along: str, size: float) -> Optional[int]:
    """The angle at which labels `room` pixels apart fit at `size` px (None: not at all)."""
    if along == "x" and upright_pixels(labels, size) <= room:
        return 0
    if line_pixels(size) <= room:
        return 0 if along == "y" else -90
    return None


def fit_ticks(labels, pixels_per_cell: float, along: str = "x", font: int = 12,
              min_font: int = MIN_TICK_FONT) -> TickFit:
    """The largest font at which every label fits beside its neighbours (y: one line per cell;
    x: upright if neighbours do not touch, else turned -90° so each label needs only a line's
    height); if none fits, every k-th label at the smallest font (k from NICE_STEPS)."""
    labels = list(labels)
    for size in range(font, min_font - 1, -1):
        angle = _fits(labels, pixels_per_cell, along, size)
        if angle is not None:
            return TickFit(1, size, angle)
    for step in NICE_STEPS:
        angle = _fits(labels[::step], step * pixels_per_cell, along, min_font)
        if angle is not None:
            return TickFit(step, min_font, angle)
    return TickFit(NICE_STEPS[-1], min_font, 0 if along == "y" else -90)


_SPECIAL = re.compile(r"^(<[^<>]+>|\[[^\[\]]+\])$")      # <bos>, </s>, [CLS], [SEP]...


def is_character_level(tokens) -> bool:
    """True when every token but the special ones (<bos>, [CLS]...) is a single character (the
    built-in models, or Chinese text in a word-piece model): thinned labels of such tokens would
    read as other words ("r v r e" of "reverse"), so they are numbered instead."""
    texts = [VISIBLE.get(t, t) for t in tokens]
    return all(len(text) <= 1 or _SPECIAL.match(text) for text in texts)


def thinning_note(step: int, numbered: bool, t: Translator = english) -> str:
    """What an axis title adds when only every step-th label is written ("" when every one is)."""
    if step <= 1:
        return ""
    return t("fig.ticks.positions" if numbered else "fig.ticks.every_token", n=step, nth=ordinal(step))


def token_axis(tokens, pixels_per_cell: float, along: str = "x", unknown=None, font: int = 12,
               t: Translator = english) -> tuple[dict, str]:
    """(axis settings, note) for a category axis over position_labels(tokens) whose ticks show the
    tokens: every label when they fit (smaller font, or turned); otherwise every k-th, and
    `note` says so for the axis title (position numbers instead of letters for a character model).
    The note is "" when every label is shown."""
    tokens = list(tokens)
    categories = position_labels(tokens)
    texts = token_labels(tokens, unknown)
    fit = fit_ticks(texts, pixels_per_cell, along, font)
    numbered = fit.step > 1 and is_character_level(tokens)
    shown = [str(i) for i in range(0, len(tokens), fit.step)] if numbered else texts[::fit.step]
    axis = dict(type="category", tickmode="array", tickfont=dict(size=fit.font), tickangle=fit.angle,
                tickvals=categories[::fit.step], ticktext=shown, automargin=True)
    return axis, thinning_note(fit.step, numbered, t)


def with_note(title: str, note: str) -> str:
    """An axis title with the tick note after it (or the title alone)."""
    return f"{title}<br><sub>{note}</sub>" if note else title


# ---- the same labels at a projector's font size -------------------------------------------------

NOTE = "<br><sub>"


def remember_ticks(layout: dict, axes: dict, t: Translator = english) -> dict:
    """Keep in layout.meta what viz.figure.for_projector needs to label token axes again at a
    larger font: each axis's pixels per cell and direction ({"xaxis": (ppc, "x")...}), and the
    thinning notes in the figure's language (as templates: the step is filled in later)."""
    meta = dict(layout.get("meta") or {})
    meta["token_axes"] = {**meta.get("token_axes", {}),
                          **{name: dict(ppc=float(ppc), along=along) for name, (ppc, along) in axes.items()}}
    meta["tick_notes"] = {"positions": t("fig.ticks.positions", n="{n}", nth="{nth}"),
                          "every_token": t("fig.ticks.every_token", n="{n}", nth="{nth}")}
    layout["meta"] = meta
    return layout


def _position(category: str) -> int:
    return int(str(category).rsplit("(", 1)[1].rstrip(")"))


def refit_axis(axis: dict, pixels_per_cell: float, along: str, font: int, notes: dict) -> dict:
    """Changes to a token axis (as token_axis drew it) so that its labels fit at `font` px: the
    same labels, every k-th of those shown if they no longer fit (k a nice factor), and the axis
    title's note said again for the new step."""
    values, texts = list(axis.get("tickvals") or []), list(axis.get("ticktext") or [])
    if not values or len(values) != len(texts):
        return {}
    positions = [_position(v) for v in values]
    step = positions[1] - positions[0] if len(positions) > 1 else 1
    numbered = step > 1 and all(text == str(p) for text, p in zip(texts, positions))
    for k in (1, *NICE_STEPS):
        angle = _fits(texts[::k], k * step * pixels_per_cell, along, font)
        if angle is not None:
            break
    else:
        k, angle = NICE_STEPS[-1], (0 if along == "y" else -90)
    changes = dict(tickfont=dict(size=font), tickangle=angle)
    if k == 1:
        return changes
    new_step = k * step
    numbered = numbered or is_character_level([plain_text(text) for text in texts])
    changes.update(tickvals=values[::k],
                   ticktext=[str(p) for p in positions[::k]] if numbered else texts[::k])
    title = axis.get("title", {}).get("text") if isinstance(axis.get("title"), dict) else axis.get("title")
    if title is not None:
        note = notes["positions" if numbered else "every_token"].format(n=new_step, nth=ordinal(new_step))
        changes["title"] = dict(text=with_note(str(title).split(NOTE)[0], note))
    return changes
