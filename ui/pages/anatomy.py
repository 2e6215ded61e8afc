"""Head anatomy: one head taken apart, from QKᵀ to z_i (on the attention canvas), Q, K and V,
and BertViz's head view."""
from __future__ import annotations

import numpy as np
import streamlit as st

from viz import anatomy
from ..canvas import FOLLOW_SYNC_MS, attention_canvas
from ..context import PageContext, bound, set_view, shown_errors, sync_url, view
from ..i18n import register

register("en", {
    "anatomy.controls": "Choose a head above the matrix and click a cell (a query token and a key token): it is taken apart beside the matrix, and below.",
    "anatomy.pipeline.title": "1 · The pipeline: softmax(QKᵀ × scale + bias, masked)",
    "anatomy.pipeline.caption": ("Rows are queries, columns are keys. The stage buttons walk the pipeline: raw "
                                 "scores, × scale = {scale:.4g}, + bias, the mask, the masked logits, the weights. "
                                 "Scores use a diverging scale (white = 0), weights a sequential one from 0; hatched "
                                 "cells are masked. QKᵀ is computed for every pair; the mask removes the hatched "
                                 "cells only just before the softmax."),
    "anatomy.bias": "This model adds a position bias to the scaled scores (the + bias stage).",
    "anatomy.no_bias": "This model adds no position bias, so there is no + bias step: the scaled scores go straight to the mask.",
    "anatomy.neuron.title": "2 · How one weight α_ij is made: query {i} → key {j}",
    "anatomy.neuron.caption": ("q_i and k_j are this head's query and key vectors (d_head = {d_head} components); "
                               "their elementwise product summed is the score. Beside the matrix, every component."),
    "anatomy.neuron.pick": "Click a cell of the matrix to take its weight apart here.",
    "anatomy.check.ok": "Check: Σ q ⊙ k equals the model's recorded score (difference {diff:.1e}); Σ_j α_ij v_j equals its z_i (difference {zdiff:.1e}).",
    "anatomy.check.bad": "Σ q ⊙ k differs from the model's recorded score by {diff:.3g}: the record is inconsistent.",
    "anatomy.masked": "This cell is masked: the query may not attend to this key, so α_ij = 0 whatever the score.",
    "anatomy.qkv.title": "3 · Q, K and V of this head",
    "anatomy.qkv.caption": ("Q = X W^Q, K = X W^K, V = X W^V for this head: one row per token, one column per "
                            "component. Outlined: the rows of the chosen query (in Q) and key (in K and V)."),
    "anatomy.headview.title": "4 · Head view (as in BertViz)",
    "anatomy.headview.heads": "Heads to draw",
    "anatomy.headview.caption": ("Queries on the left, keys on the right; a line's opacity is the weight α_ij, one "
                                 "colour per head. Lines with α < {threshold} are hidden for readability. Hover a "
                                 "token to read its largest weights."),
    "anatomy.headview.none": "Choose at least one head to draw.",
    "anatomy.mean_note": "This page takes one head apart: showing head 0 instead of the mean over heads.",
})
register("zh", {
    "anatomy.controls": "在矩阵上方选择一个头，再点击一个单元格（一个查询词元和一个键词元）：它会在矩阵旁边和下方被逐步拆解。",
    "anatomy.pipeline.title": "1 · 计算流程：softmax(QKᵀ × 缩放因子 + 偏置，掩码)",
    "anatomy.pipeline.caption": ("行是查询，列是键。阶段按钮依次走过计算流程：原始分数、× 缩放因子 {scale:.4g}、+ 偏置、掩码、"
                                 "掩码后的 logit、权重。分数使用发散色标（白色 = 0），权重使用从 0 开始的顺序色标；带斜线的单元格被掩码。"
                                 "QKᵀ 对每一对都会计算；掩码只在 softmax 之前才去掉带斜线的单元格。"),
    "anatomy.bias": "此模型在缩放后的分数上加了位置偏置（“+ 偏置”阶段）。",
    "anatomy.no_bias": "此模型没有位置偏置，因此没有“+ 偏置”这一步：缩放后的分数直接进入掩码。",
    "anatomy.neuron.title": "2 · 一个权重 α_ij 是如何得到的：查询 {i} → 键 {j}",
    "anatomy.neuron.caption": "q_i 和 k_j 是此头的查询向量和键向量（d_head = {d_head} 个分量）；二者逐元素相乘再求和即为分数。矩阵旁边列出每个分量。",
    "anatomy.neuron.pick": "点击矩阵中的一个单元格，在这里拆解它的权重。",
    "anatomy.check.ok": "核对：Σ q ⊙ k 等于模型记录的分数（差 {diff:.1e}）；Σ_j α_ij v_j 等于其 z_i（差 {zdiff:.1e}）。",
    "anatomy.check.bad": "Σ q ⊙ k 与模型记录的分数相差 {diff:.3g}：记录不一致。",
    "anatomy.masked": "此单元格被掩码：该查询不能关注这个键，因此无论分数多少，α_ij = 0。",
    "anatomy.qkv.title": "3 · 此头的 Q、K 和 V",
    "anatomy.qkv.caption": "此头的 Q = X W^Q、K = X W^K、V = X W^V：每个词元一行，每个分量一列。描边：所选查询在 Q 中的行，所选键在 K 和 V 中的行。",
    "anatomy.headview.title": "4 · 头视图（同 BertViz）",
    "anatomy.headview.heads": "要绘制的头",
    "anatomy.headview.caption": "左边是查询，右边是键；线的不透明度即权重 α_ij，每个头一种颜色。为便于阅读，α < {threshold} 的线被隐藏。将鼠标悬停在词元上可查看其最大的权重。",
    "anatomy.headview.none": "请至少选择一个头。",
    "anatomy.mean_note": "本页拆解单个头：显示头 0，而不是所有头的平均。",
})


def pipeline_section(ctx: PageContext, records: list, trace) -> tuple:
    """(record, head, cell): the layer radio and the attention canvas of that layer. The canvas
    chooses head, stage and cell in the browser (and derives the cell beside the matrix at once);
    the sections below follow the choice once the canvas has told Python (ui/canvas.py)."""
    t = ctx.t
    st.markdown(f"**{t('anatomy.pipeline.title')}**")
    if not ctx.lecture:        # in a hall the lecturer says it; the pictures come first
        st.caption(t("anatomy.controls"))
        st.caption(t("anatomy.bias") if records[0].bias is not None else t("anatomy.no_bias"))
    if view().head == "mean":
        st.caption(t("anatomy.mean_note"))
    layer = bound(st.radio, "layer", t("control.layer"), options=[r.layer for r in records], horizontal=True)
    record = next(r for r in records if r.layer == layer)
    n_q, n_k = record.allowed.shape
    v = view()
    head = v.head if isinstance(v.head, int) and v.head in range(record.n_heads) else 0
    if v.head != "mean" and v.head != head:
        set_view(head=head)               # a head this model lacks (a link made for another)
    cell = (v.query, v.key) if v.query in range(n_q) and v.key in range(n_k) else None
    if cell is None and (v.query, v.key) != (None, None):
        set_view(query=None, key=None)    # a cell this kind, layer or text does not have
    attention_canvas(ctx, record, trace, key="anatomy.canvas", head=head, cell=cell,
                     mean=False, sync_ms=FOLLOW_SYNC_MS)
    st.caption(t("anatomy.pipeline.caption", scale=record.scale))
    return record, head, cell


def neuron_section(ctx: PageContext, record, head: int, cell) -> None:
    """The chosen cell's formulas with its numbers (the canvas shows every component)."""
    t = ctx.t
    if cell is None:
        st.markdown(f"**{t('anatomy.neuron.title', i='i', j='j')}**")
        st.info(t("anatomy.neuron.pick"))
        return
    numbers = anatomy.neuron_numbers(record, head, *cell)
    st.markdown(f"**{t('anatomy.neuron.title', i=cell[0], j=cell[1])}**")
    st.caption(t("anatomy.neuron.caption", d_head=numbers.d_head))
    # Only numbers and fixed symbols go into LaTeX, never a token.
    for line in anatomy.neuron_formulas(numbers, t=t):
        st.latex(line)
    if not numbers.allowed:
        st.info(t("anatomy.masked"))
    diff = abs(numbers.score_sum - numbers.score)
    zdiff = float(np.abs(numbers.context_sum - numbers.context).max()) if numbers.context.size else 0.0
    if diff <= 1e-3 * max(1.0, abs(numbers.score)):
        st.caption(t("anatomy.check.ok", diff=diff, zdiff=zdiff))
    else:
        st.warning(t("anatomy.check.bad", diff=diff))


def qkv_section(ctx: PageContext, record, head: int, cell) -> None:
    st.markdown(f"**{ctx.t('anatomy.qkv.title')}**")
    st.caption(ctx.t("anatomy.qkv.caption"))
    query, key = cell if cell is not None else (None, None)
    ctx.chart(anatomy.qkv_figure(record, head, query, key, t=ctx.t), key="anatomy.qkv")


def head_view_section(ctx: PageContext, record, head: int) -> None:
    t = ctx.t
    st.markdown(f"**{t('anatomy.headview.title')}**")
    # Two token columns need little width: controls on the left, the figure beside them.
    controls, figure = st.columns([1, 2])
    options = list(range(record.n_heads))
    # A plain widget (not in the URL); drop a stored choice that names heads this model lacks.
    if any(h not in options for h in st.session_state.get("anatomy.heads", [])):
        del st.session_state["anatomy.heads"]
    heads = controls.multiselect(t("anatomy.headview.heads"), options=options, default=[head], key="anatomy.heads",
                                 format_func=lambda h: f"{t('control.head')} {h}")
    controls.caption(t("anatomy.headview.caption", threshold=anatomy.LINE_THRESHOLD))
    if not heads:
        controls.info(t("anatomy.headview.none"))
        return
    with figure:
        ctx.chart(anatomy.head_view_figure(record, sorted(heads), t=t), key="anatomy.headview")


def head_anatomy(ctx: PageContext, records: list) -> None:
    """Every per-head view of one kind. Not a fragment: the canvas tells Python its choices with a
    rerun of its own (see ui/pages/explore.head_detail for why a fragment lost clicks)."""
    with shown_errors(ctx.t, "drawing the head anatomy"):
        record, head, cell = pipeline_section(ctx, records, ctx.trace)
        neuron_section(ctx, record, head, cell)
        qkv_section(ctx, record, head, cell)
        head_view_section(ctx, record, head)
    sync_url()


def render(ctx: PageContext) -> None:
    t = ctx.t
    kinds = ctx.trace.kinds()
    if len(kinds) > 1:
        kind = bound(st.radio, "kind", t("control.kind"), options=kinds, horizontal=True,
                     format_func=lambda k: t(f"kind.{k}"))
    else:                      # one kind of attention: the heading below names it, a radio would not choose
        kind = kinds[0]
    st.subheader(f"{t(f'kind.{kind}')}: {t(f'kind.{kind}.help')}")
    if kind == "decoder":       # where the mask goes: on the scores, not on V (the source text says V)
        st.caption(t("kind.decoder.mask"))
    head_anatomy(ctx, ctx.trace.records_of(kind))
