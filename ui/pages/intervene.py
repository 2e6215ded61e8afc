"""Intervene: switch heads off or hide key tokens, rerun, and show what changed."""
from __future__ import annotations

import streamlit as st

import model
from viz.intervene import (NO_CHANGE, change_grid, change_summary_figure, largest_change, pair_labels, prediction_rows,
                           visible)
from ..canvas import compare_canvas
from ..context import PageContext, bound, forget_widget, set_view, shown_errors, sync_url, view
from ..i18n import register

register("en", {
    "int.column.position": "position",
    "int.column.input": "input",
    "int.column.top-1 before": "top-1 before",
    "int.column.p before": "p before",
    "int.column.top-1 after": "top-1 after",
    "int.column.p after": "p after",
    "int.column.changed": "changed",
    "int.help": "Switch heads off (their output z is zeroed before W^O) or hide key tokens (no query may attend to them, as if they were padding), rerun the model and compare.",
    "int.heads": "Heads to switch off",
    "int.heads.option": "{kind} L{layer} H{head}",
    "int.kind.encoder": "encoder",
    "int.kind.decoder": "decoder",
    "int.kind.cross": "cross",
    "int.masked.source": "Key tokens to mask (source positions)",
    "int.choose": "Choose tokens",
    "int.masked.target": "Key tokens to mask (prompt positions)",
    "int.nothing": "Choose heads to switch off or tokens to mask: the model then runs again and this page shows what changed.",
    "int.output": "Output",
    "int.before": "Before",
    "int.after": "After the intervention",
    "int.regenerated": "The output is generated again under the intervention, so the decoder input can differ: {before} tokens before, {after} after. The comparisons below cover the {common} positions both runs have; where a position holds a different token, its label reads before→after.",
    "int.predictions": "Top-1 prediction per position",
    "int.predictions.changed": "{changed} of {n} top-1 predictions changed.",
    "int.no_predictions": "This model predicts no tokens (it has no language-model head): compare its attention below.",
    "int.summary": "How much the attention changed, per layer × head",
    "int.summary.help": "Per query row, Σ_j |α_after − α_before|, averaged over the rows: 0 means unchanged, 2 means the head now attends to entirely different keys. A switched-off head keeps its own weights (its output is zeroed after the softmax); the layers that read its output change.",
    "int.summary.figure": "change of attention: mean over queries of Σ_j |Δα_ij| (0 = unchanged, 2 = disjoint)",
    "int.detail": "After − before, per head, for one layer",
    "int.detail.figure": "{kind} · layer {layer} · α after − α before",
    "int.no_change": "The intervention changed no attention weight anywhere (largest change {top:.1e}): there is no after − before to draw.",
})
register("zh", {
    "int.column.position": "位置",
    "int.column.input": "输入",
    "int.column.top-1 before": "之前的第一预测",
    "int.column.p before": "之前的概率",
    "int.column.top-1 after": "之后的第一预测",
    "int.column.p after": "之后的概率",
    "int.column.changed": "是否改变",
    "int.help": "关闭一些注意力头（在 W^O 之前将其输出 z 置零），或遮蔽一些键词元（任何查询都不能关注它们，如同填充），重新运行模型并比较。",
    "int.heads": "要关闭的注意力头",
    "int.heads.option": "{kind} 第{layer}层 头{head}",
    "int.kind.encoder": "编码器",
    "int.kind.decoder": "解码器",
    "int.kind.cross": "交叉",
    "int.masked.source": "要掩码的键词元（源序列位置）",
    "int.choose": "选择词元",
    "int.masked.target": "要掩码的键词元（提示位置）",
    "int.nothing": "请选择要关闭的头或要掩码的词元：模型会重新运行，本页显示有哪些变化。",
    "int.output": "输出",
    "int.before": "干预前",
    "int.after": "干预后",
    "int.regenerated": "输出在干预下重新生成，因此解码器输入可能不同：干预前 {before} 个词元，干预后 {after} 个。下面的比较只覆盖两次运行共有的 {common} 个位置；某位置的词元不同时，标签显示为 干预前→干预后。",
    "int.predictions": "每个位置最可能的预测",
    "int.predictions.changed": "{n} 个最可能的预测中有 {changed} 个改变。",
    "int.no_predictions": "此模型不预测词元（没有语言模型输出头）：请比较下面的注意力。",
    "int.summary": "每层 × 每个头的注意力变化量",
    "int.summary.help": "对每个查询行计算 Σ_j |α_干预后 − α_干预前|，再对各行取平均：0 表示没有变化，2 表示该头现在关注完全不同的键。被关闭的头自身的权重不变（其输出在 softmax 之后才置零）；读取其输出的后续层会改变。",
    "int.summary.figure": "注意力变化：对查询取平均的 Σ_j |Δα_ij|（0 = 不变，2 = 完全不同）",
    "int.detail": "某一层每个头的 干预后 − 干预前",
    "int.detail.figure": "{kind} · 第 {layer} 层 · α 干预后 − α 干预前",
    "int.no_change": "这次干预没有改变任何注意力权重（最大变化 {top:.1e}）：没有可画的 干预后 − 干预前。",
})


def head_options(trace) -> list[tuple]:
    """Every (kind, layer, head) of the model, in forward order."""
    return [(kind, layer, head) for kind in trace.kinds() for layer in trace.layers(kind)
            for head in range(trace.get(kind, layer).n_heads)]


def maskable_tokens(trace) -> tuple[str, list[str]]:
    """("source" or "target", the tokens a user may hide as keys): the encoder input, or for a
    decoder-only model the prompt (generated positions are regenerated, so they have no fixed token)."""
    if not trace.arch.has_encoder:
        end = trace.generated_from or len(trace.decoder_tokens)
        return "target", trace.decoder_tokens[:end]
    return "source", trace.encoder_tokens


def intervention_controls(ctx: PageContext) -> model.Intervention:
    """The heads to switch off (in the URL as heads_off) and the key tokens to mask."""
    t = ctx.t
    options = head_options(ctx.trace)
    chosen = bound(st.multiselect, "heads_off", t("int.heads"), options=options,
                   format_func=lambda h: t("int.heads.option", kind=t(f"int.kind.{h[0]}"), layer=h[1], head=h[2]))
    # The view keeps a sorted tuple of triples, whatever order they were picked in.
    heads_off = tuple(sorted(tuple(h) for h in chosen))
    if heads_off != view().heads_off:
        set_view(heads_off=heads_off)
    side, tokens = maskable_tokens(ctx.trace)
    # A choice made for a longer text may point past this one's tokens.
    if "intervene.masked" in st.session_state:
        st.session_state["intervene.masked"] = [i for i in st.session_state["intervene.masked"] if i < len(tokens)]
    masked = st.multiselect(t(f"int.masked.{side}"), options=list(range(len(tokens))), key="intervene.masked",
                            format_func=lambda i: f"{visible(tokens[i])} ({i})", placeholder=t("int.choose"))
    masked = frozenset(int(i) for i in masked)
    return model.Intervention(heads_off=frozenset(heads_off),
                              hidden_encoder_keys=masked if side == "source" else frozenset(),
                              hidden_decoder_keys=masked if side == "target" else frozenset())


def input_tokens(trace) -> list[str]:
    """The tokens the predictions are made at: the decoder input, or the source for encoder-only."""
    return trace.decoder_tokens if trace.arch.has_decoder else trace.encoder_tokens


def output_section(ctx: PageContext, before, after) -> None:
    t = ctx.t
    st.markdown(f"**{t('int.output')}**")
    left, right = st.columns(2)
    # st.code shows model text literally: no Markdown, no HTML.
    left.caption(t("int.before"))
    left.code(before.output_text, language=None, wrap_lines=True)
    right.caption(t("int.after"))
    right.code(after.output_text, language=None, wrap_lines=True)
    n_before, n_after = len(input_tokens(before)), len(input_tokens(after))
    if before.generated_from is not None or after.generated_from is not None:
        st.caption(t("int.regenerated", before=n_before, after=n_after, common=min(n_before, n_after)))


def predictions_section(ctx: PageContext, before, after) -> None:
    t = ctx.t
    st.markdown(f"**{t('int.predictions')}**")
    if not before.predictions:
        st.caption(t("int.no_predictions"))   # e.g. a sentence encoder: it predicts no tokens
        return
    rows = prediction_rows(before.predictions, after.predictions, input_tokens(before), input_tokens(after))
    st.caption(t("int.predictions.changed", changed=sum(r["changed"] for r in rows), n=len(rows)))
    # st.dataframe shows token text as plain text (markup included), never as HTML.
    # Up to ten rows fit without scrolling; a longer table scrolls in a fixed height.
    shown = [{t(f"int.column.{column}"): value for column, value in row.items()} for row in rows]
    st.dataframe(shown, hide_index=True, width="stretch", height="auto" if len(rows) <= 10 else 420)


SEEN = "intervene.seen"   # session: the intervention the detail view last opened on


def open_where_changed(intervention: model.Intervention, pairs: list, grid) -> None:
    """When an intervention is new, and the view would open on an attention call it did not
    change (a switched-off head keeps its own weights, so its own layer shows empty panels on a
    scale of float noise), open on the (kind, layer) it changed most instead. A layer that did
    change stays, whoever chose it (a link, the user)."""
    seen = st.session_state.get(SEEN)
    st.session_state[SEEN] = intervention
    change = dict(zip(pairs, grid.max(axis=1)))
    if seen == intervention or change.get((view().kind, view().layer), 0.0) >= NO_CHANGE:
        return
    (kind, layer), _ = largest_change(pairs, grid)
    set_view(kind=kind, layer=layer)
    forget_widget("kind")
    forget_widget("layer")


def change_detail(ctx: PageContext, before, after, heads_off) -> None:
    """Kind and layer pickers (a rerun, both traces cached) and the attention canvas comparing
    that call's weights before and after: head, view (before, after, after − before) and cell
    switch in the browser. Not a fragment: see ui/pages/explore.head_detail."""
    t = ctx.t
    with shown_errors(t, "drawing the change of attention"):
        left, right = st.columns([3, 2])
        kind = bound(left.radio, "kind", t("control.kind"), options=before.kinds(), horizontal=True,
                     format_func=lambda k: t(f"kind.{k}"))
        layer = bound(right.radio, "layer", t("control.layer"), options=before.layers(kind), horizontal=True)
        first, second = before.get(kind, layer), after.get(kind, layer)
        labels = (pair_labels(first.query_tokens, second.query_tokens), pair_labels(first.key_tokens, second.key_tokens))
        compare_canvas(ctx, first, second, after, key="intervene.canvas", labels=labels,
                       heads_off=[h for k, l, h in heads_off if (k, l) == (kind, layer)])
    sync_url()


def render(ctx: PageContext) -> None:
    t = ctx.t
    st.caption(t("int.help"))
    intervention = intervention_controls(ctx)
    if not intervention:
        st.info(t("int.nothing"))
        st.session_state[SEEN] = intervention
        sync_url()
        return
    before = ctx.trace
    with shown_errors(t, "rerunning the model with the intervention"):
        after = ctx.run_trace(before.text, before.target, intervention=intervention)
        output_section(ctx, before, after)
        predictions_section(ctx, before, after)
        st.markdown(f"**{t('int.summary')}**")
        st.caption(t("int.summary.help"))
        ctx.chart(change_summary_figure(before.records, after.records, sorted(intervention.heads_off),
                                        title=t("int.summary.figure"), t=t), key="intervene.summary")
        st.markdown(f"**{t('int.detail')}**")
        pairs, grid = change_grid(before.records, after.records)
        _, largest = largest_change(pairs, grid)
        if largest < NO_CHANGE:
            st.info(t("int.no_change", top=largest))
        else:
            open_where_changed(intervention, pairs, grid)
            change_detail(ctx, before, after, sorted(intervention.heads_off))
    sync_url()
