"""Explore: every layer x head of one attention kind at one stage, and one head in detail."""
from __future__ import annotations

import streamlit as st

import viz
from ..canvas import attention_canvas
from ..context import PageContext, bound, shown_errors, sync_url
from ..downloads import figure_downloads
from ..settings import validate_figures


def stage_controls(ctx: PageContext, kinds: list[str]) -> tuple[str, str, int]:
    """(kind, stage, pad_to): what the overview and the detail both show."""
    t = ctx.t
    left, middle, right = st.columns([3, 5, 2])
    kind = bound(left.radio, "kind", t("control.kind"), options=kinds,
                 format_func=lambda k: t(f"kind.{k}"))
    stage = bound(middle.radio, "stage", t("control.stage"), options=list(viz.MATRIX_VIEWS), horizontal=True,
                  format_func=lambda s: t(f"stage.{s}"))
    if ctx.lecture:   # fewer controls; a prepared link's padding still shows
        return kind, stage, int(ctx.view.pad_to)
    pad_to = bound(right.number_input, "pad_to", t("control.pad_to"), min_value=0,
                   max_value=ctx.model.max_len, step=1)
    return kind, stage, int(pad_to)


def head_detail(ctx: PageContext, records: list, trace) -> None:
    """The layer picker and the attention canvas of that layer: the canvas switches head, stage
    and cell in the browser; a layer is a rerun (its q, k and v are not in the canvas's payload:
    viz/canvas.py), with the trace cached. Not a fragment: the canvas tells Python its choices
    with a rerun started as the person clicks something else (ui/canvas.py); a fragment's rerun
    overlapping that click's full rerun lost the click's change in Streamlit 1.67 (the radio
    said decoder, the page stayed on encoder) or ran a callback of a widget already gone."""
    t = ctx.t
    with shown_errors(t, "drawing the head"):
        layer = bound(st.radio, "layer", t("control.layer"), options=[r.layer for r in records],
                      horizontal=True)
        record = next(r for r in records if r.layer == layer)
        attention_canvas(ctx, record, trace, key="explore.canvas")
    sync_url()


def render(ctx: PageContext) -> None:
    t = ctx.t
    kind, stage, pad_to = stage_controls(ctx, ctx.trace.kinds())
    trace = ctx.run_trace(ctx.view.text, ctx.view.target or None, pad_to=pad_to) if pad_to else ctx.trace
    records = trace.records_of(kind)
    st.subheader(f"{t(f'kind.{kind}')}: {t(f'kind.{kind}.help')}")
    if kind == "decoder":       # where the mask goes: on the scores, not on V
        st.caption(t("kind.decoder.mask"))
    if stage == "biased" and all(r.bias is None for r in records):
        st.caption(t("msg.no_bias"))
    if not ctx.lecture:      # the figure's own title says it; a hall needs the picture higher
        st.markdown(f"**{t('overview.title')}**")
    overview = viz.overview_image(records, stage, validate=validate_figures(), t=t)
    ctx.chart(overview, key="explore.overview")
    figure_downloads(ctx, overview, f"attention-{kind}-all-heads-{stage}", key="explore.overview")
    if not ctx.lecture:
        st.download_button(t("download.trace"), data=lambda: trace.to_bytes(), file_name="trace.npz",
                           mime="application/octet-stream", key="explore.download_trace", on_click="ignore")
    st.markdown(f"**{t('detail.title')}**")
    # flags of the trace drawn (padded to pad_to, if asked), so they line up with its labels
    head_detail(ctx, records, trace)
