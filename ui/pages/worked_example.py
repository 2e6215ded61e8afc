"""Worked example (source text §4.2): 4 tokens × 4 dimensions, every matrix from X to z_1, with the
causal mask and 2-head (multi-head) attention as switches. It needs no trace: model.worked_example
computes it through the same attention code as the models."""
from __future__ import annotations

from typing import Optional

import numpy as np
import pandas as pd
import streamlit as st

from model.worked_example import MATRICES, seed_matrices, worked_example
from viz import worked
from ..context import PageContext, bound, set_view, shown_errors, view
from ..state import EDIT_LIMIT as LIMIT
from ..state import MAX_SEED, WORKED_MATRICES
from ..i18n import register

register("en", {
    "worked.title": "The source text's worked example of self-attention: 4 tokens, each a 4-dimensional vector",
    "worked.intro": ("X holds one token per row (x₁ … x₄). The projections W^Q, W^K, W^V (and W^O for two heads) "
                     "come from the seed; edit any cell to see every step change. Numbers are rounded to 3 decimals; "
                     "the computation runs through the same attention code as the built-in models."),
    "worked.seed": "Random seed",
    "worked.seed.help": "X, W^Q, W^K, W^V and W^O are drawn uniformly from −1..1 and rounded to one decimal.",
    "worked.reset": "Reset to seed",
    "worked.causal": "Causal mask",
    "worked.causal.help": ("The decoder's masked self-attention. No position sees the future: the scores above the "
                           "diagonal become −∞ before the softmax, so their weights α are 0. V is not changed."),
    "worked.causal.where": ("The mask acts on the scores, before the softmax: M adds −∞ to the scaled scores above the "
                            "diagonal, so those weights α are 0. The value vectors V are untouched: each zᵢ is a "
                            "weighted sum of the same V, with weight 0 on later tokens. (The source text says V is "
                            "set to −∞; it is the scores that are.)"),
    "worked.heads": "Multi-head: 2 heads",
    "worked.heads.help": "Split d_model = 4 into 2 heads of dₖ = 2, attend per head, concatenate, multiply by W^O.",
    "worked.inputs": "Inputs (editable: numbers only)",
    "worked.inputs.caption": "Rows of X are the tokens x₁ … x₄; a W maps the 4 components of a token (rows) to 4 outputs (columns).",
    "worked.w_o": "W^O (2 heads only) maps the concatenated heads back to d_model = 4 outputs: step 3 below.",
    "worked.bad": "{matrix}, row {row}, column {col}: empty or not a number between −{limit:g} and {limit:g}.",
    "worked.fix": "Please correct the entries above (numbers only); the computation waits for them.",
    "worked.step.qkv": "1 · Linear projections: query Q, key K, value V",
    "worked.step.qkv.heads": ("Each head takes its own slice of the columns (dotted line): head 1 columns 1–2, "
                              "head 2 columns 3–4, i.e. W^Q₁ = the first two columns of W^Q, and so on."),
    "worked.step.attention": "2 · Scores QKᵀ, scaling ÷√dₖ, softmax row by row α, weighted sum Z = αV",
    "worked.step.attention.masked": "2 · Scores QKᵀ, scaling ÷√dₖ, causal mask, softmax row by row α, weighted sum Z = αV",
    "worked.colours": ("Colours: blue negative, white 0, red positive (each matrix its own range); α from 0 (dark) to 1 "
                       "(yellow); grey cells are masked (−∞ before the softmax, so α = 0)."),
    "worked.head": "Head {h} (dₖ = {d_k})",
    "worked.row": "Spell out zᵢ for token i =",
    "worked.step.zi": "3 · z{i} spelled out: α{i}ⱼ for j = 1…4, then z{i} = Σⱼ α{i}ⱼ vⱼ",
    "worked.causal.note": "With the causal mask token {i} sees only tokens 1…{i}: the weights on later tokens are 0.",
    "worked.step.concat": "3 · Concatenate the heads and multiply by W^O",
    "worked.step.zi.heads": "4 · z{i} spelled out per head",
    "worked.panel.Q": "Q = XW<sup>Q</sup> (query)",
    "worked.panel.K": "K = XW<sup>K</sup> (key)",
    "worked.panel.V": "V = XW<sup>V</sup> (value)",
    "worked.panel.scores": "QKᵀ",
    "worked.panel.scaled": "QKᵀ / √d<sub>k</sub> (scaled)",
    "worked.panel.masked": "+ mask M (causal)",
    "worked.panel.weights": "α = softmax, row-wise",
    "worked.panel.context": "Z = αV",
    "worked.panel.concat": "Concat(head₁, head₂)",
    "worked.panel.W_O": "W<sup>O</sup>",
    "worked.panel.output": "MultiHead = Concat · W<sup>O</sup>",
})
register("zh", {
    "worked.title": "原文中的自注意力计算示例：4 个词元，每个是一个 4 维向量",
    "worked.intro": ("X 的每一行是一个词元（x₁ … x₄）。投影矩阵 W^Q、W^K、W^V（两个头时还有 W^O）由随机种子生成；"
                     "修改任意单元格即可看到每一步随之变化。数值保留 3 位小数；计算使用与内置模型相同的注意力代码。"),
    "worked.seed": "随机种子",
    "worked.seed.help": "X、W^Q、W^K、W^V 和 W^O 从 −1..1 均匀抽取，并保留一位小数。",
    "worked.reset": "恢复种子值",
    "worked.causal": "因果掩码",
    "worked.causal.help": "解码器的掩码自注意力。任何位置都看不到未来：softmax 之前，对角线以上的分数变为 −∞，因此那里的权重 α = 0。V 不变。",
    "worked.causal.where": ("掩码作用在分数上、softmax 之前：M 给对角线以上的缩放后分数加上 −∞，因此这些权重 α 为 0。值向量 V "
                            "不受影响：每个 zᵢ 仍是同一组 V 的加权和，只是后面词元的权重为 0。（原文说把 V 设为 −∞；"
                            "实际上被设为 −∞ 的是分数。）"),
    "worked.heads": "多头注意力：2 个头",
    "worked.heads.help": "把 d_model = 4 拆成 2 个 dₖ = 2 的头，每个头分别计算注意力，拼接后乘以 W^O。",
    "worked.inputs": "输入（可编辑：仅限数字）",
    "worked.inputs.caption": "X 的每一行是一个词元 x₁ … x₄；W 把词元的 4 个分量（行）映射为 4 个输出（列）。",
    "worked.w_o": "W^O（仅两个头时使用）把拼接后的各个头映射回 d_model = 4 个输出：见下面第 3 步。",
    "worked.bad": "{matrix} 第 {row} 行第 {col} 列：为空，或不是 −{limit:g} 到 {limit:g} 之间的数字。",
    "worked.fix": "请更正上面的输入（仅限数字）；更正后才会计算。",
    "worked.step.qkv": "1 · 线性投影：查询 Q、键 K、值 V",
    "worked.step.qkv.heads": "每个头取各自的一组列（虚线分隔）：头 1 取第 1–2 列，头 2 取第 3–4 列，即 W^Q₁ 是 W^Q 的前两列，依此类推。",
    "worked.step.attention": "2 · 分数 QKᵀ、缩放 ÷√dₖ、按行 softmax 得 α、加权求和 Z = αV",
    "worked.step.attention.masked": "2 · 分数 QKᵀ、缩放 ÷√dₖ、因果掩码、按行 softmax 得 α、加权求和 Z = αV",
    "worked.colours": "颜色：蓝为负，白为 0，红为正（每个矩阵各自的范围）；α 从 0（深色）到 1（黄色）；灰色单元格被掩码（softmax 前为 −∞，因此 α = 0）。",
    "worked.head": "头 {h}（dₖ = {d_k}）",
    "worked.row": "逐项展开 zᵢ，词元 i =",
    "worked.step.zi": "3 · 逐项展开 z{i}：先求 j = 1…4 的 α{i}ⱼ，再求 z{i} = Σⱼ α{i}ⱼ vⱼ",
    "worked.causal.note": "使用因果掩码时，词元 {i} 只能看到词元 1…{i}：对后面词元的权重为 0。",
    "worked.step.concat": "3 · 拼接各个头，再乘以 W^O",
    "worked.step.zi.heads": "4 · 按头逐项展开 z{i}",
    "worked.panel.Q": "Q = XW<sup>Q</sup>（查询）",
    "worked.panel.K": "K = XW<sup>K</sup>（键）",
    "worked.panel.V": "V = XW<sup>V</sup>（值）",
    "worked.panel.scores": "QKᵀ",
    "worked.panel.scaled": "QKᵀ / √d<sub>k</sub>（缩放）",
    "worked.panel.masked": "+ 掩码 M（因果）",
    "worked.panel.weights": "α = 按行 softmax",
    "worked.panel.context": "Z = αV",
    "worked.panel.concat": "拼接(头₁, 头₂)",
    "worked.panel.W_O": "W<sup>O</sup>",
    "worked.panel.output": "多头注意力 = 拼接 · W<sup>O</sup>",
})

# LIMIT (ui/state.py): |entry| bound, keeps every product finite in float32 (and the table readable)
assert tuple(MATRICES) == WORKED_MATRICES, "the link's matrix names (ui/state.py) are the worked example's"
N_HEADS = 2
EDIT_PREFIX = "worked.edit."
KEPT = "worked.kept"   # the editors' version and the seed the edits were made on
LATEX_NAMES = {"X": "X", "W_Q": "W^Q", "W_K": "W^K", "W_V": "W^V", "W_O": "W^O"}

# One LaTeX line per step: symbols and digits only, never user text.
LATEX_QKV = r"Q = XW^Q, \qquad K = XW^K, \qquad V = XW^V"
LATEX_MASK = r"M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i \end{cases}"


def attention_latex(d_k: int, causal: bool, head: Optional[str] = None) -> list[str]:
    """QKᵀ/√d_k (+ M) -> α = softmax row-wise -> Z = αV with this d_k's number; then M itself."""
    h = "" if head is None else f"_{head}"
    mask = " + M" if causal else ""
    line = (rf"\frac{{Q{h} K{h}^\top}}{{\sqrt{{d_k}}}}{mask} = \frac{{Q{h} K{h}^\top}}{{\sqrt{{{d_k}}}}}{mask}"
            rf" \;\longrightarrow\; \alpha{h} = \mathrm{{softmax}}_{{\text{{row}}}}(\cdot)"
            rf" \;\longrightarrow\; Z{h} = \alpha{h} V{h}")
    return [line, LATEX_MASK] if causal else [line]


def head_latex(h: int, d_k: int) -> list[str]:
    """head_h = softmax(Q_h K_hᵀ/√d_k) V_h, and which columns of W^Q, W^K, W^V head h owns."""
    cols = rf"{(h - 1) * d_k + 1}..{h * d_k}"
    return [rf"\mathrm{{head}}_{h} = \mathrm{{softmax}}\!\left(\frac{{Q_{h} K_{h}^\top}}{{\sqrt{{{d_k}}}}}\right) V_{h}",
            rf"Q_{h} = X W^Q_{{[:,\,{cols}]}},\quad K_{h} = X W^K_{{[:,\,{cols}]}},\quad V_{h} = X W^V_{{[:,\,{cols}]}}"]


LATEX_CONCAT = r"\mathrm{MultiHead}(X) = \mathrm{Concat}(\mathrm{head}_1, \mathrm{head}_2)\, W^O"


# ---- state --------------------------------------------------------------------------------------

def kept() -> dict:
    return st.session_state.setdefault(KEPT, {})


def editor_key(name: str) -> str:
    """The editor's key carries a version: a new key is the only way to clear a data editor's
    edits (its state cannot be written, and the browser would send old edits back)."""
    return f"{EDIT_PREFIX}{name}.{kept().get('edit_version', 0)}"


def forget_edits() -> None:
    """Back to the seed's matrices: fresh editors, and no edited cells in the view (or link)."""
    kept()["edit_version"] = kept().get("edit_version", 0) + 1
    set_view(edits=())


def follow_seed(seed: int) -> None:
    """A new seed means new matrices: edits made on the old ones no longer apply."""
    if kept().get("matrices_seed", seed) != seed:
        forget_edits()
    kept()["matrices_seed"] = seed


def with_edits(name: str, drawn: np.ndarray, edits: tuple) -> np.ndarray:
    """The seed's matrix `name` with the view's edited cells written in."""
    values = np.array(drawn, dtype=np.float64)
    for matrix, r, c, value in edits:
        if matrix == name and r < values.shape[0] and c < values.shape[1]:
            values[r, c] = value
    return values


def edited_cells(name: str, values: np.ndarray, drawn: np.ndarray) -> list[tuple]:
    """(name, row, column, value) of every valid cell that differs from the seed's: what a link
    must carry to rebuild the matrix."""
    seed = np.asarray(drawn, dtype=np.float64)
    ok = np.isfinite(values) & (np.abs(np.nan_to_num(values)) <= LIMIT)
    return [(name, int(r), int(c), float(values[r, c])) for r, c in zip(*np.nonzero(ok & (values != seed)))]


# ---- inputs -------------------------------------------------------------------------------------

def matrix_frame(name: str, values: np.ndarray) -> pd.DataFrame:
    """X: one row per token x₁..x₄; a W: one row per input component. Columns 1..4."""
    rows = worked.vector_labels("x", values.shape[0]) if name == "X" else worked.index_labels(values.shape[0])
    return pd.DataFrame(np.asarray(values, dtype=np.float64), index=rows,
                        columns=worked.index_labels(values.shape[1]))


def read_matrix(table: pd.DataFrame) -> tuple[np.ndarray, list[tuple[str, str]]]:
    """(values, [(row, column) of every entry that is empty, not a number or beyond ±LIMIT])."""
    values = table.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (np.abs(np.nan_to_num(values)) > LIMIT)
    problems = [(str(table.index[r]), str(table.columns[c])) for r, c in zip(*np.nonzero(bad))]
    return values, problems


def matrix_editor(name: str, base: np.ndarray, container) -> pd.DataFrame:
    """st.data_editor for one 4×4 matrix; numbers only, within ±LIMIT."""
    frame = matrix_frame(name, base)
    # Narrow columns: four 4×4 editors side by side must show every column without scrolling.
    config = {c: st.column_config.NumberColumn(c, min_value=-LIMIT, max_value=LIMIT, required=True, width=42)
              for c in frame.columns}
    config["_index"] = st.column_config.Column(width=30)
    with container:
        st.latex(LATEX_NAMES[name])
        return st.data_editor(frame, key=editor_key(name), num_rows="fixed", column_config=config,
                              width="stretch")


def input_matrices(ctx: PageContext, seed: int, names: tuple) -> Optional[dict]:
    """The editors, seeded by `seed` (or the user's kept edits); None, with a message, if an entry is bad."""
    t = ctx.t
    if ctx.lecture:
        # The editors draw their numbers on a canvas at the table's own size, too small for a hall:
        # in lecture mode they fold away (the lecturer opens them to edit), and the first screen
        # holds the computation's pictures.
        with st.expander(t("worked.inputs"), expanded=False):
            return _input_matrices(ctx, seed, names)
    st.markdown(f"**{t('worked.inputs')}**")
    return _input_matrices(ctx, seed, names)


def _input_matrices(ctx: PageContext, seed: int, names: tuple) -> Optional[dict]:
    t = ctx.t
    st.caption(t("worked.inputs.caption"))
    follow_seed(seed)
    drawn = seed_matrices(seed)
    matrices, messages, edits = {}, [], []
    # At most four editors to a row: narrower ones would hide a column behind a scroll bar.
    columns = st.columns(4) + (st.columns(4) if len(names) > 4 else [])
    for name, column in zip(names, columns):
        # Edits are cell -> value, so replaying them on a base that already holds them is harmless.
        edited = matrix_editor(name, with_edits(name, drawn[name], view().edits), column)
        values, problems = read_matrix(edited)
        edits += edited_cells(name, values, drawn[name])
        matrices[name] = values
        messages += [t("worked.bad", matrix=LATEX_NAMES[name], row=r, col=c, limit=LIMIT) for r, c in problems]
    # the edits of matrices not shown (W^O with one head) stay for when they are shown again
    kept_hidden = [e for e in view().edits if e[0] not in names]
    if tuple(sorted(edits + kept_hidden)) != view().edits:
        set_view(edits=tuple(sorted(edits + kept_hidden)))
    if "W_O" in names:
        columns[5].caption(t("worked.w_o"))
    if messages:
        for message in messages:
            st.warning(message)
        st.info(t("worked.fix"))
        return None
    return matrices


def controls(ctx: PageContext) -> tuple[int, bool, bool]:
    """(seed, causal, two heads)."""
    t = ctx.t
    seed_box, reset_box, causal_box, heads_box = st.columns([2, 2, 2, 3], vertical_alignment="bottom")
    with seed_box:
        seed = bound(st.number_input, "seed", t("worked.seed"), min_value=0, max_value=MAX_SEED, step=1,
                     help=t("worked.seed.help"))
    reset_box.button(t("worked.reset"), key="worked.reset", on_click=forget_edits)
    with causal_box:
        causal = bound(st.toggle, "causal", t("worked.causal"), help=t("worked.causal.help"))
    with heads_box:
        two_heads = bound(st.toggle, "two_heads", t("worked.heads"), help=t("worked.heads.help"))
    if causal:      # where the mask goes: on the scores, not on V
        st.caption(t("worked.causal.where"))
    return int(seed), bool(causal), bool(two_heads)


# ---- the computation, step by step ---------------------------------------------------------------

def panel_titles(t) -> dict:
    return {name: t(f"worked.panel.{name}") for name in worked.DEFAULT_TITLES}


def spelled_out(ctx: PageContext, stages: dict, row: int, causal: bool, head: Optional[int] = None) -> None:
    for line in worked.zi_latex(stages, row, head=head):
        st.latex(line)
    if causal and row < stages["weights"].shape[1] - 1:
        st.caption(ctx.t("worked.causal.note", i=row + 1))


def row_choice(ctx: PageContext, n: int) -> int:
    """0-based query row whose z_i is spelled out (the source text's z_1 by default)."""
    i = bound(st.radio, "row", ctx.t("worked.row"), options=list(range(1, n + 1)), horizontal=True)
    return int(i) - 1


def single_head(ctx: PageContext, ex: dict, titles: dict) -> None:
    t, causal = ctx.t, ex["causal"]
    st.markdown(f"#### {t('worked.step.attention.masked' if causal else 'worked.step.attention')}")
    for line in attention_latex(ex["d_k"], causal):
        st.latex(line)
    ctx.chart(worked.panels_figure(worked.attention_panels(ex, causal, titles), t=t), key="worked.attention")
    st.caption(t("worked.colours"))
    row = row_choice(ctx, ex["X"].shape[0])
    st.markdown(f"#### {t('worked.step.zi', i=worked.sub('', row + 1))}")
    spelled_out(ctx, ex, row, causal)


def multi_head(ctx: PageContext, ex: dict, titles: dict) -> None:
    t, causal, d_k = ctx.t, ex["causal"], ex["d_k"]
    st.markdown(f"#### {t('worked.step.attention.masked' if causal else 'worked.step.attention')}")
    for line in attention_latex(d_k, causal, head="h"):
        st.latex(line)
    for h, stages in enumerate(ex["heads"], start=1):
        st.markdown(f"**{t('worked.head', h=h, d_k=d_k)}**")
        for line in head_latex(h, d_k):
            st.latex(line)
        panels = worked.attention_panels(stages, causal, titles, prefix=f"head{h}.")
        ctx.chart(worked.panels_figure(panels, t=t), key=f"worked.head{h}")
    st.caption(t("worked.colours"))
    st.markdown(f"#### {t('worked.step.concat')}")
    st.latex(LATEX_CONCAT)
    ctx.chart(worked.panels_figure(worked.output_panels(ex, titles), t=t), key="worked.output")
    row = row_choice(ctx, ex["X"].shape[0])
    st.markdown(f"#### {t('worked.step.zi.heads', i=worked.sub('', row + 1))}")
    for h, stages in enumerate(ex["heads"], start=1):
        st.markdown(f"**{t('worked.head', h=h, d_k=d_k)}**")
        spelled_out(ctx, stages, row, causal, head=h)


def render(ctx: PageContext) -> None:
    t = ctx.t
    st.subheader(t("worked.title"))
    st.caption(t("worked.intro"))
    with shown_errors(t, "computing the worked example"):
        seed, causal, two_heads = controls(ctx)
        names = MATRICES if two_heads else MATRICES[:-1]
        matrices = input_matrices(ctx, seed, names)
        if matrices is None:
            return
        ex = worked_example(seed, causal=causal, n_heads=N_HEADS if two_heads else 1, **matrices)
        titles = panel_titles(t)
        st.markdown(f"#### {t('worked.step.qkv')}")
        st.latex(LATEX_QKV)
        ctx.chart(worked.panels_figure(worked.projection_panels(ex, titles), t=t), key="worked.qkv")
        if two_heads:
            st.caption(t("worked.step.qkv.heads"))
            multi_head(ctx, ex, titles)
        else:
            single_head(ctx, ex, titles)
