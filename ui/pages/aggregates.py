"""Aggregates: the mean over heads, attention rollout, and per-head entropy and distance maps
that point at the heads worth a look in Explore."""
from __future__ import annotations

import numpy as np
import streamlit as st

from analysis import head_entropy, kept_positions, mean_attention_distance, per_head_grid, restrict, rollout
from viz import aggregate_figures as figures
from ..canvas import matrices_canvas
from ..context import PageContext, bound, forget_widget, set_view, shown_errors, sync_url
from ..i18n import register

register("en", {
    "agg.matrices.title": "Mean over heads, per layer, and attention rollout",
    "agg.matrices.figure": "{kind}: mean over heads and rollout",
    "agg.mean.help": "mean_h α_ij: what the layer as a whole attends to. Rows are queries, columns keys; hatched cells are masked. Click a cell: its row's largest values are listed beside the matrix.",
    "agg.mean.name": "mean L{layer}",
    "agg.mean.value": "mean α",
    "agg.rollout.name": "rollout",
    "agg.rollout.value": "rollout",
    "agg.rollout.help": "Abnar & Zuidema (2020): each layer's mean attention plus the residual, Ã = 0.5·A + 0.5·I (rows renormalised), multiplied through the layers: R = Ã_L ··· Ã_1. Row i says how much each input position flows into position i at the top.",
    "agg.rollout.over": "Computed over all {n} positions of the sequence, through every layer of this attention.",
    "agg.rollout.over.hidden": ("Computed over the full sequence, as the model ran it ({n} positions, special tokens "
                                "included), then restricted to the {k} tokens shown. Rows are not renormalised: a "
                                "row sums to less than 1 by the share that flows in from the hidden tokens."),
    "agg.rollout.cross": "Rollout composes self-attention only: queries and keys must be the same positions so that layers multiply and the residual is the identity. Cross-attention maps decoder positions to encoder positions, so choose encoder or decoder self-attention for the rollout.",
    "agg.heads.title": "Per-head maps: which heads are worth a look",
    "agg.heads.help": "Entropy in bits (low: the head looks at one or two tokens; the top of the scale is a uniform head) and mean attention distance in tokens (small: local heads such as previous-token heads; large: long-range heads). Both are means over the query rows.",
    "agg.entropy.figure": "{kind}<br>entropy per head (bits; low = focused)",
    "agg.distance.figure": "{kind}<br>mean attention distance per head (tokens)",
    "agg.heads.hidden": "With special tokens hidden, both are computed over the tokens shown, each row renormalised over the keys that remain.",
    "agg.distance.cross": "Mean attention distance is n/a for cross-attention: decoder and encoder positions are different sequences, so |i − j| means nothing.",
    "agg.pick": "Head (sorted by entropy, most focused first)",
    "agg.pick.option": "layer {layer} · head {head} · {entropy:.2f} bits · {distance}",
    "agg.open": "Open this head in Explore",
    "agg.tokens": "{d:.2f} tokens",
})
register("zh", {
    "agg.matrices.title": "每层的多头平均，以及注意力展开（rollout）",
    "agg.matrices.figure": "{kind}：多头平均与展开",
    "agg.mean.help": "mean_h α_ij：整层关注的位置。行是查询，列是键；带斜线的格子表示被掩码。点击一个单元格：矩阵旁列出它所在行中最大的值。",
    "agg.mean.name": "第 {layer} 层平均",
    "agg.mean.value": "平均 α",
    "agg.rollout.name": "展开",
    "agg.rollout.value": "展开值",
    "agg.rollout.help": "Abnar & Zuidema（2020）：每层的平均注意力加上残差，Ã = 0.5·A + 0.5·I（行重新归一化），逐层相乘：R = Ã_L ··· Ã_1。第 i 行表示每个输入位置有多少信息流入顶层的位置 i。",
    "agg.rollout.over": "在序列的全部 {n} 个位置上、经过此注意力的每一层计算。",
    "agg.rollout.over.hidden": ("先在完整序列上按模型实际的运行计算（{n} 个位置，包括特殊词元），再只保留显示的 {k} 个词元。"
                                "各行没有重新归一化：一行之和比 1 少的部分，就是从隐藏词元流入的份额。"),
    "agg.rollout.cross": "注意力展开只能组合自注意力：查询和键必须是同一组位置，各层才能相乘，残差才是单位矩阵。编码器-解码器注意力把解码器位置映射到编码器位置，请选择编码器或解码器自注意力来查看展开。",
    "agg.heads.title": "逐头图：哪些头值得细看",
    "agg.heads.help": "熵（比特；低：该头只看一两个词元；色标顶端是均匀分布的头）与平均注意力距离（词元；小：局部的头，如看前一个词元的头；大：远程的头）。两者都是对查询行取平均。",
    "agg.entropy.figure": "{kind}<br>每个头的熵（比特；越低越集中）",
    "agg.distance.figure": "{kind}<br>每个头的平均注意力距离（词元）",
    "agg.heads.hidden": "隐藏特殊词元时，两者都在显示的词元上计算，每一行在剩余的键上重新归一化。",
    "agg.distance.cross": "编码器-解码器注意力没有平均注意力距离（n/a）：解码器与编码器的位置属于不同序列，|i − j| 没有意义。",
    "agg.pick": "注意力头（按熵排序，最集中的在前）",
    "agg.pick.option": "第 {layer} 层 · 头 {head} · {entropy:.2f} 比特 · {distance}",
    "agg.open": "在“探索”页中打开此头",
    "agg.tokens": "{d:.2f} 个词元",
})


def shown_rollout(ctx: PageContext, kind: str) -> tuple[np.ndarray, list, int]:
    """(rollout, its tokens, positions it was computed over): over the full trace, as the model
    ran it; with special tokens hidden, restricted afterwards to the positions shown (rollout of
    renormalised, filtered weights would not be Abnar & Zuidema's rollout of any real run)."""
    full = ctx.full_trace
    records = full.records_of(kind)
    matrix = rollout(records)                                          # [pos, pos]
    n = matrix.shape[0]
    tokens = list(records[0].query_tokens[:n])
    if full is ctx.trace:
        return matrix, tokens, n
    flags = full.encoder_special if kind == "encoder" else full.decoder_special
    kept = kept_positions(flags, n)                                    # positions the views show
    return restrict(matrix, kept), [tokens[i] for i in kept], n


def matrices_section(ctx: PageContext, records: list, kind: str) -> None:
    """Every layer's mean over heads and, for self-attention, the rollout, on one attention canvas:
    one button and one tile each, switched in the browser; a clicked cell lists its row."""
    t = ctx.t
    st.markdown(f"**{t('agg.matrices.title')}**")
    st.caption(t("agg.mean.help"))
    records = sorted(records, key=lambda r: r.layer)
    matrices = [figures.masked_mean(r) for r in records]
    names = [t("agg.mean.name", layer=r.layer) for r in records]
    values = [t("agg.mean.value")] * len(records)         # what a cell holds, per matrix
    with shown_errors(t, "computing the rollout"):
        if kind == "cross":
            st.info(t("agg.rollout.cross"))
        else:
            matrix, tokens, n = shown_rollout(ctx, kind)                   # [shown, shown]
            k = matrix.shape[0]
            if not ctx.lecture or k != n:    # in a hall the lecturer says it; the picture comes first
                st.caption(t("agg.rollout.help"))
                st.caption(t("agg.rollout.over", n=n) if k == n else t("agg.rollout.over.hidden", n=n, k=k))
            if matrix.shape == matrices[0].shape:        # the positions the means are drawn over
                matrices.append(matrix)
                names.append(t("agg.rollout.name"))
                values.append(t("agg.rollout.value"))
    with shown_errors(t, "drawing the mean over heads and the rollout"):
        matrices_canvas(ctx, matrices, names, records[0].query_tokens, kind, key="aggregates.canvas",
                        chosen=len(matrices) - 1, title=t("agg.matrices.figure", kind=t(f"kind.{kind}")),
                        values=values, key_tokens=records[0].key_tokens)


def open_in_explore(kind: str, layer: int, head: int) -> None:
    """Jump to Explore on one head: the view changes and the bound widgets re-seed from it."""
    set_view(page="explore", kind=kind, layer=layer, head=head)
    for field in ("page", "kind", "layer", "head"):
        forget_widget(field)
    st.rerun()


def head_picker(ctx: PageContext, kind: str, layers: list, entropy: np.ndarray, distance: np.ndarray) -> None:
    """Heads sorted by entropy, and a button that opens the chosen one in Explore."""
    t = ctx.t
    heads = [(li, h) for li in range(len(layers)) for h in range(entropy.shape[1])]
    heads.sort(key=lambda lh: float(entropy[lh]))

    def label(lh) -> str:
        d = distance[lh]
        return t("agg.pick.option", layer=layers[lh[0]], head=lh[1], entropy=float(entropy[lh]),
                 distance=t("agg.tokens", d=float(d)) if np.isfinite(d) else "n/a")

    left, right = st.columns([4, 2], vertical_alignment="bottom")
    chosen = left.selectbox(t("agg.pick"), options=heads, format_func=label, key=f"aggregates.pick.{kind}")
    if right.button(t("agg.open"), key="aggregates.open"):
        open_in_explore(kind, int(layers[chosen[0]]), int(chosen[1]))


def head_maps_section(ctx: PageContext, records: list, kind: str) -> None:
    t = ctx.t
    st.markdown(f"**{t('agg.heads.title')}**")
    st.caption(t("agg.heads.help"))
    if ctx.full_trace is not ctx.trace:
        st.caption(t("agg.heads.hidden"))
    records = sorted(records, key=lambda r: r.layer)
    with shown_errors(t, "drawing the per-head maps"):
        entropy = per_head_grid(records, head_entropy)                 # [layer, head] bits
        distance = per_head_grid(records, mean_attention_distance)     # [layer, head] tokens
        left, right = st.columns(2)
        with left:
            ctx.chart(figures.entropy_figure(records, title=t("agg.entropy.figure", kind=t(f"kind.{kind}")), t=t),
                      key="aggregates.entropy")
        with right:
            ctx.chart(figures.distance_figure(records, title=t("agg.distance.figure", kind=t(f"kind.{kind}")), t=t),
                      key="aggregates.distance")
            if kind == "cross":
                st.caption(t("agg.distance.cross"))
        head_picker(ctx, kind, [r.layer for r in records], entropy, distance)


def render(ctx: PageContext) -> None:
    t = ctx.t
    kind = bound(st.radio, "kind", t("control.kind"), options=ctx.trace.kinds(), horizontal=True,
                 format_func=lambda k: t(f"kind.{k}"))
    records = ctx.trace.records_of(kind)
    st.subheader(f"{t(f'kind.{kind}')}: {t(f'kind.{kind}.help')}")
    matrices_section(ctx, records, kind)
    head_maps_section(ctx, records, kind)
    sync_url()
