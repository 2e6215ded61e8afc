"""Generation: cross-attention beside the target, a step-through of greedy decoding, and teacher
forcing (training) against free generation (inference)."""
from __future__ import annotations

import streamlit as st

from viz import generation as gen
from viz.labels import VISIBLE
from ..context import PageContext, bound, forget_widget, set_view, shown_errors, sync_url, view
from ..i18n import register
from ..canvas import attention_canvas

from ..state import DECODER_INPUTS as MODES
from ..state import MAX_NEW_TOKENS

register("en", {
    "generation.encoder_only": ("{name} is an encoder-only model: it fills in [MASK] tokens from both sides "
                                "but does not generate text one token at a time. Choose toy-seq2seq or toy-gpt "
                                "in the sidebar to see generation."),
    "generation.mode": "Decoder input",
    "generation.mode.teacher": "Teacher forcing (training)",
    "generation.mode.free": "Free generation (inference)",
    "generation.mode.teacher.help": ("Teacher forcing, as in training: at every position the decoder reads the "
                                     "given tokens before it, not its own guesses, so every position is "
                                     "predicted in one pass."),
    "generation.mode.free.help": ("Free generation, as in inference: the model picks its most probable token "
                                  "(greedy), appends it to the prefix and runs again, one token at a time."),
    "generation.encoder_only.no_head": ("{name} is an encoder without a head that predicts tokens (a sentence "
                                        "encoder): it does not generate text, nor fill in [MASK] tokens; its "
                                        "attention is all there is to see. Choose toy-seq2seq or toy-gpt in the "
                                        "sidebar to see generation."),
    "generation.cross.title": "{n} · Encoder–decoder attention beside the target",
    "generation.cross.caption": ("Layer {layer}: every head and their mean. Rows are the decoder's tokens (the "
                                 "target), columns the encoder's tokens (the source); each row sums to 1."),
    "generation.cross.generated": "Below the dashed line, the rows are tokens the model generated itself.",
    "generation.cross.given": "The rows are the target you typed: teacher forcing, nothing was generated.",
    "generation.cross.target": "Decoder tokens (rows):",
    "generation.teacher.title": "{n} · Teacher forcing: the model's prediction beside the given token",
    "generation.teacher.need_target": ("Type a target in the Target field above: the decoder will read it, and "
                                       "each position's top prediction is compared with the given next token."),
    "generation.teacher.decoder_only": ("For this decoder-only model the typed text is the given sequence: "
                                        "each position predicts the next typed character."),
    "generation.teacher.too_short": "The text needs at least two tokens to compare a prediction with a given token.",
    "generation.teacher.summary": "{n} of {total} top predictions differ from the given token.",
    "generation.steps.title": "{n} · Step-through of greedy generation",
    "generation.steps.max_new": "New tokens to generate",
    "generation.steps.slider": "Step t",
    "generation.steps.none": "No room to generate: the text already fills the model's {max_len} tokens.",
    "generation.steps.count": "{n} steps. Step {t} chose this token:",
    "generation.steps.caption": ("At step t the decoder reads the prefix; the output at its last position gives "
                                 "the probabilities of the next token, and the most probable one is appended. "
                                 "Below: the attention of that step's pass in layer {layer}; its last row is the query of "
                                 "the last position (keys: the source tokens, or the prefix), opened at the key it "
                                 "attends to most."),
})
register("zh", {
    "generation.encoder_only": ("{name} 是仅编码器模型：它根据两侧的上下文填充 [MASK] 词元，但不会一次一个词元地"
                                "生成文本。请在侧边栏选择 toy-seq2seq 或 toy-gpt 查看生成过程。"),
    "generation.mode": "解码器输入",
    "generation.mode.teacher": "教师强制（训练）",
    "generation.mode.free": "自由生成（推理）",
    "generation.mode.teacher.help": "教师强制，如同训练时：在每个位置，解码器读取给定的前面词元，而不是它自己的猜测，因此所有位置在一次前向计算中同时预测。",
    "generation.mode.free.help": "自由生成，如同推理时：模型选出概率最高的词元（贪心），把它接到前缀后面再运行一次，一次生成一个词元。",
    "generation.encoder_only.no_head": ("{name} 是没有预测词元输出头的编码器（句子编码器）：它不生成文本，也不填充 [MASK] "
                                        "词元；可看的就是它的注意力。请在侧边栏选择 toy-seq2seq 或 toy-gpt 查看生成过程。"),
    "generation.cross.title": "{n} · 目标旁的编码器-解码器注意力",
    "generation.cross.caption": "第 {layer} 层：每个头及其平均。行是解码器的词元（目标），列是编码器的词元（源）；每行之和为 1。",
    "generation.cross.generated": "虚线以下的行是模型自己生成的词元。",
    "generation.cross.given": "这些行是你输入的目标：教师强制，没有生成任何词元。",
    "generation.cross.target": "解码器词元（行）：",
    "generation.teacher.title": "{n} · 教师强制：模型的预测与给定词元并列",
    "generation.teacher.need_target": "请在上方的“目标”框中输入目标：解码器将读取它，并把每个位置的最高预测与给定的下一个词元比较。",
    "generation.teacher.decoder_only": "对于这个仅解码器模型，输入的文本就是给定序列：每个位置预测下一个输入的字符。",
    "generation.teacher.too_short": "文本至少需要两个词元，才能把预测与给定词元比较。",
    "generation.teacher.summary": "{total} 个最高预测中有 {n} 个与给定词元不同。",
    "generation.steps.title": "{n} · 逐步查看贪心生成",
    "generation.steps.max_new": "要生成的新词元数",
    "generation.steps.slider": "第 t 步",
    "generation.steps.none": "没有生成空间：文本已占满模型的 {max_len} 个词元。",
    "generation.steps.count": "共 {n} 步。第 {t} 步选出的词元：",
    "generation.steps.caption": "在第 t 步，解码器读取前缀；其最后一个位置的输出给出下一个词元的概率，概率最高的词元被接到前缀后面。下方：这一步前向计算在第 {layer} 层的注意力；最后一行是最后位置的查询（键 = 源词元或前缀），已打开它最关注的键。",
})


def mode_control(ctx: PageContext) -> str:
    """Teacher forcing or free generation, each explained in one sentence. The view keeps the
    choice (a link reopens it); until one is made, a typed target asks for teacher forcing and
    without one the model generates freely, and typing a new target asks again."""
    t = ctx.t
    target = ctx.view.target or ""
    seen = st.session_state.get("generation.target_seen")
    st.session_state["generation.target_seen"] = target
    if target and seen is not None and target != seen and view().decoder_input != "teacher":
        set_view(decoder_input="")            # a new target: back to what it asks for
        forget_widget("decoder_input")
    key = "w.decoder_input"
    if key not in st.session_state:
        # not bound(): the view's "" (no choice yet) is no option of the radio
        st.session_state[key] = view().decoder_input or ("teacher" if target else "free")
    mode = st.radio(t("generation.mode"), options=list(MODES), key=key, horizontal=True,
                    format_func=lambda m: t(f"generation.mode.{m}"),
                    on_change=lambda: set_view(decoder_input=st.session_state[key]))
    st.caption(t(f"generation.mode.{mode}.help"))
    return mode


def cross_section(ctx: PageContext, trace, layer: int) -> None:
    """Cross-attention of every head and the mean, next to the generated or given target."""
    t = ctx.t
    st.subheader(t("generation.cross.title", n=1))
    if not ctx.lecture:        # the figure's subtitle names the rows and columns too
        st.caption(t("generation.cross.caption", layer=layer))
    st.caption(t("generation.cross.generated") if trace.generated_from is not None else t("generation.cross.given"))
    with shown_errors(t, "drawing the cross-attention"):
        # every layer × head above, this layer's heads in full: the generated rows in bold, under
        # a dashed line (attention_canvas.js)
        attention_canvas(ctx, trace.get("cross", layer), trace, key="generation.canvas",
                         overview=tuple(trace.records_of("cross")))


def second_section(ctx: PageContext) -> int:
    """Sections count from 1 for every architecture: the cross-attention comes first where there is one."""
    return 2 if ctx.model.arch.has_cross else 1


def teacher_section(ctx: PageContext) -> None:
    """Each position's top prediction beside the given token it should produce."""
    t = ctx.t
    st.subheader(t("generation.teacher.title", n=second_section(ctx)))
    trace = ctx.trace
    if trace.arch.reads_target and trace.target is None:
        st.info(t("generation.teacher.need_target"))
        return
    if not trace.arch.reads_target:     # a decoder-only model: the typed text is the given sequence
        st.caption(t("generation.teacher.decoder_only"))
    with shown_errors(t, "drawing the teacher-forcing predictions"):
        inputs, given, top = gen.teacher_forcing_rows(trace)
        if not given:
            st.info(t("generation.teacher.too_short"))
            return
        differ = sum(candidates[0][0] != g for candidates, g in zip(top, given))
        st.caption(t("generation.teacher.summary", n=differ, total=len(given)))
        ctx.chart(gen.teacher_forcing_figure(inputs, given, top, t=t), key="generation.teacher")


def steps_section(ctx: PageContext, layer: int) -> None:
    """Free generation one token at a time: how many steps, then the step viewer."""
    t = ctx.t
    st.subheader(t("generation.steps.title", n=second_section(ctx)))
    if not ctx.model.arch.has_encoder:    # continues the typed text: as many tokens as asked
        new_tokens = bound(st.number_input, "new_tokens", t("generation.steps.max_new"), min_value=1,
                           max_value=MAX_NEW_TOKENS, step=1)
    else:
        # An encoder-decoder stops at <eos>; max_len only bounds a model that never does.
        new_tokens = ctx.model.max_len
    with shown_errors(t, "generating step by step"):
        steps = ctx.run_steps(ctx.trace.text, int(new_tokens))
        if not steps:
            st.info(t("generation.steps.none", max_len=ctx.model.max_len))
            return
        step_view(ctx, steps, layer)


def step_view(ctx: PageContext, steps: list, layer: int) -> None:
    """The step slider and step t's figures and canvas (the steps are cached: a step is a rerun,
    never the model). Not a fragment: the canvas's choices rerun the page (ui/pages/explore.py)."""
    t = ctx.t
    with shown_errors(t, "drawing the step"):
        last = len(steps) - 1
        if last > 0:
            # A shorter generation (new text) may leave the slider past its end.
            if view().step > last:
                set_view(step=last)
                forget_widget("step")
            index = bound(st.slider, "step", t("generation.steps.slider"), min_value=0, max_value=last)
        else:
            index = 0
        step = steps[index]
        st.caption(t("generation.steps.count", n=len(steps), t=index))
        st.code(VISIBLE.get(step.token, step.token), language=None)   # model text, shown literally
        st.caption(t("generation.steps.caption", layer=layer))
        ctx.chart(gen.step_prediction_figure(step, t=t), key="generation.step_prediction")
        # the pass that chose the token: its last row is the new token's query, opened at the
        # key it attended most (cross-attention where the model has it, else masked self-attention)
        record = gen.step_record(step, layer)
        row = record.allowed.shape[0] - 1
        attention_canvas(ctx, record, None, key="generation.step.canvas", cell_in_view=False,
                         cell=(row, int(record.weights[:, row].mean(axis=0).argmax())))
    sync_url()


def render(ctx: PageContext) -> None:
    t = ctx.t
    if not ctx.model.arch.generates:
        # what the loaded model has: toy-bert fills in masks, a bare sentence encoder predicts nothing
        key = "generation.encoder_only" if ctx.trace.predictions else "generation.encoder_only.no_head"
        st.info(t(key, name=ctx.model.name))
        return
    mode_column, layer_column = st.columns([3, 2])       # one row: the pictures start higher
    with mode_column:
        mode = mode_control(ctx)
    layer = bound(layer_column.radio, "layer", t("control.layer"), options=list(range(ctx.model.n_layers)),
                  horizontal=True)
    if ctx.model.arch.has_cross:
        # Free generation ignores a typed target: the rows are then the model's own output.
        trace = ctx.trace
        if mode == "free" and ctx.trace.target is not None:
            trace = ctx.run_trace(ctx.trace.text, None)
        cross_section(ctx, trace, layer)
    if mode == "teacher":
        teacher_section(ctx)
    else:
        steps_section(ctx, layer)
