"""The attention canvas in a page: mount it with one record, and adopt what it chose.

The canvas (ui/components/attention_canvas.{html,css,js}; payload: viz/canvas.py) switches
head, stage and cell in the browser without a rerun, so Python does not hear of those choices
when they are made. The canvas writes them into the address bar at once (history.replaceState:
a copied link reopens them), and sends them to Python as its "choice" state once the person has
paused for two seconds (one rerun for a burst of choices); _take_choice puts them into the view.
Sending each click would cost a full rerun per click (setStateValue always reruns), the very
round trip the canvas exists to avoid. Streamlit's own reruns do not carry the address bar's
query as the browser changed it (the frontend sends its own copy), so the URL alone cannot tell.
"""
from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from typing import Optional

import streamlit as st

from viz.canvas import compare_payload, matrices_payload, overview_payload_part, record_payload, trace_flags
from viz.stages import MATRIX_VIEWS

from .context import forget_widget, set_view, view
from .component_files import component
from .i18n import register
from .state import MAX_INDEX


register("en", {
    "canvas.head": "Head",
    "canvas.head.n": "head {head}",
    "canvas.layer.n": "layer {layer}",
    "canvas.stage": "Stage",
    "canvas.reset": "Reset zoom",
    "canvas.png": "⬇ PNG",
    "canvas.close": "Close",
    "canvas.bar.allowed": "allowed",
    "canvas.tip.query": "query",
    "canvas.tip.key": "key",
    "canvas.tip.masked": "masked: this query may not attend to this key",
    "canvas.tip.exact": "(exact value of this cell; the picture pools several cells per pixel)",
    "canvas.note.hatched": "Hatched cells: masked (this query may not attend to this key).",
    "canvas.note.no_mask": "No mask here: every position may attend to every other (a flat colour, not a value).",
    "canvas.note.no_bias": "This model adds no position bias: this stage equals the scaled scores.",
    "canvas.note.unknown": "Orange italic with “?”: a token outside the model's vocabulary (read as unknown).",
    "canvas.note.special": "Grey: a token the model adds (start, end, padding), not the text's own.",
    "canvas.note.generated": "Bold, under the dashed line: tokens the model generated.",
    "canvas.note.padding": "Struck through: padding (takes part neither as a query nor as a key).",
    "canvas.note.pooled_max": "Long input: each pixel shows the largest value of a block of up to {rows} × {cols} cells; hover for exact values, zoom with the wheel.",
    "canvas.note.pooled_mean": "Long input: each pixel shows the mean of a block of up to {rows} × {cols} cells; hover for exact values, zoom with the wheel.",
    "canvas.note.zoomed": "Zoomed: rows {r0}–{r1}, columns {c0}–{c1}. Drag to move.",
    "canvas.note.thinned": "Labels: every {rows_nth} row and {cols_nth} column (hover any cell for its tokens).",
    "canvas.note.keys": "Click a cell to see how its number is made; arrow keys move, Enter opens.",
    "canvas.note.keys_open": "Arrow keys move the cell; Escape closes its derivation.",
    "canvas.d.title": "Cell ({i}, {j}): query “{query}” → key “{key}”",
    "canvas.d.head": "head {head}, layer {layer}; q and k have d_head = {d} components",
    "canvas.d.sum": "Σ_d q_d · k_d (raw score)",
    "canvas.d.scale": "scale",
    "canvas.d.bias": "position bias",
    "canvas.d.allowed": "mask: allowed, logit = {value}",
    "canvas.d.masked": "mask: not allowed, logit = −∞ (weight 0)",
    "canvas.d.softmax": "softmax over row i",
    "canvas.d.row": "Row {i} after the softmax (largest weights; the chosen key outlined):",
    "canvas.d.more": "… and {n} more keys",
    "canvas.d.z": "z_{i} = Σ_j α_{i}j v_j: the last column of the table above.",
    "canvas.d.mean": "Mean of the {heads} heads: each head's weight for this cell.",
    "canvas.d.mean_value": "mean α",
    "canvas.show": "Show",
    "canvas.d.matrix_row": "Row {i}, largest values (the chosen key outlined):",
    "canvas.ov.title.matrices": "{title}: all at a glance (click one to show it below)",
    # the overview of every layer × head
    "canvas.ov.title": "{kind}: every layer × head · {stage} (click a head to open it below)",
    "canvas.ov.note": "One colour scale for every tile, from {lo} to {hi}; hatched: masked.",
    "canvas.ov.pooled_max": "A long input: each tile cell is the largest of {f}×{f} token pairs.",
    "canvas.ov.pooled_mean": "A long input: each tile cell is the mean of {f}×{f} token pairs.",
    "canvas.ov.tip.tile": "layer {layer}, head {head}",
    "canvas.ov.tip.open": "(≈: the overview's value; click to open the head below, exact)",
    "canvas.ov.loading": "Layer {layer}: loading …",
    "canvas.ov.standalone": "Layer {layer} is not in this file (its numbers stayed in the app): open it there.",
    "canvas.download.html": "⬇ HTML (this canvas as a page that opens offline)",
    # comparing two runs (Intervene)
    "canvas.stage.before": "α before",
    "canvas.stage.after": "α after",
    "canvas.stage.change": "after − before",
    "canvas.short.before": "α before",
    "canvas.short.after": "α after",
    "canvas.short.change": "Δα",
    "canvas.head.off": "{head} (off)",
    "canvas.note.change": "α after − α before: white is no change; the colour bar gives the values (its range is never under ±0.01, so float noise is not painted as a change).",
    "canvas.note.same_scale": "α before and α after share one colour scale: the same colour is the same weight.",
    "canvas.note.head_off": "This head is switched off: its output z is zeroed after the softmax, so its own weights do not change; the layers that read its output do.",
    "canvas.d.before": "before",
    "canvas.d.after": "after",
    "canvas.d.change": "after − before",
})
register("zh", {
    "canvas.head": "头",
    "canvas.head.n": "头 {head}",
    "canvas.layer.n": "第 {layer} 层",
    "canvas.stage": "阶段",
    "canvas.reset": "重置缩放",
    "canvas.png": "⬇ PNG 图片",
    "canvas.close": "关闭",
    "canvas.bar.allowed": "允许",
    "canvas.tip.query": "查询",
    "canvas.tip.key": "键",
    "canvas.tip.masked": "已掩码：该查询不能关注这个键",
    "canvas.tip.exact": "（此单元格的精确值；图中每个像素汇合了多个单元格）",
    "canvas.note.hatched": "带斜线的单元格：已掩码（该查询不能关注这个键）。",
    "canvas.note.no_mask": "这里没有掩码：每个位置都能关注所有位置（单一颜色，不代表数值）。",
    "canvas.note.no_bias": "此模型没有位置偏置：这一阶段等于缩放后的分数。",
    "canvas.note.unknown": "橙色斜体加“?”：模型词表之外的词元（按未知词元读入）。",
    "canvas.note.special": "灰色：模型自己添加的词元（开始、结束、填充），不是文本本身的。",
    "canvas.note.generated": "粗体、虚线以下：模型生成的词元。",
    "canvas.note.padding": "删除线：填充（既不作为查询，也不作为键参与）。",
    "canvas.note.pooled_max": "长输入：每个像素显示最多 {rows} × {cols} 个单元格中的最大值；悬停可看精确值，滚轮缩放。",
    "canvas.note.pooled_mean": "长输入：每个像素显示最多 {rows} × {cols} 个单元格的平均值；悬停可看精确值，滚轮缩放。",
    "canvas.note.zoomed": "已放大：第 {r0}–{r1} 行，第 {c0}–{c1} 列。拖动可平移。",
    "canvas.note.thinned": "标签：每 {rows} 行、每 {cols} 列标一个（悬停任一单元格可看其词元）。",
    "canvas.note.keys": "点击单元格，查看它的数值是如何算出来的；方向键移动，回车打开。",
    "canvas.note.keys_open": "方向键移动单元格；Esc 关闭推导。",
    "canvas.d.title": "单元格 ({i}, {j})：查询“{query}” → 键“{key}”",
    "canvas.d.head": "头 {head}，第 {layer} 层；q 和 k 各有 d_head = {d} 个分量",
    "canvas.d.sum": "Σ_d q_d · k_d（原始分数）",
    "canvas.d.scale": "缩放因子",
    "canvas.d.bias": "位置偏置",
    "canvas.d.allowed": "掩码：允许，logit = {value}",
    "canvas.d.masked": "掩码：不允许，logit = −∞（权重 0）",
    "canvas.d.softmax": "对第 i 行做 softmax",
    "canvas.d.row": "softmax 之后的第 {i} 行（最大的权重；所选的键加框）：",
    "canvas.d.more": "…… 还有 {n} 个键",
    "canvas.d.z": "z_{i} = Σ_j α_{i}j v_j：即上表的最后一列。",
    "canvas.d.mean": "{heads} 个头的平均：每个头在此单元格的权重。",
    "canvas.d.mean_value": "平均 α",
    "canvas.show": "显示",
    "canvas.d.matrix_row": "第 {i} 行中最大的值（所选的键加框）：",
    "canvas.ov.title.matrices": "{title}：一览（点击一个，在下方显示它）",
    "canvas.ov.title": "{kind}：所有层 × 头 · {stage}（点击一个头，在下方打开它）",
    "canvas.ov.note": "所有小图共用一个色标，从 {lo} 到 {hi}；带斜线：已掩码。",
    "canvas.ov.pooled_max": "输入较长：小图中每个单元格是 {f}×{f} 个词元对中的最大值。",
    "canvas.ov.pooled_mean": "输入较长：小图中每个单元格是 {f}×{f} 个词元对的平均值。",
    "canvas.ov.tip.tile": "第 {layer} 层，头 {head}",
    "canvas.ov.tip.open": "（≈：概览中的近似值；点击可在下方打开这个头，看精确值）",
    "canvas.ov.loading": "第 {layer} 层：加载中……",
    "canvas.ov.standalone": "第 {layer} 层不在这个文件里（它的数值留在应用中）：请在应用中打开。",
    "canvas.download.html": "⬇ HTML（把这个画布存为可离线打开的网页）",
    "canvas.stage.before": "干预前 α",
    "canvas.stage.after": "干预后 α",
    "canvas.stage.change": "干预后 − 干预前",
    "canvas.short.before": "干预前 α",
    "canvas.short.after": "干预后 α",
    "canvas.short.change": "Δα",
    "canvas.head.off": "{head}（已关闭）",
    "canvas.note.change": "α 干预后 − α 干预前：白色表示没有变化；数值见色条（其范围不小于 ±0.01，浮点误差不会被画成变化）。",
    "canvas.note.same_scale": "干预前和干预后的 α 使用同一个色标：相同的颜色表示相同的权重。",
    "canvas.note.head_off": "此头已关闭：它的输出 z 在 softmax 之后被置零，因此它自身的权重不变；读取它输出的后续层会改变。",
    "canvas.d.before": "干预前",
    "canvas.d.after": "干预后",
    "canvas.d.change": "干预后 − 干预前",
})


# How long the browser waits after the last choice before telling Python (each telling is a full
# rerun). Explore: 2 s, so a person looking through heads costs no run at all; the address bar
# has the choice at once. Head anatomy: its formulas, Q/K/V and head view follow the chosen head
# and cell, so they should follow soon, but a burst of arrow keys is still one run.
EXPLORE_SYNC_MS = 2000
FOLLOW_SYNC_MS = 350


def canvas_text(t, kind: str, compare: bool = False) -> dict:
    """The canvas's strings in the page's language, under the names the JavaScript asks for.
    compare: two runs side by side, where the weights are the second run's ("α after")."""
    text = {name[len("canvas."):]: t(name) for name in _names()}
    text.update({f"stage.{s}": t(f"stage.{s}") for s in MATRIX_VIEWS})
    text.update({f"short.{s}": t(f"fig.stage_short.{s}") for s in MATRIX_VIEWS})
    text.update({f"kind.{kind}": t(f"kind.{kind}"), "head.mean": t("head.mean"),
                 f"axis.{kind}.query": t(f"fig.axis.{kind}.query"), f"axis.{kind}.key": t(f"fig.axis.{kind}.key")})
    if compare:
        text.update({"stage.weights": t("canvas.stage.after"), "short.weights": t("canvas.short.after")})
    return text


def _names() -> list[str]:
    from .i18n import EN
    return [name for name in EN if name.startswith("canvas.")]


def attention_canvas(ctx, record, trace, key: str, head=None, stage: Optional[str] = None,
                     cell: Optional[tuple[int, int]] = None, stages: tuple = MATRIX_VIEWS,
                     mean: bool = True, sync_ms: int = EXPLORE_SYNC_MS, overview: tuple = (),
                     cell_in_view: bool = True) -> bytes:
    """Mount the canvas for one record (every head of one kind and layer) of `trace`.

    head, stage and cell default to the view's; the browser changes them from there on.
    mean: offer the mean of heads; sync_ms: the pause after which a choice reaches Python (a
    page whose other parts follow the choice wants it soon: FOLLOW_SYNC_MS); overview: every
    layer's record of this kind, drawn above the matrix as small tiles (a click on another
    layer's tile chooses that layer: a rerun); cell_in_view: False for a cell that belongs to this
    picture only (Generation's step), kept out of the view and the address bar."""
    v = view()
    head = v.head if head is None else head
    if head == "mean" and not mean:
        head = 0
    if head != "mean" and not 0 <= int(head) < record.n_heads:
        head = 0
    stage = stage or v.stage
    cell = view_cell() if cell is None else cell
    flags = trace_flags(trace, record.kind, *record.allowed.shape, record.allowed) if trace is not None else None
    payload = record_payload(record, head, stage if stage in stages else "weights", cell, flags,
                             canvas_text(ctx.t, record.kind), lecture=ctx.lecture, show=stages,
                             mean=mean, sync_ms=sync_ms, overview=overview_of(overview) if overview else None,
                             cell_in_view=cell_in_view)
    _mount(key, payload)
    return payload


def compare_canvas(ctx, before, after, trace, key: str, heads_off=(), labels=None) -> None:
    """Mount the canvas comparing one attention call of two runs (viz.canvas.compare_payload):
    α before, α after and their difference, head and cell from the view, the comparison's own
    stage (not the view's: "after − before" is not a stage of one run)."""
    v = view()
    head = v.head if v.head == "mean" or (isinstance(v.head, int) and 0 <= v.head < after.n_heads) else 0
    cell = view_cell()
    n_rows, n_cols = (min(a, b) for a, b in zip(before.allowed.shape, after.allowed.shape))
    flags = trace_flags(trace, after.kind, n_rows, n_cols, after.allowed[:n_rows, :n_cols]) if trace is not None else None
    payload = compare_payload(before, after, head, "change", cell, flags, canvas_text(ctx.t, after.kind, compare=True),
                              lecture=ctx.lecture, heads_off=heads_off, labels=labels)
    _mount(key, payload)


def matrices_canvas(ctx, matrices, names, tokens, kind: str, key: str, chosen: int, title: str, values,
                    key_tokens=None) -> bytes:
    """Mount the canvas on ready-made matrices (viz.canvas.matrices_payload): a button and a tile
    each, exact values on hover, a clicked cell's row listed; the view's cell opens."""
    cell = view_cell()
    payload = matrices_payload(matrices, names, tokens, kind, chosen=chosen, cell=cell,
                               text=canvas_text(ctx.t, kind), lecture=ctx.lecture, title=title, values=values,
                               key_tokens=key_tokens)
    _mount(key, payload)
    return payload


# The overview of a trace's records, once per trace: pooling every layer costs 0.3-0.6 s at 512
# MiniLM tokens, and every rerun (a layer, a canvas's choice, a language) mounts the canvas again
# with the same (cached) trace. Keyed by the records' ids and checked by a weak reference to the
# first, so that an entry never keeps a trace alive nor answers for another one.
_OVERVIEWS: "OrderedDict[tuple, tuple]" = OrderedDict()
_OVERVIEWS_LOCK = threading.Lock()       # sessions run in threads of one process
_OVERVIEWS_KEPT = 16


def overview_of(records) -> tuple[dict, dict]:
    """viz.canvas.overview_payload_part(records), computed once while the records live."""
    key = tuple(id(r) for r in records)
    with _OVERVIEWS_LOCK:
        hit = _OVERVIEWS.get(key)
        if hit is not None and hit[0]() is records[0]:
            _OVERVIEWS.move_to_end(key)
            return hit[1]
    part = overview_payload_part(records)
    with _OVERVIEWS_LOCK:
        _OVERVIEWS[key] = (weakref.ref(records[0]), part)
        while len(_OVERVIEWS) > _OVERVIEWS_KEPT:
            _OVERVIEWS.popitem(last=False)
    return part


def view_cell() -> Optional[tuple[int, int]]:
    """The view's chosen cell (query, key), or None when none is chosen."""
    v = view()
    return (v.query, v.key) if v.query is not None and v.key is not None else None


def _mount(key: str, payload: bytes) -> None:
    component("attention_canvas")(key=key, data=payload, on_choice_change=lambda: _take_choice(key))


CANVAS_KEYS = ("explore.canvas", "anatomy.canvas", "intervene.canvas", "generation.canvas",
               "generation.step.canvas", "aggregates.canvas")     # every canvas a page mounts, by its key
_APPLIED = "canvas.applied"          # the last choice taken from each canvas


def take_choices() -> None:
    """At the start of every run: a choice a canvas sent that the view has not taken yet. Its
    callback does not run when the person's click leaves the page (the canvas is not mounted in
    the run that follows), but its state arrives with that run all the same."""
    for key in CANVAS_KEYS:
        _take_choice(key)


def _take_choice(key: str) -> None:
    """The head, stage and cell chosen in the browser become the view's (the JavaScript sends
    them after a pause); each choice once, so that a
    later change made elsewhere (a radio, another canvas) is not undone by an old one."""
    try:
        state = st.session_state[key]
    except KeyError:
        return
    chosen = state.get("choice") if hasattr(state, "get") else None
    applied = st.session_state.setdefault(_APPLIED, {})
    if not isinstance(chosen, dict) or applied.get(key) == chosen:
        return
    applied[key] = dict(chosen)
    changes = {}
    layer = chosen.get("layer")           # a tile of another layer, clicked in the overview
    if isinstance(layer, int) and 0 <= layer < MAX_INDEX:
        changes["layer"] = layer
    head = chosen.get("head")
    if head == "mean" or (isinstance(head, int) and 0 <= head < MAX_INDEX):
        changes["head"] = head
    if chosen.get("stage") in MATRIX_VIEWS:
        changes["stage"] = chosen["stage"]
    cell = (chosen.get("query"), chosen.get("key"))
    if all(isinstance(i, int) and 0 <= i < MAX_INDEX for i in cell):
        changes["query"], changes["key"] = cell
    elif cell == (None, None) and "query" in chosen:
        changes["query"] = changes["key"] = None          # the derivation was closed (a canvas whose
        # cell is not the view's sends no "query" at all)
    current = view()
    changes = {name: value for name, value in changes.items() if getattr(current, name) != value}
    if changes:
        set_view(**changes)
        for name in changes:
            forget_widget(name)    # a bound widget (the stage radio, Head anatomy's) is re-seeded from the view
