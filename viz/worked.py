"""The worked example (source text §4.2) as figures and LaTeX: small matrices with their numbers
written in the cells, and z_i = Σ_j α_ij v_j spelled out.

Pure functions (numpy + plotly only). Every matrix is a Panel; a figure is one row of panels, so
Q, K, V (or QKᵀ -> ÷√d_k -> mask -> α -> Z) read left to right like the equations.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colors import DIVERGING, MASK_CSS, SEQUENTIAL, WEIGHT_GAMMA, colorscale
from .text import EN, Translator, english

DECIMALS = 3
CELL_PIXELS = 46           # a row tall enough for a 13 px number
MINUS_INFINITY = "−∞"      # what a masked logit is (U+2212 minus, as typeset)
SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


@dataclass(frozen=True)
class Panel:
    """One matrix to draw: values [rows, cols] (-inf = masked logit), how to colour it, its labels."""

    key: str                              # trace name: what tests and hover use to find it
    title: str
    values: np.ndarray
    kind: str = "signed"                  # "signed": diverging, 0 = white; "weights": 0..1
    row_labels: Sequence[str] = ()
    col_labels: Sequence[str] = ()
    masked: Optional[np.ndarray] = None   # bool [rows, cols]: cells greyed as masked, number kept
    splits: Sequence[int] = field(default=())   # column boundaries to mark (where a head ends)


def sub(letter: str, i: int) -> str:
    """'q', 1 -> 'q₁': 1-based vector names as the source text writes them."""
    return f"{letter}{str(i).translate(SUBSCRIPTS)}"


def vector_labels(letter: str, n: int) -> list[str]:
    return [sub(letter, i) for i in range(1, n + 1)]


def index_labels(n: int) -> list[str]:
    """Column labels '1'..'n' (components of a vector, 1-based as in the text)."""
    return [str(i) for i in range(1, n + 1)]


def cell_text(value: float, decimals: int = DECIMALS) -> str:
    """A number as written in a cell: 3 decimals, '−∞' for a masked logit, never '-0.000'."""
    if np.isneginf(value):
        return MINUS_INFINITY
    if np.isposinf(value):
        return "∞"
    if np.isnan(value):
        return ""
    text = f"{float(value):.{decimals}f}"
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def cell_texts(values: np.ndarray, decimals: int = DECIMALS) -> list[list[str]]:
    return [[cell_text(v, decimals) for v in row] for row in np.asarray(values, dtype=np.float64)]


def panel_range(panel: Panel) -> tuple[float, float]:
    """(zmin, zmax): 0..1 for weights (comparable across panels), symmetric about 0 otherwise."""
    if panel.kind == "weights":
        return 0.0, 1.0
    finite = np.abs(panel.values[np.isfinite(panel.values)])
    top = float(finite.max()) if finite.size else 0.0
    return -(top or 1.0), (top or 1.0)


def _heatmaps(panel: Panel, font_size: int = 13, t: Translator = english) -> list[go.Heatmap]:
    """The panel's numbers, plus a grey layer over its masked cells (which then show '−∞' or 0)."""
    values = np.asarray(panel.values, dtype=np.float32)
    rows, cols = values.shape
    row_labels = list(panel.row_labels) or index_labels(rows)
    col_labels = list(panel.col_labels) or index_labels(cols)
    masked = np.zeros(values.shape, bool) if panel.masked is None else np.asarray(panel.masked, bool)
    masked = masked | np.isneginf(values)
    texts = cell_texts(values)
    zmin, zmax = panel_range(panel)
    scale = colorscale(SEQUENTIAL, WEIGHT_GAMMA) if panel.kind == "weights" else colorscale(DIVERGING)
    # -inf cannot be coloured: NaN leaves the cell empty, and the grey layer on top shows "−∞".
    z = np.where(np.isfinite(values), values, np.float32(np.nan)).astype(np.float32)
    shown = [[("" if masked[r, c] else texts[r][c]) for c in range(cols)] for r in range(rows)]
    cell = t("fig.worked.cell", y="%{y}", x="%{x}")
    traces = [go.Heatmap(
        z=z, x=col_labels, y=row_labels, zmin=zmin, zmax=zmax, colorscale=scale, showscale=False,
        name=panel.key, text=shown, texttemplate="%{text}", textfont=dict(size=font_size), xgap=1, ygap=1,
        hoverongaps=False, hovertemplate=f"{panel.title}<br>{cell}: %{{z:.6g}}<extra></extra>")]
    if masked.any():
        grey = [[(t("fig.worked.masked") + ": " + texts[r][c]) if masked[r, c] else "" for c in range(cols)]
                for r in range(rows)]
        traces.append(go.Heatmap(
            z=np.where(masked, np.float32(1), np.float32(np.nan)).astype(np.float32), x=col_labels, y=row_labels,
            zmin=0, zmax=1, colorscale=[[0, MASK_CSS], [1, MASK_CSS]], showscale=False, name=f"{panel.key}.masked",
            text=[[texts[r][c] if masked[r, c] else "" for c in range(cols)] for r in range(rows)],
            customdata=grey, texttemplate="%{text}", textfont=dict(size=font_size, color="white"), xgap=1, ygap=1,
            hoverongaps=False, hovertemplate=f"{panel.title}<br>{cell}: %{{customdata}}<extra></extra>"))
    return traces


def panels_figure(panels: Sequence[Panel], height: Optional[int] = None, t: Translator = english) -> go.Figure:
    """Figure: one row of annotated matrices (rows read top-down), each titled, numbers in the cells."""
    widths = [max(np.asarray(p.values).shape[1], 2) for p in panels]   # a 4×2 panel half as wide
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p.title for p in panels],
                        column_widths=[w / sum(widths) for w in widths],
                        horizontal_spacing=min(0.06, 0.22 / max(len(panels), 1)))
    n_rows = max(np.asarray(p.values).shape[0] for p in panels)
    # Five panels of a head share one row: "-0.494" must still fit its cell.
    font_size = 13 if sum(widths) <= 16 else 12
    for column, panel in enumerate(panels, start=1):
        for trace in _heatmaps(panel, font_size, t):
            fig.add_trace(trace, row=1, col=column)
        rows, cols = np.asarray(panel.values).shape
        fig.update_xaxes(type="category", range=[-0.5, cols - 0.5], showgrid=False, zeroline=False,
                         tickfont=dict(size=12), row=1, col=column)
        # go.Heatmap puts row 0 at the bottom; a matrix reads from the top.
        fig.update_yaxes(type="category", range=[rows - 0.5, -0.5], showgrid=False, zeroline=False,
                         tickfont=dict(size=12), row=1, col=column)
        ref = "" if column == 1 else str(column)
        for split in panel.splits:
            fig.add_shape(type="line", xref=f"x{ref}", yref=f"y{ref} domain", x0=split - 0.5, x1=split - 0.5,
                          y0=-0.04, y1=1.04, line=dict(color="black", width=3, dash="dot"))
    for annotation in fig.layout.annotations:
        annotation.font = dict(size=14)
    fig.update_layout(height=height or n_rows * CELL_PIXELS + 90, margin=dict(l=10, r=10, t=40, b=30),
                      plot_bgcolor="white")
    return fig


# ---- the example's panels ----------------------------------------------------------------------

# The panels' titles (English; viz/text.py has every language's as "fig.worked.<name>").
PANEL_NAMES = ("Q", "K", "V", "scores", "scaled", "masked", "weights", "context", "concat", "W_O", "output")
DEFAULT_TITLES = {name: EN[f"fig.worked.{'masked_panel' if name == 'masked' else name}"] for name in PANEL_NAMES}


def panel_titles(t: Translator = english) -> dict:
    """Every panel's title in t's language (the `titles` the panel functions take)."""
    return {name: t(f"fig.worked.{'masked_panel' if name == 'masked' else name}") for name in PANEL_NAMES}


def projection_panels(example: dict, titles: Optional[dict] = None) -> list[Panel]:
    """Q, K, V (full width); with several heads, dotted lines where one head's columns end."""
    titles = {**DEFAULT_TITLES, **(titles or {})}
    n_heads, d_k = example["n_heads"], example["d_k"]
    splits = [h * d_k for h in range(1, n_heads)]
    return [Panel(name, titles[name], example[name], "signed", vector_labels(name.lower(), example[name].shape[0]),
                  index_labels(example[name].shape[1]), splits=splits) for name in ("Q", "K", "V")]


def attention_panels(stages: dict, causal: bool, titles: Optional[dict] = None, prefix: str = "") -> list[Panel]:
    """QKᵀ -> ÷√d_k -> (mask) -> α -> Z = αV for one head; the mask panel only when causal."""
    titles = {**DEFAULT_TITLES, **(titles or {})}
    n, n_keys = stages["scores"].shape
    # Tick labels stay short (q₁, not q₁⁽¹⁾): the page names the head above the figure.
    queries, keys = vector_labels("q", n), vector_labels("k", n_keys)
    not_allowed = np.isneginf(stages["masked"])
    names = ["scores", "scaled"] + (["masked"] if causal else []) + ["weights"]
    panels = [Panel(prefix + name, titles[name], stages[name], "weights" if name == "weights" else "signed",
                    queries if name != "weights" else vector_labels("α", n), keys,
                    masked=not_allowed if name == "weights" else None) for name in names]
    z = stages["context"]
    panels.append(Panel(prefix + "context", titles["context"], z, "signed", vector_labels("z", z.shape[0]),
                        index_labels(z.shape[1])))
    return panels


def output_panels(example: dict, titles: Optional[dict] = None) -> list[Panel]:
    """Concat(head_1, ..., head_h), W^O and the multi-head output Concat · W^O."""
    titles = {**DEFAULT_TITLES, **(titles or {})}
    n = example["concat"].shape[0]
    splits = [h * example["heads"][0]["context"].shape[1] for h in range(1, example["n_heads"])]
    return [Panel("concat", titles["concat"], example["concat"], "signed", vector_labels("z", n),
                  index_labels(example["concat"].shape[1]), splits=splits),
            Panel("W_O", titles["W_O"], example["W_O"], "signed", index_labels(example["W_O"].shape[0]),
                  index_labels(example["W_O"].shape[1])),
            Panel("output", titles["output"], example["output"], "signed", vector_labels("o", n),
                  index_labels(example["output"].shape[1]))]


# ---- LaTeX (numbers and symbols only: no user text reaches it) ---------------------------------

def latex_number(value: float, decimals: int = DECIMALS) -> str:
    if np.isneginf(value):
        return r"-\infty"
    text = cell_text(value, decimals)
    return text if text else r"\text{NaN}"


def latex_vector(values: Sequence[float], decimals: int = DECIMALS) -> str:
    """(a, b, c): a row vector, compact enough for four terms on a line."""
    return r"\left(" + r",\ ".join(latex_number(v, decimals) for v in values) + r"\right)"


def latex_matrix(values: np.ndarray, decimals: int = DECIMALS) -> str:
    rows = [" & ".join(latex_number(v, decimals) for v in row) for row in np.asarray(values, dtype=np.float64)]
    return r"\begin{bmatrix}" + r" \\ ".join(rows) + r"\end{bmatrix}"


def zi_latex(stages: dict, i: int, head: Optional[int] = None, per_line: int = 2) -> list[str]:
    """z_i = Σ_j α_ij v_j spelled out for query i (0-based): the scaled row, α_i·, and the sum.

    Three LaTeX blocks: s_ij = q_i·k_j/√d_k (+ M_ij) for every j; α_ij = softmax_j of those; the
    weighted sum of the v_j with the recorded z_i at the end. Each block is a formula line and a
    line of numbers, so it fits a projector's width. `head` (1-based) adds a superscript (h).
    """
    V, z = np.asarray(stages["V"], dtype=np.float64), np.asarray(stages["context"], dtype=np.float64)
    d_k = int(np.asarray(stages["Q"]).shape[1])
    n = int(np.asarray(stages["weights"]).shape[1])
    h = "" if head is None else f"^{{({head})}}"
    s, a = stages["masked"][i], stages["weights"][i]
    k = i + 1
    causal = bool(np.isneginf(np.asarray(stages["masked"])).any())
    mask = rf" + M_{{{k}j}}" if causal else ""

    def names(letter: str) -> str:   # (s_11, s_12, ...): the symbols the numbers below stand for
        return r"\left(" + r",\ ".join(rf"{letter}{h}_{{{k}{j + 1}}}" for j in range(n)) + r"\right)"

    scaled = (rf"\begin{{aligned}} s{h}_{{{k}j}} &= \frac{{q{h}_{{{k}}} \cdot k{h}_{{j}}}}{{\sqrt{{d_k}}}}{mask}"
              rf" = \frac{{q{h}_{{{k}}} \cdot k{h}_{{j}}}}{{\sqrt{{{d_k}}}}}{mask} \\ "
              rf"{names('s')} &= {latex_vector(s)} \end{{aligned}}")
    alpha = (rf"\begin{{aligned}} \alpha{h}_{{{k}j}} &= \frac{{\exp(s{h}_{{{k}j}})}}{{\sum_{{j'}} \exp(s{h}_{{{k}j'}})}} \\ "
             + names(r"\alpha") + rf" &= {latex_vector(a)}, \qquad \textstyle\sum_j \alpha{h}_{{{k}j}} = "
             rf"{latex_number(float(np.sum(a)))} \end{{aligned}}")
    terms = [rf"{latex_number(a[j])}\,{latex_vector(V[j])}" for j in range(n)]
    lines = [" + ".join(terms[start:start + per_line]) for start in range(0, n, per_line)]
    body = r" \\ &\quad + ".join(lines)
    total = (r"\begin{aligned} " + rf"z{h}_{{{k}}} &= \sum_{{j=1}}^{{{n}}} \alpha{h}_{{{k}j}}\, v{h}_j \\ "
             + rf"&= {body} \\ &= {latex_vector(z[i])}" + r" \end{aligned}")
    return [scaled, alpha, total]
