"""Head anatomy: one head taken apart, from QKᵀ to z_i, and BertViz's head view."""
from __future__ import annotations

import numpy as np
import streamlit as st

from viz import anatomy
from viz.labels import VISIBLE
from ..context import PageContext, bound, forget_widget, set_view, shown_errors, sync_url, view
from ..i18n import register

register("en", {
    "anatomy.controls": "Choose a head and one cell of its matrix (a query token and a key token).",
    "anatomy.query": "Query token i (row)",
    "anatomy.key": "Key token j (column)",
    "anatomy.pipeline.title": "1 · The pipeline: softmax(QKᵀ × scale + bias, masked)",
    "anatomy.pipeline.caption": ("Rows are queries, columns are keys, in the same order in every panel. "
                                 "The model multiplies the raw scores by scale = {scale:.4g}. Scores use a "
                                 "diverging scale (white = 0), each panel its own range (see its colour bar): "
                                 "scaling changes the numbers, not the pattern. Weights use a fixed 0..1 scale; "
                                 "hatched cells are masked. QKᵀ is computed for every pair; the mask removes the hatched "
                                 "cells only just before the softmax. The outlined cell is the one taken apart below."),
    "anatomy.bias": "This model adds a position bias to the scaled scores (the + bias panel).",
    "anatomy.no_bias": "This model adds no position bias, so there is no + bias step: the scaled scores go straight to the mask.",
    "anatomy.neuron.title": "2 · The neuron view: how one weight α_ij is made",
    "anatomy.neuron.caption": ("q_i and k_j are this head's query and key vectors (d_head = {d_head} components); "
                               "their elementwise product summed is the score. The bars below show every component."),
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
    "anatomy.controls": "选择一个头，以及它矩阵中的一个单元格（一个查询词元和一个键词元）。",
    "anatomy.query": "查询词元 i（行）",
    "anatomy.key": "键词元 j（列）",
    "anatomy.pipeline.title": "1 · 计算流程：softmax(QKᵀ × 缩放因子 + 偏置，掩码)",
    "anatomy.pipeline.caption": ("行是查询，列是键，每个面板的顺序相同。模型将原始分数乘以缩放因子 {scale:.4g}。"
                                 "分数使用发散色标（白色 = 0），每个面板有各自的范围（见其色条）：缩放改变数值，不改变模式。"
                                 "权重使用固定的 0..1 色标；带斜线的单元格被掩码。QKᵀ 对每一对都会计算；掩码只在 softmax 之前才去掉带斜线的单元格。"
                                 "描边的单元格在下方逐步拆解。"),
    "anatomy.bias": "此模型在缩放后的分数上加了位置偏置（“+ 偏置”面板）。",
    "anatomy.no_bias": "此模型没有位置偏置，因此没有“+ 偏置”这一步：缩放后的分数直接进入掩码。",
    "anatomy.neuron.title": "2 · 神经元视图：一个权重 α_ij 是如何得到的",
    "anatomy.neuron.caption": "q_i 和 k_j 是此头的查询向量和键向量（d_head = {d_head} 个分量）；二者逐元素相乘再求和即为分数。下方条形图显示每个分量。",
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


def token_option(tokens: list[str]):
    """Selectbox labels "index: token" (plain text; a space or newline shown as ␣ or ↵)."""
    return lambda i: f"{i}: {VISIBLE.get(tokens[i], tokens[i])}"


def _keep_in_range(field: str, options: range) -> None:
    """Reset a bound choice (and its widget) that this kind, layer or text no longer has."""
    if getattr(view(), field) not in options or st.session_state.get(f"w.{field}", options.start) not in options:
        set_view(**{field: options.start})
        forget_widget(field)


def head_controls(ctx: PageContext, records: list) -> tuple:
    """(record, head, query, key): layer, head and the chosen cell, all in the URL."""
    t = ctx.t
    if view().head == "mean" or st.session_state.get("w.head", 0) == "mean":
        st.caption(t("anatomy.mean_note"))
    _keep_in_range("head", range(records[0].n_heads))
    if not ctx.lecture:        # in a hall the lecturer says it; the pictures come first
        st.caption(t("anatomy.controls"))
    c_layer, c_head, c_query, c_key = st.columns([2, 3, 2, 2])
    layer = bound(c_layer.radio, "layer", t("control.layer"), options=[r.layer for r in records], horizontal=True)
    record = next(r for r in records if r.layer == layer)
    head = bound(c_head.radio, "head", t("control.head"), options=list(range(record.n_heads)), horizontal=True)
    n_q, n_k = record.allowed.shape
    _keep_in_range("query", range(n_q))
    _keep_in_range("key", range(n_k))
    query = bound(c_query.selectbox, "query", t("anatomy.query"), options=list(range(n_q)),
                  format_func=token_option(record.query_tokens))
    key = bound(c_key.selectbox, "key", t("anatomy.key"), options=list(range(n_k)),
                format_func=token_option(record.key_tokens))
    return record, int(head), int(query), int(key)


def pipeline_section(ctx: PageContext, record, head: int, query: int, key: int) -> None:
    t = ctx.t
    st.markdown(f"**{t('anatomy.pipeline.title')}**")
    if not ctx.lecture:
        st.caption(t("anatomy.bias") if record.bias is not None else t("anatomy.no_bias"))
    ctx.chart(anatomy.pipeline_figure(record, head, query, key, t=t), key="anatomy.pipeline")
    st.caption(t("anatomy.pipeline.caption", scale=record.scale))


def neuron_section(ctx: PageContext, record, head: int, query: int, key: int) -> None:
    t = ctx.t
    numbers = anatomy.neuron_numbers(record, head, query, key)
    st.markdown(f"**{t('anatomy.neuron.title')}**")
    st.caption(t("anatomy.neuron.caption", d_head=numbers.d_head))
    left, right = st.columns([1, 1])
    with left:
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
        ctx.chart(anatomy.softmax_row_figure(record, head, query, key, t=t), key="anatomy.row")
    with right:
        ctx.chart(anatomy.neuron_figure(record, head, query, key, t=t), key="anatomy.neuron")


def qkv_section(ctx: PageContext, record, head: int, query: int, key: int) -> None:
    st.markdown(f"**{ctx.t('anatomy.qkv.title')}**")
    st.caption(ctx.t("anatomy.qkv.caption"))
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


@st.fragment
def head_anatomy(ctx: PageContext, records: list) -> None:
    """Every per-head view of one kind: reruns alone when the head or cell changes, never the model."""
    with shown_errors(ctx.t, "drawing the head anatomy"):
        record, head, query, key = head_controls(ctx, records)
        pipeline_section(ctx, record, head, query, key)
        neuron_section(ctx, record, head, query, key)
        qkv_section(ctx, record, head, query, key)
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
