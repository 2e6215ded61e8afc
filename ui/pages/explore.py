"""Explore: every layer x head of one attention kind, and one head in detail, on one attention
canvas (ui/canvas.py): head, stage and cell switch in the browser."""
from __future__ import annotations

import streamlit as st

from ..canvas import attention_canvas
from ..canvas_export import standalone_html
from ..context import PageContext, bound, shown_errors, sync_url


def kind_controls(ctx: PageContext, kinds: list[str]) -> tuple[str, int, object]:
    """(kind, pad_to, the column for the layer picker): the attention kind, the padding to show
    (not in lecture mode), and room for the layer on the same row (the picture starts higher)."""
    t = ctx.t
    left, middle, right = st.columns([6, 3, 2])
    kind = bound(left.radio, "kind", t("control.kind"), options=kinds, horizontal=True,
                 format_func=lambda k: t(f"kind.{k}"))
    if ctx.lecture:   # fewer controls; a prepared link's padding still shows
        return kind, int(ctx.view.pad_to), middle
    pad_to = bound(right.number_input, "pad_to", t("control.pad_to"), min_value=0,
                   max_value=ctx.model.max_len, step=1)
    return kind, int(pad_to), middle


def head_detail(ctx: PageContext, records: list, trace, layer_column) -> None:
    """The layer picker and the attention canvas: every layer × head as small tiles, and the
    chosen layer's heads in full. Head, stage and cell switch in the browser; a layer is a rerun
    (its q, k and v are not in the canvas's payload: viz/canvas.py), with the trace cached. Not a
    fragment: the canvas tells Python its choices with a rerun started as the person clicks
    something else (ui/canvas.py); a fragment's rerun overlapping that click's full rerun lost the
    click's change in Streamlit 1.67 (the radio said decoder, the page stayed on encoder) or ran
    a callback of a widget already gone."""
    t = ctx.t
    with shown_errors(t, "drawing the attention"):
        layer = bound(layer_column.radio, "layer", t("control.layer"), options=[r.layer for r in records],
                      horizontal=True)
        record = next(r for r in records if r.layer == layer)
        payload = attention_canvas(ctx, record, trace, key="explore.canvas", overview=tuple(records))
        if not ctx.lecture:    # the PNG is the canvas's own button; the page is made here
            title = f"{t(f'kind.{record.kind}')} · {t('control.layer')} {record.layer}"
            st.download_button(t("canvas.download.html"), data=lambda: standalone_html(payload, title, ctx.view.lang),
                               file_name=f"attention-{record.kind}-layer{record.layer}.html", mime="text/html",
                               key="explore.canvas.html", on_click="ignore")
    sync_url()


def render(ctx: PageContext) -> None:
    t = ctx.t
    kind, pad_to, layer_column = kind_controls(ctx, ctx.trace.kinds())
    trace = ctx.run_trace(ctx.view.text, ctx.view.target or None, pad_to=pad_to) if pad_to else ctx.trace
    records = trace.records_of(kind)
    st.subheader(f"{t(f'kind.{kind}')}: {t(f'kind.{kind}.help')}")
    if kind == "decoder":       # where the mask goes: on the scores, not on V
        st.caption(t("kind.decoder.mask"))
    if not ctx.lecture:
        st.download_button(t("download.trace"), data=lambda: trace.to_bytes(), file_name="trace.npz",
                           mime="application/octet-stream", key="explore.download_trace", on_click="ignore")
    # flags of the trace drawn (padded to pad_to, if asked), so they line up with its labels
    head_detail(ctx, records, trace, layer_column)
