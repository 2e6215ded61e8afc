"""The whole state of a view, to and from URL query parameters, so a copied link reopens it.

Every value is validated (type, range, length) before use; an invalid one falls back to its
default and leaves a note for the page to show. Nothing here raises on user input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Mapping, Optional, Sequence

from model.trace import KINDS, LEGACY_STAGES, SNAPSHOTS
from viz.stages import MATRIX_VIEWS

from .registry import DEFAULT as DEFAULT_PAGE
from .registry import IDS as PAGES       # one list of pages: ui/registry.py
# The views of a matrix, in the one stage vocabulary (viz/stages.py); a link made before it may
# say "bias" or "logits" (model.trace.LEGACY_STAGES), and still opens the same view.
STAGES = MATRIX_VIEWS
LANGS = ("en", "zh")
MAX_TEXT_CHARS = 2000      # a URL carries at most this much text; the model truncates further
MAX_INDEX = 4096           # layers, heads and token positions are far below this
DECODER_INPUTS = ("teacher", "free")
DEFAULT_NEW_TOKENS = 16
MAX_NEW_TOKENS = 64
MAX_SEED = 2**31 - 1
WORKED_MATRICES = ("X", "W_Q", "W_K", "W_V", "W_O")   # the worked example's editable 4 × 4 matrices
WORKED_SIZE = 4
EDIT_LIMIT = 1000.0        # |entry| bound of an edited cell (as the page's editors allow)


@dataclass(frozen=True)
class ViewState:
    page: str = DEFAULT_PAGE         # the page shown; the URL's path names it, not its query
    model: str = ""
    text: Optional[str] = None       # None: the model's example text
    target: str = ""                 # encoder-decoder only; empty: the model generates it
    kind: str = ""                   # empty: the model's first kind
    layer: int = 0
    head: object = 0                 # int, or "mean"
    stage: str = "weights"
    snapshot: str = "final"
    lang: str = "en"
    pad_to: int = 0
    # The chosen cell (query row, key column): its derivation opens beside every matrix (the
    # attention canvas) and Head anatomy takes it apart; None: no cell chosen.
    query: Optional[int] = None
    key: Optional[int] = None
    heads_off: tuple = ()            # intervene: ((kind, layer, head), ...)
    lecture: bool = False
    hide_special: bool = False       # drop [CLS], <bos>, <pad>... from the views, rows renormalised
    # Generation: the decoder's input ("teacher", "free"; empty: teacher forcing when a target is
    # typed, else free), how many tokens a decoder-only model adds, the step shown.
    decoder_input: str = ""
    new_tokens: int = DEFAULT_NEW_TOKENS
    step: int = 0
    # The worked example: its seed, switches, the row spelled out (1-based, as z₁ in the source
    # text) and the cells edited by hand: ((matrix, row, column, value), ...) over the seed's.
    seed: int = 0
    causal: bool = False
    two_heads: bool = False
    row: int = 1
    edits: tuple = ()


def _first(value):
    if isinstance(value, (list, tuple)):
        return value[0] if value else None
    return value


def _parse_int(raw, name, notes, low=0, high=MAX_INDEX):
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        notes.append(f"{name}={_show(raw)} is not a whole number; using the default.")
        return None
    if not low <= value <= high:
        notes.append(f"{name}={value} is out of range; using the default.")
        return None
    return value


def _show(raw) -> str:
    text = str(raw)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _parse_heads_off(raw, notes) -> tuple:
    """'decoder.1.3,cross.0.2' -> (("decoder", 1, 3), ("cross", 0, 2))."""
    heads = []
    # 256 entries at most, read from at most 256 entries' worth of characters. Digits are ASCII
    # and at most 4 long: str.isdigit() also accepts '²' or a 5000-digit run, which int() refuses.
    for item in str(raw)[:256 * 24].split(",")[:256]:
        parts = item.strip().split(".")
        if (len(parts) == 3 and parts[0] in KINDS
                and all(p.isascii() and p.isdigit() and len(p) <= 4 and int(p) <= MAX_INDEX for p in parts[1:])):
            heads.append((parts[0], int(parts[1]), int(parts[2])))
        elif item.strip():
            notes.append(f"heads_off entry {_show(item)} is not kind.layer.head; ignored.")
    return tuple(sorted(set(heads)))


def _parse_edits(raw, notes) -> tuple:
    """'X.0.1:0.5,W_Q.2.3:-1' -> (("X", 0, 1, 0.5), ("W_Q", 2, 3, -1.0)): the worked example's
    hand-edited cells. Each must name a matrix, a row and column inside it and a finite number
    within ±EDIT_LIMIT; anything else is dropped with a note."""
    edits = {}
    limit = len(WORKED_MATRICES) * WORKED_SIZE ** 2
    for item in str(raw)[:limit * 40].split(",")[:limit]:
        item = item.strip()
        if not item:
            continue
        where, _, number = item.partition(":")
        parts = where.split(".")
        try:
            value = float(number)
        except ValueError:
            value = math.nan
        if (len(parts) == 3 and parts[0] in WORKED_MATRICES
                and all(p.isascii() and p.isdigit() and len(p) == 1 and int(p) < WORKED_SIZE for p in parts[1:])
                and math.isfinite(value) and abs(value) <= EDIT_LIMIT):
            edits[(parts[0], int(parts[1]), int(parts[2]))] = value
        else:
            notes.append(f"edits entry {_show(item)} is not matrix.row.column:number; ignored.")
    return tuple((name, r, c, v) for (name, r, c), v in sorted(edits.items()))


def edits_query(edits: tuple) -> str:
    """The URL form of a worked example's edits (the inverse of _parse_edits); repr keeps every
    digit a float32 entry needs."""
    return ",".join(f"{name}.{r}.{c}:{value!r}" for name, r, c, value in edits)


def from_query(params: Mapping, models: Sequence[str], default_model: str) -> tuple[ViewState, list[str]]:
    """ViewState from query parameters, plus notes on every value that was refused."""
    notes: list[str] = []
    values = {}
    get = lambda name: _first(params.get(name)) if name in params else None  # noqa: E731

    choices = {"page": PAGES, "kind": KINDS, "stage": STAGES, "lang": LANGS, "snapshot": SNAPSHOTS,
               "model": tuple(models), "decoder_input": DECODER_INPUTS}
    for name, allowed in choices.items():
        raw = get(name)
        if name == "stage" and isinstance(raw, str):
            raw = LEGACY_STAGES.get(raw, raw)
        if raw is None:
            continue
        if raw in allowed:
            values[name] = raw
        else:
            notes.append(f"{name}={_show(raw)} is not one of {', '.join(allowed)}; using the default.")
    values.setdefault("model", default_model)

    for name in ("text", "target"):
        raw = get(name)
        if raw is None:
            continue
        raw = str(raw)
        if len(raw) > MAX_TEXT_CHARS:
            notes.append(f"{name} in the link has {len(raw)} characters; kept the first {MAX_TEXT_CHARS}.")
            raw = raw[:MAX_TEXT_CHARS]
        values[name] = raw

    ranges = {"layer": (0, MAX_INDEX), "pad_to": (0, MAX_INDEX), "query": (0, MAX_INDEX), "key": (0, MAX_INDEX),
              "step": (0, MAX_INDEX), "new_tokens": (1, MAX_NEW_TOKENS), "seed": (0, MAX_SEED),
              "row": (1, WORKED_SIZE)}
    for name, (low, high) in ranges.items():
        raw = get(name)
        if raw is not None:
            value = _parse_int(raw, name, notes, low, high)
            if value is not None:
                values[name] = value

    raw = get("head")
    if raw is not None:
        if str(raw).strip() == "mean":
            values["head"] = "mean"
        else:
            value = _parse_int(raw, "head", notes)
            if value is not None:
                values["head"] = value

    if get("heads_off") is not None:
        values["heads_off"] = _parse_heads_off(get("heads_off"), notes)
    if get("edits") is not None:
        values["edits"] = _parse_edits(get("edits"), notes)
    for name in ("lecture", "hide_special", "causal", "two_heads"):
        raw = get(name)
        if raw is not None:
            values[name] = str(raw).strip().lower()[:8] in ("1", "true", "yes", "on")
    return ViewState(**values), notes


def fit_to_model(state: ViewState, kinds: Sequence[str], n_layers: int, n_heads: int,
                 n_query: int = 0, n_key: int = 0) -> tuple[ViewState, list[str]]:
    """Clamp kind, layer, head and chosen tokens to what the loaded model and text have."""
    notes = []
    changes = {}
    if state.kind not in kinds:
        if state.kind:
            notes.append(f"this model has no {state.kind!r} attention; showing {kinds[0]!r}.")
        changes["kind"] = kinds[0]
    if state.layer >= n_layers:
        notes.append(f"layer {state.layer} does not exist (the model has {n_layers}); showing layer 0.")
        changes["layer"] = 0
    if state.head != "mean" and state.head >= n_heads:
        notes.append(f"head {state.head} does not exist (the model has {n_heads}); showing head 0.")
        changes["head"] = 0
    if n_query and state.query is not None and state.query >= n_query:
        changes["query"] = 0
    if n_key and state.key is not None and state.key >= n_key:
        changes["key"] = 0
    valid_off = tuple(h for h in state.heads_off if h[0] in kinds and h[1] < n_layers and h[2] < n_heads)
    if valid_off != state.heads_off:
        notes.append("some switched-off heads do not exist in this model; ignored.")
        changes["heads_off"] = valid_off
    return replace(state, **changes), notes


def to_query(state: ViewState, defaults: ViewState = ViewState()) -> dict[str, str]:
    """Query parameters for a state: only what differs from the defaults, plus the model. The
    page is the URL's path (/anatomy), not a parameter; from_query still reads `page` from links
    made before pages had paths."""
    query = {"model": state.model}
    for name in ("text", "target", "kind", "stage", "snapshot", "lang", "decoder_input"):
        value = getattr(state, name)
        if value is not None and value != getattr(defaults, name):
            query[name] = value
    for name in ("layer", "head", "pad_to", "step", "new_tokens", "seed", "row"):
        value = getattr(state, name)
        if value != getattr(defaults, name):
            query[name] = str(value)
    # The chosen cell: None (none chosen) and 0 are both left out, so that a page that settles an
    # unset cell on 0 (Head anatomy) leaves the address as it was: a change of the address during
    # a run is one more entry in the browser's history. (So a link cannot open cell 0, 0 itself.)
    if state.query or state.key:
        query["query"], query["key"] = str(state.query or 0), str(state.key or 0)
    if state.heads_off:
        query["heads_off"] = ",".join(f"{k}.{l}.{h}" for k, l, h in state.heads_off)
    if state.edits:
        query["edits"] = edits_query(state.edits)
    for name in ("lecture", "hide_special", "causal", "two_heads"):
        if getattr(state, name):
            query[name] = "1"
    return query
