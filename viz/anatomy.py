"""One head taken apart: the pipeline QKᵀ -> ×scale -> +bias -> mask -> softmax, the neuron view
(q_i, k_j, q_i ⊙ k_j, α_i·, z_i), Q/K/V as matrices, and BertViz's head view (lines between tokens).

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

from .colors import colorscale, hatch_image, png_data_uri, stage_scale, value_range
from .figure import SCREEN_FIGURE_PIXELS
from .labels import (MIN_TICK_FONT, line_pixels, position_labels, remember_ticks, token_axis, token_label,
                     token_labels, with_note)
from .stages import stage_values
from .text import Translator, english

# Colour-blind-safe qualitative colours (plotly's "Safe" set). Head colours: the first four differ
# in hue as well as lightness (indigo, rose, green, olive); the pale ones come last, since faint
# lines (α ≈ 0.05) of a pale colour vanish on white; the set's last entry, a grey, is left out:
# it could be read as the grey of a masked cell.
SAFE = pc.qualitative.Safe
HEAD_COLORS = [SAFE[i] for i in (4, 1, 3, 7, 5, 6, 8, 9, 0, 2)]
BAR_COLOR = SAFE[0]                     # light blue, the ordinary bars
CHOSEN_COLOR = SAFE[8]                  # dark wine, the chosen cell; far from light blue
MASKED_COLOR = "rgb(150, 150, 150)"     # the mask grey of viz.colors
LINE_THRESHOLD = 0.02                   # head view: weights below this draw no line
OPACITY_LEVELS = 10                     # head view: one line trace per head and opacity level
PANEL_WIDTH_PIXELS = 250               # one pipeline panel, about, in the wide layout
ROW_WIDTH_PIXELS = 700                  # the softmax row's bars: half the page
HATCH_CELL_PIXELS = 6


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


def scale_label(record, t: Translator = english) -> str:
    """'× scale = 0.1768<br>(= 1/√32)': the factor the model applies, named as the paper would."""
    d_head = record.q.shape[-1]
    text = t("fig.anatomy.scale", scale=f"{record.scale:.4g}")
    if math.isclose(record.scale, 1 / math.sqrt(d_head), rel_tol=1e-4):
        text += "<br>" + t("fig.anatomy.scale.sqrt", d=d_head)   # two lines: panels are narrow
    return text


# ---- 1. the pipeline ---------------------------------------------------------------------------

def pipeline_panels(record, head: int, t: Translator = english) -> list[tuple[str, str, np.ndarray]]:
    """(stage, title, [q_pos, k_pos] float32) for QKᵀ, ×scale, (+bias), mask, softmax; NaN = masked."""
    head = _check_head(record, head)
    scores = record.scores[head].astype(np.float32)                          # [q_pos, k_pos]
    # QKᵀ, its scaling and the bias are computed for every cell; the mask only acts afterwards,
    # so the first panels show every cell and only the mask and softmax panels hatch.
    scaled = (scores * np.float32(record.scale)).astype(np.float32)
    panels = [("scores", t("fig.anatomy.scores"), scores),
              ("scaled", scale_label(record, t), scaled)]
    if record.bias is not None:
        panels.append(("biased", t("fig.anatomy.bias"), (scaled + record.bias[head]).astype(np.float32)))
    panels.append(("mask", t("fig.anatomy.mask"),
                   np.where(record.allowed, np.float32(1), np.float32(np.nan)).astype(np.float32)))
    panels.append(("weights", t("fig.anatomy.weights"),
                   np.where(record.allowed, record.weights[head], np.float32(np.nan)).astype(np.float32)))
    return panels


def pipeline_figure(record, head: int, query: Optional[int] = None, key: Optional[int] = None,
                    t: Translator = english) -> go.Figure:
    """Figure: softmax(QKᵀ·scale + bias, masked) step by step, one panel per step, shared rows."""
    panels = pipeline_panels(record, head, t)
    n_q, n_k = record.allowed.shape
    # Nothing masked (an encoder without padding): the mask panel would be one flat colour, which
    # reads as a value; it says in words that every position sees every other instead.
    no_mask = bool(record.allowed.all())
    fig = make_subplots(rows=1, cols=len(panels), shared_yaxes=True, horizontal_spacing=0.025,
                        subplot_titles=[title for _, title, _ in panels])
    rows, cols = position_labels(record.query_tokens[:n_q]), position_labels(record.key_tokens[:n_k])
    row_pixels = _row_pixels(n_q, 560, 36, chrome=190)
    x_axis, x_note = _category_ticks(record.key_tokens[:n_k], PANEL_WIDTH_PIXELS, "x", t, font=10)
    y_axis, y_note = _category_ticks(record.query_tokens[:n_q], n_q * row_pixels, "y", t)
    for column, (stage, title, z) in enumerate(panels, start=1):
        zmin, zmax = value_range(z, stage)
        blank = stage == "mask" and no_mask
        fig.add_trace(go.Heatmap(
            z=z, x=cols, y=rows, zmin=zmin, zmax=zmax, name=stage, meta=stage,
            colorscale=[[0, "white"], [1, "white"]] if blank else colorscale(*stage_scale(stage)),
            hoverongaps=False,
            # The mask panel is one colour; its meaning is in the title, not in a colour bar.
            showscale=stage != "mask",
            colorbar=_colorbar_below(fig, column),
            hovertemplate=(f"{t('fig.query')} %{{y}}<br>{t('fig.key')} %{{x}}<br>"
                           f"{t(f'fig.stage_short.{stage}')} %{{z:.5g}}<extra></extra>")),
            row=1, col=column)
        ref = _axis_ref(column)
        fig.update_xaxes(x_axis, range=[-0.5, n_k - 0.5], row=1, col=column,
                         title=dict(text=with_note(t("fig.key"), x_note), font=dict(size=11)))
        if blank:
            fig.add_annotation(text=t("fig.anatomy.no_mask"), xref=f"x{ref} domain", yref=f"y{ref} domain",
                               x=0.5, y=0.5, showarrow=False, font=dict(size=12))
        if np.isnan(z).any():
            # NaN cells are transparent: a hatch image behind the heatmap shows exactly there.
            hatch = hatch_image(n_q * HATCH_CELL_PIXELS, n_k * HATCH_CELL_PIXELS, HATCH_CELL_PIXELS)
            fig.add_layout_image(source=png_data_uri(hatch), xref=f"x{ref} domain", yref=f"y{ref} domain",
                                 x=0, y=1, sizex=1, sizey=1, xanchor="left", yanchor="top",
                                 sizing="stretch", layer="below")
        if query is not None and key is not None:
            _mark_cell(fig, ref, *_check_cell(record, query, key))
    # Shared y: one set of query labels on the left, row 0 at the top (go.Heatmap puts it at the bottom).
    fig.update_yaxes(y_axis, range=[n_q - 0.5, -0.5])
    fig.update_yaxes(title=dict(text=with_note(t("fig.query"), y_note)), row=1, col=1)
    axes = {f"xaxis{_axis_ref(column)}": (PANEL_WIDTH_PIXELS / n_k, "x") for column in range(1, len(panels) + 1)}
    fig.update_layout(height=int(n_q * row_pixels) + 190, margin=dict(l=10, r=10, t=50, b=95),
                      title=None, meta=remember_ticks({}, {**axes, "yaxis": (row_pixels, "y")}, t)["meta"])
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=12)
    return fig


def _mark_cell(fig: go.Figure, ref: str, query: int, key: int) -> None:
    """Outline cell (query, key) of one panel: the cell the neuron view takes apart."""
    fig.add_shape(type="rect", xref=f"x{ref}", yref=f"y{ref}", x0=key - 0.5, x1=key + 0.5,
                  y0=query - 0.5, y1=query + 0.5, line=dict(color="black", width=2), fillcolor="rgba(0,0,0,0)")


# ---- 2. the neuron view ------------------------------------------------------------------------

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


def neuron_figure(record, head: int, query: int, key: int, t: Translator = english) -> go.Figure:
    """Figure: q_i, k_j, q_i ⊙ k_j (Σ = the score) and z_i = Σ_j α_ij v_j, one bar per d_head component."""
    n = neuron_numbers(record, head, query, key)
    head = int(head)
    q_tok = token_label(record.query_tokens[n.query])
    k_tok = token_label(record.key_tokens[n.key])
    titles = [f"q<sub>{n.query}</sub>: " + t("fig.anatomy.q", token=q_tok),
              f"k<sub>{n.key}</sub>: " + t("fig.anatomy.k", token=k_tok),
              t("fig.anatomy.product", score=f"{n.score_sum:.4g}"),
              f"z<sub>{n.query}</sub> = Σ<sub>j</sub> α<sub>{n.query}j</sub> v<sub>j</sub>"
              f" {t('fig.anatomy.share')} α<sub>{n.query},{n.key}</sub> v<sub>{n.key}</sub>"]
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.07, subplot_titles=titles)
    dims = np.arange(n.d_head)
    bars = [("q", record.q[head, n.query], SAFE[4], 1),
            ("k", record.k[head, n.key], SAFE[3], 2),
            ("q⊙k", n.product, SAFE[5], 3),
            ("z", n.context, SAFE[6], 4),
            ("αv", n.contribution, CHOSEN_COLOR, 4)]
    for name, values, color, row in bars:
        fig.add_trace(go.Bar(x=dims, y=np.asarray(values, np.float32), name=name, meta=name,
                             marker_color=color, showlegend=row == 4,
                             hovertemplate=f"{name}[%{{x}}] = %{{y:.5g}}<extra></extra>"), row=row, col=1)
    fig.update_xaxes(title=dict(text=t("fig.anatomy.component"), font=dict(size=11)), row=4, col=1)
    fig.update_yaxes(zeroline=True, zerolinecolor="black", zerolinewidth=1)
    fig.update_layout(height=620, barmode="group", bargap=0.15, margin=dict(l=10, r=10, t=40, b=10),
                      legend=dict(orientation="h", x=1, xanchor="right", y=-0.08, yanchor="top"))
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=12)
    return fig


def softmax_row_figure(record, head: int, query: int, key: int, t: Translator = english) -> go.Figure:
    """Figure: the whole softmax row α_i· over the keys, the chosen α_ij marked, masked keys crossed."""
    n = neuron_numbers(record, head, query, key)
    n_k = record.allowed.shape[1]
    keys = position_labels(record.key_tokens[:n_k])
    colors = [CHOSEN_COLOR if j == n.key else BAR_COLOR for j in range(n_k)]
    fig = go.Figure(go.Bar(x=keys, y=n.row, name="α", meta="α", marker_color=colors,
                           hovertemplate=f"{t('fig.key')} %{{x}}<br>α %{{y:.5g}}<extra></extra>"))
    masked = np.flatnonzero(~record.allowed[n.query])
    if masked.size:
        fig.add_trace(go.Scatter(x=[keys[j] for j in masked], y=np.zeros(masked.size, np.float32), mode="markers",
                                 name=t("fig.anatomy.masked_key"), meta="masked",
                                 marker=dict(symbol="x", color=MASKED_COLOR, size=8),
                                 hovertemplate=f"{t('fig.key')} %{{x}}: {t('fig.anatomy.masked_hover')}<extra></extra>"))
    top = float(max(n.row.max(), 1e-6))
    fig.add_annotation(x=keys[n.key], y=n.weight, text=f"α<sub>{n.query},{n.key}</sub> = {n.weight:.4g}",
                       showarrow=True, arrowhead=2, ay=-30, font=dict(color=CHOSEN_COLOR))
    x_axis, x_note = _category_ticks(record.key_tokens[:n_k], ROW_WIDTH_PIXELS, "x", t)
    fig.update_layout(
        title=dict(text=t("fig.anatomy.row.title", i=n.query, token=token_label(record.query_tokens[n.query]),
                          total=f"{float(n.row.sum()):.4g}"), font=dict(size=13)),
        xaxis=dict(x_axis, range=[-0.5, n_k - 0.5], title=with_note(t("fig.key"), x_note)),
        yaxis=dict(range=[0, top * 1.3], title="α"), height=300, showlegend=bool(masked.size),
        meta=remember_ticks({}, {"xaxis": (ROW_WIDTH_PIXELS / n_k, "x")}, t)["meta"],
        margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", x=1, xanchor="right", y=1.02, yanchor="bottom"))
    return fig


# ---- 3. Q, K, V ----------------------------------------------------------------------------------

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


# ---- 4. the head view ----------------------------------------------------------------------------

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
