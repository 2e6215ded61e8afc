"""One head taken apart, beside the attention canvas (which draws the pipeline QKᵀ -> ×scale ->
+bias -> mask -> softmax and every component of a cell, ui/components/attention_canvas.js): the
chosen cell's numbers as formulas, Q/K/V as matrices, and BertViz's head view (lines between tokens).

Pure functions (numpy + plotly only). Rows are always queries and columns keys, so self- and
cross-attention (decoder queries, encoder keys) share every code path.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colors import colorscale, stage_scale, value_range
from .figure import SCREEN_FIGURE_PIXELS
from .labels import (MIN_TICK_FONT, line_pixels, position_labels, remember_ticks, token_axis, token_label,
                     token_labels)
from .stages import stage_values
from .text import Translator, english

# Colour-blind-safe qualitative colours (plotly's "Safe" set). Head colours: the first four differ
# in hue as well as lightness (indigo, rose, green, olive); the pale ones come last, since faint
# lines (α ≈ 0.05) of a pale colour vanish on white; the set's last entry, a grey, is left out:
# it could be read as the grey of a masked cell.
SAFE = pc.qualitative.Safe
HEAD_COLORS = [SAFE[i] for i in (4, 1, 3, 7, 5, 6, 8, 9, 0, 2)]
LINE_THRESHOLD = 0.02                   # head view: weights below this draw no line
OPACITY_LEVELS = 10                     # head view: one line trace per head and opacity level


# ---- shared helpers ----------------------------------------------------------------------------

def _check_head(record, head: int) -> int:
    head = int(head)
    if not 0 <= head < record.n_heads:
        raise IndexError(f"head {head} out of range: this record has {record.n_heads} heads")
    return head


def _check_cell(record, query: int, key: int) -> tuple[int, int]:
    n_q, n_k = record.allowed.shape
    if not (0 <= int(query) < n_q and 0 <= int(key) < n_k):
        raise IndexError(f"cell ({query}, {key}) outside the {n_q}×{n_k} matrix")
    return int(query), int(key)


def _category_ticks(tokens: Sequence[str], pixels: float, along: str, t: Translator, font: int = 12) -> tuple[dict, str]:
    """(axis settings, note) for unique "token (i)" categories that show the bare token: every
    label that fits in `pixels` (smaller or turned), else every k-th and a note that says so."""
    tokens = list(tokens)
    axis, note = token_axis(tokens, pixels / max(len(tokens), 1), along, font=font, t=t)
    return dict(axis, showgrid=False, zeroline=False), note


def _row_pixels(n_rows: int, wanted: float, most: float, chrome: int) -> float:
    """Pixels per matrix row: `wanted` pixels shared by the rows, within [a legible label's line,
    most]; below a legible line only where the figure (with `chrome` pixels of titles, labels
    and colour bars) would otherwise not fit a 1080-line screen (then labels are thinned)."""
    legible = min(line_pixels(MIN_TICK_FONT), (SCREEN_FIGURE_PIXELS - chrome) / max(n_rows, 1))
    return float(np.clip(wanted / max(n_rows, 1), legible, most))


def _axis_ref(n: int) -> str:
    return "" if n == 1 else str(n)


def _colorbar_below(fig: go.Figure, column: int) -> dict:
    """A horizontal colour bar under subplot `column`, at the figure's bottom edge (the subplot's
    title names what it measures; a bar title would collide with the tick labels above it)."""
    domain = fig.layout[f"xaxis{_axis_ref(column)}"].domain
    return dict(orientation="h", x=(domain[0] + domain[1]) / 2, xanchor="center", len=0.9 * (domain[1] - domain[0]),
                lenmode="fraction", y=0.01, yref="container", yanchor="bottom", thickness=10,
                tickfont=dict(size=10))


# ---- 1. the neuron numbers (the formulas of one cell; the canvas draws the pipeline) ------------------------------------------------------------------------

@dataclass(frozen=True)
class NeuronNumbers:
    """Every number between q_i, k_j and α_ij, recomputed from the vectors and checked against the record."""

    query: int
    key: int
    d_head: int
    product: np.ndarray        # [d_head] q_i ⊙ k_j
    score_sum: float           # Σ_d q_id k_jd, recomputed here
    score: float               # record.scores[head, i, j]
    scale: float
    scaled: float              # score × scale
    bias: Optional[float]      # record.bias[head, i, j], or None
    allowed: bool
    logit: float               # stage "masked": scaled + bias, -inf where masked (the softmax's input ℓ_ij)
    row_max: float             # max over the row's allowed logits (subtracted for stability)
    numerator: float           # exp(logit − row_max); 0 where masked
    denominator: float         # Σ_j' exp(logit_ij' − row_max)
    weight: float              # record.weights[head, i, j]
    row: np.ndarray            # [k_pos] α_i·
    context: np.ndarray        # [d_head] record.context[head, i]: z_i
    context_sum: np.ndarray    # [d_head] Σ_j α_ij v_j, recomputed here
    contribution: np.ndarray   # [d_head] α_ij v_j: the chosen key's share of z_i


def neuron_numbers(record, head: int, query: int, key: int) -> NeuronNumbers:
    """α_ij = softmax_j(q_i·k_j·scale + b_ij) and z_i = Σ_j α_ij v_j, with every intermediate number."""
    head = _check_head(record, head)
    i, j = _check_cell(record, query, key)
    q, k, v = record.q[head, i], record.k[head, j], record.v[head]           # [d], [d], [k_pos, d]
    product = (q * k).astype(np.float32)                                       # [d_head]
    logits = stage_values(record, "masked")[head, i].astype(np.float64)        # [k_pos]
    finite = np.isfinite(logits)
    row_max = float(logits[finite].max()) if finite.any() else 0.0
    exps = np.where(finite, np.exp(np.where(finite, logits, 0.0) - row_max), 0.0)
    weights = record.weights[head, i].astype(np.float32)                       # [k_pos]
    score = float(record.scores[head, i, j])
    bias = None if record.bias is None else float(record.bias[head, i, j])
    return NeuronNumbers(
        query=i, key=j, d_head=int(q.shape[0]), product=product,
        score_sum=float(product.astype(np.float64).sum()), score=score, scale=float(record.scale),
        scaled=score * float(record.scale), bias=bias, allowed=bool(record.allowed[i, j]),
        logit=float(logits[j]), row_max=row_max, numerator=float(exps[j]), denominator=float(exps.sum()),
        weight=float(weights[j]), row=weights, context=record.context[head, i].astype(np.float32),
        context_sum=(weights @ v).astype(np.float32), contribution=(weights[j] * v[j]).astype(np.float32))


def _num(x: float) -> str:
    """A number for LaTeX: 4 significant digits, powers of ten written out."""
    if math.isinf(x):
        return r"-\infty" if x < 0 else r"\infty"
    text = f"{x:.4g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        return rf"{mantissa} \times 10^{{{int(exponent)}}}"
    return text


def neuron_formulas(n: NeuronNumbers, t: Translator = english) -> list[str]:
    """LaTeX lines (numbers and the table's words only, no user text): score, scaled score, bias,
    α_ij, z_i."""
    i, j = n.query, n.key
    scale, masked = t("fig.latex.scale"), t("fig.latex.masked")
    lines = [rf"s_{{{i},{j}}} = q_{{{i}}} \cdot k_{{{j}}} = \sum_{{d=1}}^{{{n.d_head}}} q_{{{i},d}}\,k_{{{j},d}}"
             rf" = {_num(n.score_sum)}",
             rf"s_{{{i},{j}}} \times \text{{{scale}}} = {_num(n.score)} \times {_num(n.scale)} = {_num(n.scaled)}"]
    if n.bias is not None:
        lines.append(rf"\ell_{{{i},{j}}} = {_num(n.scaled)} + b_{{{i},{j}}} = {_num(n.scaled)} + ({_num(n.bias)})"
                     rf" = {_num(n.scaled + n.bias)}")
    if not n.allowed:
        lines.append(rf"\ell_{{{i},{j}}} = -\infty \;(\text{{{masked}}}) \quad\Rightarrow\quad \alpha_{{{i},{j}}} = 0")
    else:
        # The softmax as computed: subtract the row maximum m first, so no exp overflows.
        lines.append(rf"\ell_{{{i},{j}}} = {_num(n.logit)}, \qquad m = \max_{{j'}} \ell_{{{i},j'}} = {_num(n.row_max)}")
        lines.append(rf"\alpha_{{{i},{j}}} = \frac{{e^{{\ell_{{{i},{j}}} - m}}}}{{\sum_{{j'}} e^{{\ell_{{{i},j'}} - m}}}}"
                     rf" = \frac{{{_num(n.numerator)}}}{{{_num(n.denominator)}}} = {_num(n.weight)}")
    lines.append(rf"z_{{{i}}} = \sum_{{j}} \alpha_{{{i},j}}\, v_{{j}}, \qquad"
                 rf" \alpha_{{{i},{j}}}\, v_{{{j}}} = {_num(n.weight)}\, v_{{{j}}}")
    return lines


# ---- 2. Q, K, V ----------------------------------------------------------------------------------

def qkv_figure(record, head: int, query: Optional[int] = None, key: Optional[int] = None,
               t: Translator = english) -> go.Figure:
    """Figure: Q = X W^Q, K = X W^K, V = X W^V of one head as tokens × d_head heatmaps."""
    head = _check_head(record, head)
    same_rows = list(record.query_tokens) == list(record.key_tokens)
    fig = make_subplots(rows=1, cols=3, shared_yaxes=same_rows, horizontal_spacing=0.03 if same_rows else 0.08,
                        subplot_titles=[t("fig.anatomy.qkv.Q"), t("fig.anatomy.qkv.K"), t("fig.anatomy.qkv.V")])
    matrices = [("Q", record.q[head], record.query_tokens, query),
                ("K", record.k[head], record.key_tokens, key),
                ("V", record.v[head], record.key_tokens, key)]
    n_rows = max(m.shape[0] for _, m, _, _ in matrices)
    row_pixels = _row_pixels(n_rows, 480, 28, chrome=190)
    for column, (name, matrix, tokens, chosen) in enumerate(matrices, start=1):
        matrix = np.asarray(matrix, np.float32)                                # [pos, d_head]
        tokens = list(tokens)[:matrix.shape[0]]
        zmin, zmax = value_range(matrix, "scores")
        rows = position_labels(tokens)
        fig.add_trace(go.Heatmap(z=matrix, x=np.arange(matrix.shape[1]), y=rows, zmin=zmin, zmax=zmax,
                                 name=name, meta=name, colorscale=colorscale(*stage_scale("scores")),
                                 colorbar=_colorbar_below(fig, column),
                                 hovertemplate=(f"{name}: {t('fig.anatomy.token')} %{{y}}, d = %{{x}}"
                                                "<br>%{z:.5g}<extra></extra>")),
                      row=1, col=column)
        y_axis, y_note = _category_ticks(tokens, len(tokens) * row_pixels, "y", t)
        fig.update_yaxes(y_axis, range=[len(tokens) - 0.5, -0.5], row=1, col=column,
                         title=dict(text=y_note, font=dict(size=11)))
        fig.update_xaxes(title=dict(text="d", font=dict(size=11)), showgrid=False, zeroline=False, row=1, col=column)
        if chosen is not None and 0 <= chosen < len(tokens):
            # The row the neuron view reads: q_i in Q, k_j and v_j in K and V.
            ref = _axis_ref(column)
            fig.add_shape(type="rect", xref=f"x{ref} domain", yref=f"y{ref}", x0=0, x1=1,
                          y0=chosen - 0.5, y1=chosen + 0.5, line=dict(color="black", width=2))
    fig.update_layout(height=int(n_rows * row_pixels) + 190, margin=dict(l=10, r=10, t=40, b=95),
                      meta=remember_ticks({}, {f"yaxis{_axis_ref(c)}": (row_pixels, "y") for c in (1, 2, 3)}, t)["meta"])
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=12)
    return fig


# ---- 3. the head view ----------------------------------------------------------------------------

def head_lines(weights: np.ndarray, threshold: float = LINE_THRESHOLD,
               levels: int = OPACITY_LEVELS) -> dict[int, tuple[list, list]]:
    """{opacity level: (xs, ys)} of one head's [q_pos, k_pos] weights: a segment (0, i)–(1, j) per
    α_ij ≥ threshold, None between segments; level L means opacity L/levels (α rounded up)."""
    lines: dict[int, tuple[list, list]] = {}
    rows, cols = np.nonzero(weights >= threshold)
    for i, j in zip(rows.tolist(), cols.tolist()):
        level = int(min(levels, max(1, math.ceil(float(weights[i, j]) * levels))))
        xs, ys = lines.setdefault(level, ([], []))
        xs.extend((0, 1, None))
        ys.extend((i, j, None))
    return lines


def _row_text(values: np.ndarray, tokens: Sequence[str], most: int = 6, t: Translator = english) -> str:
    """The largest entries of a weight row, "token (j) 0.53", for a hover box."""
    order = np.argsort(-values, kind="stable")[:most]
    parts = [f"{token_label(tokens[j])} ({j}) {values[j]:.3f}" for j in order if values[j] > 0]
    if len(values) > most:
        parts.append("…")
    return "<br>".join(parts) or t("fig.anatomy.all_masked")


def head_view_figure(record, heads: Sequence[int], threshold: float = LINE_THRESHOLD,
                     t: Translator = english) -> go.Figure:
    """Figure (BertViz's head view): queries left, keys right, a line per α_ij ≥ threshold, opacity α."""
    heads = [_check_head(record, h) for h in heads]
    n_q, n_k = record.allowed.shape
    fig = go.Figure()
    for h in heads:
        color = HEAD_COLORS[h % len(HEAD_COLORS)]
        # One trace per (head, opacity level): the trace count is fixed by heads × levels,
        # however many tokens there are; a trace per line would make plotly crawl.
        for level, (xs, ys) in sorted(head_lines(record.weights[h], threshold).items()):
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=t("fig.head", head=h), legendgroup=f"head {h}",
                                     meta=f"lines head {h}", showlegend=False, opacity=level / OPACITY_LEVELS,
                                     line=dict(color=color, width=2), hoverinfo="skip"))
        # A legend entry per head, present even when every line of the head is below the threshold.
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=t("fig.head", head=h), legendgroup=f"head {h}",
                                 meta=f"legend head {h}", line=dict(color=color, width=3)))
    fig.add_trace(_token_column(record, heads, side="query", t=t))
    fig.add_trace(_token_column(record, heads, side="key", t=t))
    n = max(n_q, n_k)
    fig.update_layout(
        xaxis=dict(range=[-0.45, 1.45], visible=False, fixedrange=True),
        yaxis=dict(range=[n - 0.5, -0.5], visible=False),
        height=int(n * float(np.clip(640 / max(n, 1), 16, 28))) + 90, showlegend=True,
        legend=dict(orientation="h", x=0.5, xanchor="center", y=1.0, yanchor="bottom"),
        margin=dict(l=10, r=10, t=40, b=10), hoverlabel=dict(align="left"),
        annotations=[dict(x=0, y=1, xref="x", yref="paper", yanchor="bottom", text=f"<b>{t('fig.anatomy.queries')}</b>",
                          xanchor="right", showarrow=False),
                     dict(x=1, y=1, xref="x", yref="paper", yanchor="bottom", text=f"<b>{t('fig.anatomy.keys')}</b>",
                          xanchor="left", showarrow=False)])
    return fig


def _token_column(record, heads: Sequence[int], side: str, t: Translator = english) -> go.Scatter:
    """The tokens of one side as text; hovering one shows its weight row (query) or column (key)."""
    tokens = record.query_tokens if side == "query" else record.key_tokens
    n = record.allowed.shape[0 if side == "query" else 1]
    other = record.key_tokens if side == "query" else record.query_tokens
    hover = []
    for position in range(n):
        blocks = []
        for h in heads:
            values = record.weights[h, position] if side == "query" else record.weights[h, :, position]
            what = t("fig.anatomy.attends") if side == "query" else t("fig.anatomy.attended")
            blocks.append(f"<b>{t('fig.head', head=h)}</b> {what}:<br>{_row_text(values, other, t=t)}")
        hover.append(f"{t(f'fig.{side}')} {token_label(tokens[position])} ({position})<br>" + "<br>".join(blocks))
    return go.Scatter(x=np.full(n, 0 if side == "query" else 1, np.float32), y=np.arange(n, dtype=np.float32),
                      mode="markers+text", text=token_labels(list(tokens)[:n]), meta=f"{side} tokens",
                      textposition="middle left" if side == "query" else "middle right",
                      marker=dict(size=7, color="rgb(60,60,60)"), hovertext=hover, hoverinfo="text",
                      showlegend=False, textfont=dict(size=12))
