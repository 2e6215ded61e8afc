"""The attention canvas's payload: one attention call (kind, layer, every head) as ONE `bytes`.

The canvas (ui/components/attention_canvas.js) paints a matrix, switches head, stage and the
mean of heads, and derives any clicked cell, all in the browser, without a Streamlit rerun. It
can, because every stage is a function of a few arrays of the record:

    scores = q·kᵀ,  scaled = scores × scale,  biased = scaled + bias,
    masked = biased where allowed else −∞,  weights = softmax(masked) (0 on a row with no key),
    z_i = Σ_j α_ij v_j

so the payload carries q, k and v of the chosen layer as float32 (the browser computes each
head's stages when it is first shown, and the derivation of a cell from the same numbers), the
bias where the model has one, `allowed` as uint8, and the token labels and flags. No weights:
they are the largest array and the cheapest to recompute. At 512 tokens for MiniLM (12 heads,
d_head 32) that is 3 × 786 KB + 262 KB ≈ 2.6 MB, against 12.6 MB for the weights of every
stage; a toy model's call is 10–60 KB. The layer and kind are not in it: every layer of a 512-token
MiniLM would be 16 MB, so choosing a layer is a rerun that mounts the canvas with that layer.

Layout (little-endian): b"AEC1", uint32 header length, the UTF-8 JSON header, zero padding to a
multiple of 8, then the arrays, each at the offset the header gives, 8-byte aligned (a
Float32Array view needs 4). Arrays travel as binary only (never as JSON number lists): Streamlit
passes `bytes` to the JavaScript as a Uint8Array, and a dict holding bytes would arrive as its
Python repr.
"""
from __future__ import annotations

import json
import struct
from typing import Optional, Sequence

import numpy as np

from .colors import DIVERGING, SEQUENTIAL, lookup_table
from .pooling import pool, pool_factor
from .stages import MATRIX_VIEWS, stage_values

MAGIC = b"AEC1"
ALIGN = 8
# Byte budgets of one Enter (issue 12): what one canvas may cost.
BUDGET_BYTES = 4_500_000          # MiniLM at 512 tokens
TOY_BUDGET_BYTES = 300_000        # a built-in model's longest input

# Flags of a token, one byte each (bit values), on both axes.
UNKNOWN, SPECIAL, GENERATED, PADDING = 1, 2, 4, 8

_DTYPES = {"float32": np.float32, "uint8": np.uint8}


def token_flags(n: int, unknown=(), special=(), generated_from: Optional[int] = None,
                inactive: Optional[np.ndarray] = None) -> np.ndarray:
    """[n] uint8 flags of one token axis. inactive: [n] bool, True for a padding position (one
    that takes part neither as a query nor as a key: its row or column of `allowed` is empty)."""
    flags = np.zeros(n, dtype=np.uint8)
    for bit, values in ((UNKNOWN, unknown), (SPECIAL, special)):
        marked = np.zeros(n, dtype=bool)
        values = np.asarray(list(values)[:n], dtype=bool)
        marked[:len(values)] = values
        flags |= np.where(marked, bit, 0).astype(np.uint8)
    if generated_from is not None:
        flags[generated_from:] |= GENERATED
    if inactive is not None:
        flags |= np.where(np.asarray(inactive, dtype=bool)[:n], PADDING, 0).astype(np.uint8)
    return flags


def trace_flags(trace, kind: str, n_rows: int, n_cols: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query flags [n_rows], key flags [n_cols]) of one attention kind of a trace."""
    source = (trace.encoder_unknown, trace.encoder_special, None)
    # decoder positions from generated_from on are the model's own output
    target = (trace.decoder_unknown, trace.decoder_special, trace.generated_from)
    rows_of, cols_of = {"encoder": (source, source), "decoder": (target, target), "cross": (target, source)}[kind]
    rows = token_flags(n_rows, *rows_of, inactive=~allowed.any(axis=1))
    cols = token_flags(n_cols, *cols_of, inactive=~allowed.any(axis=0))
    return rows, cols


def pack(header: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """Header and arrays as one payload (layout above); the header gains each array's place."""
    places, offset = [], 0
    for name, array in arrays.items():
        dtype = str(array.dtype)
        if dtype not in _DTYPES:
            raise TypeError(f"{name}: {dtype} is not sent (only {sorted(_DTYPES)})")
        places.append({"name": name, "dtype": dtype, "shape": list(array.shape), "offset": offset})
        offset += -(-array.nbytes // ALIGN) * ALIGN
    text = json.dumps(dict(header, arrays=places), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    start = -(-(8 + len(text)) // ALIGN) * ALIGN      # first array's offset in the payload
    out = bytearray(start + offset)
    out[:8] = MAGIC + struct.pack("<I", len(text))
    out[8:8 + len(text)] = text
    for place, array in zip(places, arrays.values()):
        at = start + place["offset"]
        out[at:at + array.nbytes] = np.ascontiguousarray(array).tobytes()
    return bytes(out)


def unpack(payload: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    """(header, arrays) of a payload: what the JavaScript reads, for tests and the bench."""
    if payload[:4] != MAGIC:
        raise ValueError("not an attention canvas payload")
    (length,) = struct.unpack("<I", payload[4:8])
    header = json.loads(payload[8:8 + length].decode("utf-8"))
    start = -(-(8 + length) // ALIGN) * ALIGN
    arrays = {}
    for place in header["arrays"]:
        dtype = np.dtype(_DTYPES[place["dtype"]])
        count = int(np.prod(place["shape"], dtype=np.int64))
        arrays[place["name"]] = np.frombuffer(payload, dtype=dtype, count=count,
                                              offset=start + place["offset"]).reshape(place["shape"])
    return header, arrays


def record_payload(record, head, stage: str, cell: Optional[tuple[int, int]] = None,
                   flags: Optional[tuple[np.ndarray, np.ndarray]] = None, text: Optional[dict] = None,
                   lecture: bool = False, show: tuple = MATRIX_VIEWS, mean: bool = True,
                   sync_ms: int = 2000, overview: Optional[tuple[dict, dict]] = None,
                   cell_in_view: bool = True) -> bytes:
    """The canvas's payload for one record (every head of one attention call), and with
    `overview` (overview_payload_part of every layer's record of its kind) their overview.

    head: an index or "mean"; stage: one of viz.stages.MATRIX_VIEWS; cell: (query, key) whose
    derivation opens, or None; flags: (query flags, key flags) as token_flags makes them; text:
    the interface's strings (ui/canvas.py, in the page's language); show: the stages offered;
    mean: whether the mean of heads is offered; sync_ms: how long the browser waits after the
    last choice before it tells Python (ui/canvas.py); cell_in_view: whether the cell is the
    view's (False: a cell of this picture only, kept out of the address bar and the view).
    """
    n_rows, n_cols = record.allowed.shape
    header, arrays = _record_part(record, n_rows, n_cols, flags)
    header.update(_view_part(head, stage, cell, text, lecture, show, mean, sync_ms))
    header["cell_in_view"] = bool(cell_in_view)
    if overview is not None:
        part, tiles = overview
        header.update(part)
        arrays.update(tiles)
    return pack(header, arrays)


# The comparison's stages (Intervene): the first run's weights, the second's, and their difference.
COMPARE_STAGES = ("before", "weights", "change")
# A change smaller than this is float noise (a rerun's sums in another order), not an effect: the
# colour scale never spans less, so 1e-6 is not painted as deep red (viz.intervene).
CHANGE_MIN_RANGE = 0.01


def compare_payload(before, after, head, stage: str = "change", cell: Optional[tuple[int, int]] = None,
                    flags: Optional[tuple[np.ndarray, np.ndarray]] = None, text: Optional[dict] = None,
                    lecture: bool = False, heads_off: Sequence[int] = (), labels: Optional[tuple] = None,
                    sync_ms: int = 2000) -> bytes:
    """The canvas's payload comparing one attention call of two runs (before and after an
    intervention), over the positions both have: the second run's q, k, v (+ bias, allowed) as
    record_payload sends them, and the first run's q, k (+ bias, allowed) as before_*, from which
    the browser computes α before, α after and their difference (COMPARE_STAGES). No v of the
    first run: its derivation shows the score and the weight, and the budget stays one Enter's
    (MiniLM at 512 tokens: 2.4 + 1.6 MB). heads_off: this call's heads switched off in the second
    run (marked on their buttons); labels: (query labels, key labels) shown instead of the
    second run's tokens, e.g. "a→b" where the runs read different tokens."""
    n_rows = min(before.allowed.shape[0], after.allowed.shape[0])
    n_cols = min(before.allowed.shape[1], after.allowed.shape[1])
    header, arrays = _record_part(after, n_rows, n_cols, flags)
    first, first_arrays = _record_part(before, n_rows, n_cols, flags)
    if first["scale"] != header["scale"] or first["d_head"] != header["d_head"]:
        raise ValueError("the two runs differ in scale or d_head: not one attention call")
    for name in ("q", "k", "bias", "allowed"):
        if name in first_arrays:
            arrays[f"before_{name}"] = first_arrays[name]
    if labels is not None:
        header["query_tokens"], header["key_tokens"] = list(labels[0])[:n_rows], list(labels[1])[:n_cols]
    header.update(_view_part(head, stage if stage in COMPARE_STAGES else "change", cell, text, lecture,
                             COMPARE_STAGES, True, sync_ms))
    header.update(heads_off=sorted(int(h) for h in heads_off), stage_in_view=False,
                  min_range={"change": CHANGE_MIN_RANGE})
    return pack(header, arrays)


# ---- matrices that are no single attention call (Aggregates: means over heads, rollout) ----

def matrices_payload(matrices: Sequence[np.ndarray], names: Sequence[str], tokens: Sequence[str], kind: str,
                     chosen: int = 0, cell: Optional[tuple[int, int]] = None, text: Optional[dict] = None,
                     lecture: bool = False, title: str = "", values: Sequence[str] = (),
                     key_tokens: Optional[Sequence[str]] = None,
                     sync_ms: int = 2000) -> bytes:
    """The canvas's payload for ready-made [rows, cols] matrices of weights (0..1, NaN where
    masked), one button each (`names`), with their tiles side by side as the overview. Every
    matrix travels as float32: hover and click show exact values, and a click on a cell lists its
    row's largest values (where position i's attention, or rollout, comes from). No q or k: such
    a matrix is not one softmax, so there is no derivation to make. values: what a cell of each
    matrix holds, in words (the tooltip's and the colour bar's name); title: the picture's title."""
    stack = np.stack([np.asarray(m, dtype=np.float32) for m in matrices])     # [matrix, row, col]
    n_rows, n_cols = stack.shape[1:]
    allowed = np.isfinite(stack).any(axis=0)
    flags = (token_flags(n_rows, inactive=~allowed.any(axis=1)), token_flags(n_cols, inactive=~allowed.any(axis=0)))
    arrays = {
        "m": stack, "allowed": allowed.astype(np.uint8),
        "query_flags": flags[0], "key_flags": flags[1],
        "sequential": lookup_table(SEQUENTIAL), "diverging": lookup_table(DIVERGING),
    }
    header = {
        "mode": "matrices", "kind": kind, "layer": -1, "heads": int(stack.shape[0]), "rows": int(n_rows),
        "cols": int(n_cols), "d_head": 0, "scale": 1.0, "names": [str(n) for n in names],
        "title": title, "values": [str(v) for v in values] or [""] * int(stack.shape[0]),
        "query_tokens": list(tokens[:n_rows]), "key_tokens": list((tokens if key_tokens is None else key_tokens)[:n_cols]),
    }
    header.update(_view_part(int(chosen), "weights", cell, text, lecture, ("weights",), False, sync_ms))
    # one stage only, and a matrix is no head: the view's stage and head stay Explore's
    header["stage_in_view"] = header["head_in_view"] = False
    # the overview: every matrix as a tile, one row (uint8 codes as overview_payload_part)
    factor = pool_factor(n_rows, n_cols, OVERVIEW_CELLS)
    tiles, ok = pool(np.nan_to_num(stack), np.isfinite(stack), factor, "max")
    tiles = np.where(ok, tiles, np.nan)
    finite = tiles[np.isfinite(tiles)]
    hi = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    arrays["ov_weights"] = coded(tiles, 0.0, hi)[None]                     # [1, matrix, r, c]
    arrays["ov_allowed"] = ok.any(axis=0).astype(np.uint8)[None]
    header["overview"] = {"layers": [0], "heads": int(stack.shape[0]), "rows": int(tiles.shape[1]),
                          "cols": int(tiles.shape[2]), "factor": int(factor), "ranges": {"weights": [0.0, hi]},
                          "scale": 1.0, "row_names": [""], "names": header["names"]}
    return pack(header, arrays)


# ---- the overview: every layer × head of one kind, as small tiles ----------------------------

# A tile shows at most this many cells a side; longer inputs are pooled. 48: a tile is drawn
# 40-110 px wide, so more cells would not show, and a toy model's 128 tokens (pooled 3 × 3) keep
# one Enter within its 300 KB budget (64 took it to 377 KB).
OVERVIEW_CELLS = 48
NO_VALUE = 255             # a tile cell with no allowed pair (masked), in the uint8 codes
CODES = 254                # values are coded 0..254 over their stage's range, linear


def overview_payload_part(records: Sequence) -> tuple[dict, dict]:
    """(header {"overview": ...}, arrays ov_*) of every layer × head of one attention kind, for
    the canvas's overview: uint8 tiles pooled to at most OVERVIEW_CELLS a side (max for the
    weights, mean for signed stages), coded linearly over one range per stage shared by every
    tile, so the same colour is the same number in every tile. The browser paints them at once
    and, for the stage chosen there, takes scaled = scores × scale, biased = scaled where the
    model has no bias, masked = biased where a block has an allowed pair (pooled: the block's
    mean, as the note on the page says). uint8 because the overview is for the eye (hovering a
    tile says its value is approximate; the chosen layer's exact values are the detail's): at
    512 MiniLM tokens it is 2 × 72 × 47 × 47 bytes = 0.3 MB."""
    records = sorted(records, key=lambda r: r.layer)
    n_rows, n_cols = records[0].allowed.shape
    if any(r.allowed.shape != (n_rows, n_cols) or r.kind != records[0].kind for r in records):
        raise ValueError("an overview shows the layers of one kind, over one sequence")
    factor = pool_factor(n_rows, n_cols, OVERVIEW_CELLS)
    everywhere = np.ones((n_rows, n_cols), bool)

    def pooled_of(values, allowed, how):       # NaN where a block has no allowed pair
        tiles, ok = pool(values, allowed, factor, how)
        return np.where(ok, tiles, np.nan)

    pooled = {"scores": [pooled_of(r.scores, everywhere, "mean") for r in records],
              "weights": [pooled_of(r.weights, r.allowed, "max") for r in records]}
    if any(r.bias is not None for r in records):
        pooled["biased"] = [pooled_of(stage_values(r, "biased"), everywhere, "mean") for r in records]
    allowed = np.stack([pool(r.allowed[None].astype(np.float32), r.allowed[None], factor, "max")[1][0]
                        for r in records]).astype(np.uint8)          # [layer, row, col]
    arrays, ranges = {}, {}
    for stage, tiles in pooled.items():
        values = np.stack(tiles)                                     # [layer, head, row, col]
        finite = values[np.isfinite(values)]
        top = float(np.abs(finite).max()) if finite.size else 1.0
        lo, hi = (0.0, float(finite.max()) if finite.size and finite.max() > 0 else 1.0) \
            if stage == "weights" else (-top or -1.0, top or 1.0)
        arrays[f"ov_{stage}"] = coded(values, lo, hi)
        ranges[stage] = [lo, hi]
    arrays["ov_allowed"] = allowed
    header = {"overview": {
        "layers": [int(r.layer) for r in records], "heads": int(records[0].q.shape[0]),
        "rows": int(allowed.shape[1]), "cols": int(allowed.shape[2]), "factor": int(factor),
        "ranges": ranges, "scale": float(records[0].scale),
    }}
    return header, arrays


def _record_part(record, n_rows: int, n_cols: int, flags=None) -> tuple[dict, dict]:
    """(header, arrays) of one record's first n_rows queries and n_cols keys."""
    n_heads, _, d_head = record.q.shape
    allowed = np.asarray(record.allowed[:n_rows, :n_cols], dtype=bool)
    if flags is None:
        flags = (token_flags(n_rows, inactive=~allowed.any(axis=1)), token_flags(n_cols, inactive=~allowed.any(axis=0)))
    arrays = {
        "q": np.asarray(record.q[:, :n_rows], dtype=np.float32),           # [head, row, d_head]
        "k": np.asarray(record.k[:, :n_cols], dtype=np.float32),           # [head, col, d_head]
        "v": np.asarray(record.v[:, :n_cols], dtype=np.float32),           # [head, col, d_head]
        "allowed": allowed.astype(np.uint8),                               # [row, col]
        "query_flags": np.asarray(flags[0][:n_rows], dtype=np.uint8),      # [row]
        "key_flags": np.asarray(flags[1][:n_cols], dtype=np.uint8),        # [col]
        # colour scales as 256-entry RGB tables: the page's colours are the overview's
        "sequential": lookup_table(SEQUENTIAL),                            # [256, 3]
        "diverging": lookup_table(DIVERGING),                              # [256, 3]
    }
    if record.bias is not None:
        arrays["bias"] = np.asarray(record.bias[:, :n_rows, :n_cols], dtype=np.float32)   # [head, row, col]
    header = {
        "kind": record.kind, "layer": int(record.layer), "heads": int(n_heads), "rows": int(n_rows),
        "cols": int(n_cols), "d_head": int(d_head), "scale": float(record.scale),
        "query_tokens": list(record.query_tokens[:n_rows]), "key_tokens": list(record.key_tokens[:n_cols]),
    }
    return header, arrays


def coded(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """uint8 codes of an overview's tiles: 0..CODES linear over [lo, hi], NO_VALUE where NaN."""
    codes = np.rint((np.nan_to_num(values, nan=lo) - lo) / (hi - lo) * CODES).clip(0, CODES).astype(np.uint8)
    return np.where(np.isfinite(values), codes, NO_VALUE).astype(np.uint8)


def _view_part(head, stage, cell, text, lecture, show, mean, sync_ms) -> dict:
    """The header's fields that say what to show first and how to behave."""
    return {
        "head": "mean" if head == "mean" and mean else int(0 if head == "mean" else head), "stage": stage,
        "stages": list(show), "cell": None if cell is None else [int(cell[0]), int(cell[1])],
        "text": dict(text or {}), "lecture": bool(lecture), "mean": bool(mean), "sync_ms": int(sync_ms),
    }
