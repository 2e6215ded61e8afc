"""Encoder block (source text §3.1): one layer of one stack at one position, every step in forward
order (z_h, Concat, × W^O, residual connection, layer normalisation, the feed-forward network,
residual and norm again), with the model's own number beside each step.

The numbers come from model/block.py's block_view (cached in ui/runs.py); this page only chooses
what to show and says it in the source text's terms. Where the model departs from the source
text's order (pre-norm, RMSNorm, GELU/SiLU, a gated network) it is shown as the model runs it,
and the departures are listed beside the source text's order.
"""
from __future__ import annotations

import math
import re

import numpy as np
import streamlit as st

from model.block import ACTIVATION_NAMES, FAMILIES, family_of
from viz import block as figures
from viz.labels import VISIBLE
from ..context import PageContext, bound, set_view, shown_errors, sync_url, view
from ..i18n import register
from ..runs import Runs
from ..settings import validate_figures

register("en", {
    "block.intro": ("The source text's encoder block with this model's own numbers: one layer of one stack "
                    "at one position, every step in forward order, computed in float32 from the model's weights. "
                    "Each strip is a vector, one cell per component (blue negative, white 0, red positive; hover "
                    "for the numbers). Where one of the model's modules produced the step in the same forward "
                    "pass, its number is the second row and the largest difference is written beside it."),
    "block.control.kind": "Block",
    "block.kind.encoder": "Encoder block",
    "block.kind.decoder": "Decoder block",
    "block.control.position": "Position (query token)",
    "block.heading": "{block} · layer {layer} · position {position}: {token}",
    "block.agreement": ("Largest difference from the model's own numbers over every step: {diff:.1e} "
                        "(float32 agreement)."),
    "block.agreement.bad": "The recomputed numbers differ from the model's own by up to {diff:.3g}.",
    # the orders, side by side
    "block.source.title": "The source text's encoder block: post-norm, ReLU",
    "block.source.decoder": ("The decoder block adds masked self-attention and encoder–decoder attention in front "
                             "of its network, each with its residual connection and layer normalisation."),
    "block.model.title": "This model ({family}): {order}, {norm}, {activation}",
    "block.family.built-in": "built-in",
    "block.order.pre-norm": "pre-norm",
    "block.order.post-norm": "post-norm",
    "block.model.same": "The same order as the source text.",
    "block.model.departs": "Where it departs from the source text (shown below as the model runs it):",
    "block.diff.prenorm": ("pre-norm: the norm comes before each sublayer, x + Sublayer(Norm(x)), not after the "
                           "residual sum, Norm(x + Sublayer(x))"),
    "block.diff.prenorm.final": ("pre-norm: the norm comes before each sublayer, x + Sublayer(Norm(x)), not after "
                                 "the residual sum, Norm(x + Sublayer(x)); the stack ends with one more norm"),
    "block.diff.rmsnorm": ("RMSNorm instead of layer normalisation: x is divided by its root mean square; no mean "
                           "is subtracted and there is no β"),
    "block.diff.gated": "a gated network: ({activation}(x W₁) ⊙ x W_up) W₂, three matrices instead of two",
    "block.diff.activation": "{activation} instead of ReLU",
    "block.diff.nobias": "no bias terms: some of W^O, W₁, W₂ add no b",
    "block.diff.nocross": ("no encoder–decoder attention: a decoder-only model's layer has masked self-attention "
                           "and the feed-forward network only"),
    "block.act.tanh": "tanh approximation",
    "block.act.sigmoid": "sigmoid approximation",
    "block.act.gate": "gate",
    "block.norm.LayerNorm": "layer normalisation (LayerNorm)",
    "block.norm.RMSNorm": "RMS normalisation (RMSNorm)",
    # the sublayers
    "block.sub.self.encoder": "Multi-head self-attention",
    "block.sub.self.decoder": "Masked multi-head self-attention",
    "block.sub.cross": "Encoder–decoder attention",
    "block.sub.ffn": "Feed-forward network",
    "block.sub.cross.help": "Queries from the decoder; keys and values from the encoder's output.",
    "block.sub.ffn.help": "The same network at every position, applied to this position's vector alone.",
    "block.in.self.encoder": "self-attention",
    "block.in.self.decoder": "masked self-attention",
    "block.in.cross": "encoder–decoder attention",
    "block.in.ffn": "the feed-forward network",
    "block.mask.note": ("The mask is applied to the scores before the softmax: the scores of future positions are "
                        "set to −∞, so their weights are 0. The value vectors V are untouched. (The source text, "
                        "on the masked decoder, says that V of future positions is set to −∞: that is wrong; −∞ in V would make "
                        "z_h −∞ or NaN.)"),
    "block.mask.here": ("Here: position {position} has {n} future positions; their largest weight over every head "
                        "is {weight:.1g}."),
    "block.mask.none": "Here: position {position} is the last one, so no position is in its future.",
    # the steps
    "block.step.input": "The layer's input x (the residual stream)",
    "block.step.norm.pre": "Before {sublayer}: {norm}",
    "block.step.norm.post": "Add & norm: {norm} of the residual sum",
    "block.step.heads": "Each head's output z_h",
    "block.step.concat": "The heads joined: Concat(z_1, …, z_h)",
    "block.step.W_O": "× W^O: the multi-head attention's output",
    "block.step.residual": "Residual connection: x + the output of {sublayer}",
    "block.step.ffn_in": "Feed-forward network, first layer (W₁)",
    "block.step.activation": "Activation: {activation}",
    "block.step.ffn_up": "Feed-forward network, linear branch (W_up)",
    "block.step.gated": "The gate: the activation ⊙ the linear branch",
    "block.step.ffn_out": "Feed-forward network, second layer (W₂): the network's output",
    "block.step.output": "The layer's output: the next layer's input",
    "block.step.output.last": "The layer's output: the stack's output",
    "block.step.output.last.norm": "The layer's output: the input of the stack's final {norm}",
    "block.shape": "shape: [{shape}]",
    "block.check": "Second row: the model's own number. Largest difference: {diff:.1e}.",
    "block.check.bad": "The model's own number differs by up to {diff:.3g}.",
    "block.check.heads": ("z_h is the attention call's own output (the record's context, Head anatomy's z_i): "
                          "one strip per head, side by side."),
    "block.check.concat": "Lines mark where each head's z_h ends.",
    "block.norm.numbers": "γ and β are learned, one per component; μ and σ² are this vector's own.",
    "block.norm.numbers.rms": "γ is learned, one per component; mean(x²) is this vector's own.",
    # figure text
    "block.row.ours": "recomputed",
    "block.row.model": "the model's own",
    "block.row.input": "x (input)",
    "block.row.normalised": "normalised",
    "block.row.gamma": "γ (scale)",
    "block.row.beta": "β (shift)",
    "block.component": "component",
    "block.value": "value",
    "block.axis.vector": "component ({dim} = {n})",
    "block.axis.heads": "each head's z_h: d_head = {d_head} components",
    # refusals
    "block.unsupported": ("The block view does not know where this model's layers keep their parts "
                          "(model type: {model_type}). It supports the built-in models and the Hugging Face "
                          "families {supported}."),
    "block.refused": "This block could not be computed for this model:",
    "block.one_token": "The input has one token: position 0.",
})
register("zh", {
    "block.intro": ("原文讲的编码器块，配上本模型自己的数：一个堆栈的一层、一个位置，按前向顺序展示每一步，"
                    "用模型的权重以 float32 计算。每条色带是一个向量，每格一个分量（蓝为负，白为 0，红为正；"
                    "悬停可看数值）。凡是模型自己的模块在同一次前向计算中算出的步骤，第二行就是模型自身的数，旁边写出最大差。"),
    "block.control.kind": "模块",
    "block.kind.encoder": "编码器块",
    "block.kind.decoder": "解码器块",
    "block.control.position": "位置（查询词元）",
    "block.heading": "{block} · 第 {layer} 层 · 位置 {position}：{token}",
    "block.agreement": "所有步骤与模型自身数值的最大差：{diff:.1e}（float32 精度内一致）。",
    "block.agreement.bad": "重算的数与模型自身的数最多相差 {diff:.3g}。",
    "block.source.title": "原文的编码器块：后归一化，ReLU",
    "block.source.decoder": "解码器块在前馈网络之前加入掩码自注意力和编码器-解码器注意力，每个子层都带残差连接和层归一化。",
    "block.model.title": "本模型（{family}）：{order}，{norm}，{activation}",
    "block.family.built-in": "内置模型",
    "block.order.pre-norm": "前归一化",
    "block.order.post-norm": "后归一化",
    "block.model.same": "与原文的顺序相同。",
    "block.model.departs": "与原文不同之处（下面按模型实际的计算展示）：",
    "block.diff.prenorm": "前归一化：归一化放在每个子层之前，x + Sublayer(Norm(x))，而不是在残差和之后，Norm(x + Sublayer(x))",
    "block.diff.prenorm.final": ("前归一化：归一化放在每个子层之前，x + Sublayer(Norm(x))，而不是在残差和之后，"
                                 "Norm(x + Sublayer(x))；整个堆栈最后还有一次归一化"),
    "block.diff.rmsnorm": "用 RMSNorm 代替层归一化：x 除以它的均方根；不减去均值，也没有 β",
    "block.diff.gated": "门控前馈网络：({activation}(x W₁) ⊙ x W_up) W₂，三个矩阵而不是两个",
    "block.diff.activation": "用 {activation} 代替 ReLU",
    "block.diff.nobias": "没有偏置项：W^O、W₁、W₂ 中有的不加 b",
    "block.diff.nocross": "没有编码器-解码器注意力：仅解码器模型的每一层只有掩码自注意力和前馈网络",
    "block.act.tanh": "tanh 近似",
    "block.act.sigmoid": "sigmoid 近似",
    "block.act.gate": "门控",
    "block.norm.LayerNorm": "层归一化（LayerNorm）",
    "block.norm.RMSNorm": "均方根归一化（RMSNorm）",
    "block.sub.self.encoder": "多头自注意力",
    "block.sub.self.decoder": "掩码多头自注意力",
    "block.sub.cross": "编码器-解码器注意力",
    "block.sub.ffn": "前馈网络",
    "block.sub.cross.help": "查询来自解码器；键和值来自编码器的输出。",
    "block.sub.ffn.help": "每个位置使用同一个网络，只作用于这个位置自己的向量。",
    "block.in.self.encoder": "自注意力",
    "block.in.self.decoder": "掩码自注意力",
    "block.in.cross": "编码器-解码器注意力",
    "block.in.ffn": "前馈网络",
    "block.mask.note": ("掩码作用于 softmax 之前的分数：未来位置的分数被设为 −∞，因此它们的权重为 0。值向量 V 保持不变。"
                        "（原文讲掩码解码器时说把未来位置的 V 设为 −∞，这是错误的：V 中的 −∞ 会使 z_h 变成 −∞ 或 NaN。）"),
    "block.mask.here": "此处：位置 {position} 之后有 {n} 个未来位置；它们在所有头中的最大权重为 {weight:.1g}。",
    "block.mask.none": "此处：位置 {position} 是最后一个位置，没有未来位置。",
    "block.step.input": "该层的输入 x（残差流）",
    "block.step.norm.pre": "{sublayer}之前的{norm}",
    "block.step.norm.post": "加与归一化：对残差和做{norm}",
    "block.step.heads": "每个头的输出 z_h",
    "block.step.concat": "拼接各头的输出：Concat(z_1, …, z_h)",
    "block.step.W_O": "乘以 W^O：多头注意力的输出",
    "block.step.residual": "残差连接：x + {sublayer}的输出",
    "block.step.ffn_in": "前馈网络第一层（W₁）",
    "block.step.activation": "激活函数：{activation}",
    "block.step.ffn_up": "前馈网络的线性分支（W_up）",
    "block.step.gated": "门控：激活值 ⊙ 线性分支",
    "block.step.ffn_out": "前馈网络第二层（W₂）：网络的输出",
    "block.step.output": "该层的输出：下一层的输入",
    "block.step.output.last": "该层的输出：整个堆栈的输出",
    "block.step.output.last.norm": "该层的输出：堆栈最后的{norm}的输入",
    "block.shape": "形状：[{shape}]",
    "block.check": "第二行：模型自身的数。最大差：{diff:.1e}。",
    "block.check.bad": "模型自身的数最多相差 {diff:.3g}。",
    "block.check.heads": "z_h 就是注意力计算本身的输出（记录中的 context，即“注意力头剖析”页的 z_i）：每个头一条色带，并排显示。",
    "block.check.concat": "竖线标出每个头的 z_h 在哪里结束。",
    "block.norm.numbers": "γ 和 β 是学习得到的参数，每个分量一个；μ 和 σ² 由这个向量自己算出。",
    "block.norm.numbers.rms": "γ 是学习得到的参数，每个分量一个；mean(x²) 由这个向量自己算出。",
    "block.row.ours": "重算",
    "block.row.model": "模型自身",
    "block.row.input": "x（输入）",
    "block.row.normalised": "归一化后",
    "block.row.gamma": "γ（缩放）",
    "block.row.beta": "β（平移）",
    "block.component": "分量",
    "block.value": "数值",
    "block.axis.vector": "分量（{dim} = {n}）",
    "block.axis.heads": "每个头的 z_h：d_head = {d_head} 个分量",
    "block.unsupported": ("编码器块视图不知道此模型的各层把各部分放在哪里（模型类型：{model_type}）。"
                          "它支持内置模型和 Hugging Face 的 {supported} 系列。"),
    "block.refused": "无法为此模型计算这个模块：",
    "block.one_token": "输入只有一个词元：位置 0。",
})

STACKS = ("encoder", "decoder")
KIND_WIDGET = "block.kind"
# Activations the page writes in LaTeX; any other config name is written as a plain "act".
LATEX_ACTIVATIONS = {"ReLU", "GELU", "SiLU"}
# block.py's differences (English sentences) -> the translation key that says the same.
def family_name(family: str, t) -> str:
    """A Hugging Face family by its own name (bert, llama); ours in the interface's language."""
    return t("block.family.built-in") if family == "built-in" else family


DIFFERENCE_KEYS = (("pre-norm", "block.diff.prenorm"), ("RMSNorm instead", "block.diff.rmsnorm"),
                   ("a gated network", "block.diff.gated"), ("no bias terms", "block.diff.nobias"),
                   ("no encoder–decoder attention", "block.diff.nocross"))
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def plain(text: str) -> str:
    """Text from a model or its config as Markdown that shows it literally (no links, emphasis or maths)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", str(text))


def stack_of(kind: str) -> str:
    """The stack whose block shows a kind: encoder–decoder attention is a sublayer of the decoder block."""
    return "decoder" if kind == "cross" else kind


# ---- names in the source text's terms ----------------------------------------------------------

def activation_name(view) -> str:
    """The network's activation as the source text would write it ("GELU (tanh approximation)")."""
    return ACTIVATION_NAMES.get(view.activation_id, view.activation_id)


def translated_activation(t, name: str) -> str:
    for english, key in (("tanh approximation", "block.act.tanh"), ("sigmoid approximation", "block.act.sigmoid"),
                         ("gate", "block.act.gate")):
        name = name.replace(english, t(key))
    return name


def departures(t, view) -> list[str]:
    """block.py's differences in the interface's language (one line each, same order); a
    difference this page has no words for is shown as block.py says it."""
    lines = []
    act = translated_activation(t, activation_name(view))
    for difference in view.differences:
        key = next((k for prefix, k in DIFFERENCE_KEYS if difference.startswith(prefix)), None)
        if key == "block.diff.prenorm" and "one more norm" in difference:
            key = "block.diff.prenorm.final"
        if key is None and difference.endswith("instead of ReLU"):
            key = "block.diff.activation"
        lines.append(t(key, activation=act) if key else difference)
    return lines


def sublayer_words(t, view, sub: str) -> str:
    """A sublayer inside a sentence: "masked self-attention", "the feed-forward network"."""
    return t(f"block.in.self.{view.kind}") if sub == "self" else t(f"block.in.{sub}")


def step_name(t, view, step, last_layer: bool) -> str:
    """A step's name in the source text's terms (last_layer: the stack's last layer, whose output
    goes to the stack's final norm or out of the stack, not to a next layer)."""
    norm = t(f"block.norm.{view.norm}")
    if step.name == "norm":
        before = view.order == "pre-norm"
        return t("block.step.norm.pre" if before else "block.step.norm.post", norm=norm,
                 sublayer=sublayer_words(t, view, step.sublayer))
    if step.name == "residual":
        return t("block.step.residual", sublayer=sublayer_words(t, view, step.sublayer))
    if step.name == "activation":
        return t("block.step.activation", activation=translated_activation(t, activation_name(view)))
    if step.name == "output" and last_layer:
        return t("block.step.output.last.norm", norm=norm) if view.final_norm else t("block.step.output.last")
    return t(f"block.step.{step.name}")


# ---- formulas (LaTeX of fixed symbols and numbers only, never text from a model) ---------------

def _latex_activation(view) -> str:
    name = activation_name(view).split(" ")[0]
    return rf"\mathrm{{{name}}}" if name in LATEX_ACTIVATIONS else r"\mathrm{act}"


def _has_bias(view, name: str) -> bool:
    """Whether block.py wrote a bias into the step's equation (b^O, b_1, b_2)."""
    found = [s for s in view.steps if s.name == name]
    return bool(found) and "+ b" in found[0].equation


def network_latex(view, h: str = "h") -> str:
    act = _latex_activation(view)
    b1 = " + b_1" if _has_bias(view, "ffn_in") else ""
    b2 = " + b_2" if _has_bias(view, "ffn_out") else ""
    if view.gated:
        return rf"\mathrm{{FFN}}({h}) = \big({act}({h} W_1) \odot {h} W_{{\mathrm{{up}}}}\big) W_2{b2}"
    return rf"\mathrm{{FFN}}({h}) = {act}({h} W_1{b1})\, W_2{b2}"


SOURCE_LATEX = (r"x' = \mathrm{LayerNorm}\big(x + \mathrm{MultiHead}(x)\big)",
                r"\mathrm{FFN}(x') = \mathrm{ReLU}(x' W_1 + b_1)\, W_2 + b_2",
                r"\mathrm{out} = \mathrm{LayerNorm}\big(x' + \mathrm{FFN}(x')\big)")


def model_latex(view) -> list[str]:
    """The model's block as it runs, one line per sublayer and the network."""
    norm = rf"\mathrm{{{view.norm}}}"
    cross = "cross" in view.sublayers
    if view.order == "pre-norm":
        lines = [r"x' = x + \mathrm{MultiHead}\big(" + norm + r"(x)\big)"]
        if cross:
            lines.append(r"x'' = x' + \mathrm{CrossAttention}\big(" + norm + r"(x'),\ \mathrm{enc}\big)")
        last = "x''" if cross else "x'"
        lines += [network_latex(view), rf"\mathrm{{out}} = {last} + \mathrm{{FFN}}\big({norm}({last})\big)"]
    else:
        lines = [r"x' = " + norm + r"\big(x + \mathrm{MultiHead}(x)\big)"]
        if cross:
            lines.append(r"x'' = " + norm + r"\big(x' + \mathrm{CrossAttention}(x',\ \mathrm{enc})\big)")
        last = "x''" if cross else "x'"
        lines += [network_latex(view, last), rf"\mathrm{{out}} = {norm}\big({last} + \mathrm{{FFN}}({last})\big)"]
    return lines


def _scientific(value: float) -> str:
    """1e-05 -> 10^{-5}; 2.5e-06 -> 2.5 × 10^{-6} (LaTeX)."""
    if value == 0:
        return "0"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = value / 10 ** exponent
    if abs(mantissa - 1) < 1e-9:
        return rf"10^{{{exponent}}}"
    return rf"{mantissa:.3g} \times 10^{{{exponent}}}"


def step_latex(view, step) -> str:
    """The step's formula in the source text's notation, for this model."""
    act = _latex_activation(view)
    pre = view.order == "pre-norm"
    name = step.name
    if name == "input":
        return "x"
    if name == "norm":
        if step.norm.kind == "RMSNorm":
            return r"\mathrm{RMSNorm}(x) = \gamma \odot \frac{x}{\sqrt{\mathrm{mean}(x^2) + \varepsilon}}"
        return r"\mathrm{LayerNorm}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \varepsilon}} + \beta"
    if name == "heads":
        if step.sublayer == "cross":
            return r"z_h = \mathrm{softmax}\Big(\frac{q_h K_h^{\mathrm{enc}\top}}{\sqrt{d_k}}\Big) V_h^{\mathrm{enc}}"
        if view.kind == "decoder":
            return r"z_h = \mathrm{softmax}\Big(\mathrm{mask}\Big(\frac{q_h K_h^\top}{\sqrt{d_k}}\Big)\Big) V_h"
        return r"z_h = \mathrm{softmax}\Big(\frac{q_h K_h^\top}{\sqrt{d_k}}\Big) V_h"
    if name == "concat":
        return r"\mathrm{Concat}(z_1, \dots, z_h)"
    if name == "W_O":
        return r"\mathrm{Concat}(z_1, \dots, z_h)\, W^O" + (" + b^O" if _has_bias(view, "W_O") else "")
    if name == "residual":
        inner = r"\mathrm{Norm}(x)" if pre else "x"
        sublayer = {"self": r"\mathrm{MultiHead}", "cross": r"\mathrm{CrossAttention}", "ffn": r"\mathrm{FFN}"}
        return rf"x + {sublayer[step.sublayer]}({inner})"
    if name == "ffn_in":
        return "h W_1" + (" + b_1" if _has_bias(view, "ffn_in") else "")
    if name == "activation":
        return rf"{act}(h W_1" + (" + b_1)" if _has_bias(view, "ffn_in") and not view.gated else ")")
    if name == "ffn_up":
        return r"h W_{\mathrm{up}}"
    if name == "gated":
        return rf"{act}(h W_1) \odot h W_{{\mathrm{{up}}}}"
    if name == "ffn_out":
        return network_latex(view)
    return r"\mathrm{out}"


def norm_numbers_latex(numbers) -> str:
    eps = _scientific(numbers.eps)
    if numbers.kind == "RMSNorm":
        return rf"\mathrm{{mean}}(x^2) = {numbers.variance:.4g},\quad \varepsilon = {eps}"
    return rf"\mu = {numbers.mean:.4g},\quad \sigma^2 = {numbers.variance:.4g},\quad \varepsilon = {eps}"


# ---- figures -----------------------------------------------------------------------------------

def _dimension(view, n: int) -> str:
    if n == view.d_ff and n != view.d_model:
        return "d_ff"
    if n == view.d_model:
        return "d_model"
    return "h·d_head"


def step_figure(t, view, step):
    """The step's strips: our number (and the model's own beside it), or the norm's parts, or the heads."""
    component, value = t("block.component"), t("block.value")
    validate = validate_figures()
    if step.name == "heads":
        titles = [f"{t('control.head')} {h}" for h in range(step.shape[0])]
        return figures.heads_figure(step.value, titles, t("block.axis.heads", d_head=step.shape[1]), component,
                                    value, validate=validate)
    n = step.shape[0]
    x_title = t("block.axis.vector", dim=_dimension(view, n), n=n)
    ours = figures.Strip("ours", t("block.row.ours"), step.value)
    mine = [] if step.model is None else [figures.Strip("model", t("block.row.model"), step.model)]
    if step.norm is not None:
        numbers = step.norm
        rows = [figures.Strip("input", t("block.row.input"), numbers.input),
                figures.Strip("normalised", t("block.row.normalised"), numbers.normalised),
                figures.Strip("gamma", t("block.row.gamma"), numbers.gamma)]
        if numbers.beta is not None:
            rows.append(figures.Strip("beta", t("block.row.beta"), numbers.beta))
        return figures.vector_strips(rows + [ours] + mine, x_title, component, value, shared_scale=False,
                                     validate=validate)
    boundaries = range(view.d_head, n, view.d_head) if step.name == "concat" else ()
    return figures.vector_strips([ours] + mine, x_title, component, value, boundaries=boundaries,
                                 validate=validate)


def chart_key(step) -> str:
    """block.input, block.self.W_O, block.ffn.norm, block.output: unique within a block."""
    return f"block.{step.sublayer}.{step.name}" if step.sublayer else f"block.{step.name}"


# ---- sections ----------------------------------------------------------------------------------

def order_section(ctx: PageContext, view) -> None:
    """The source text's order beside the model's, with the departures listed."""
    t = ctx.t
    left, right = st.columns(2)
    with left:
        st.markdown(f"**{t('block.source.title')}**")
        for line in SOURCE_LATEX:
            st.latex(line)
        if view.kind == "decoder":
            st.caption(t("block.source.decoder"))
    with right:
        st.markdown("**" + t("block.model.title", family=plain(family_name(view.family, t)), order=t(f"block.order.{view.order}"),
                             norm=view.norm, activation=plain(translated_activation(t, view.activation))) + "**")
        for line in model_latex(view):
            st.latex(line)
        lines = departures(t, view)
        if lines:
            st.markdown(t("block.model.departs") + "\n" + "\n".join(f"- {plain(line)}" for line in lines))
        else:
            st.markdown(t("block.model.same"))


def mask_note(ctx: PageContext, view) -> None:
    """Beside masked self-attention: where the mask acts (scores, not V), with this row's numbers."""
    t = ctx.t
    st.info(t("block.mask.note"))
    record = ctx.trace.get(view.record_kinds["self"], view.layer)
    future = ~record.allowed[view.position]                          # [k_pos] keys this query may not see
    future[: view.position + 1] = False                              # the future only, not padding before
    if future.any():
        weight = float(record.weights[:, view.position, future].max())
        st.caption(t("block.mask.here", position=view.position, n=int(future.sum()), weight=weight))
    else:
        st.caption(t("block.mask.none", position=view.position))


def sublayer_header(ctx: PageContext, view, sub: str) -> None:
    t = ctx.t
    title = t(f"block.sub.self.{view.kind}") if sub == "self" else t(f"block.sub.{sub}")
    st.markdown(f"#### {title}")
    if sub == "cross":
        st.caption(t("block.sub.cross.help"))
    elif sub == "ffn":
        st.caption(t("block.sub.ffn.help"))
    if sub == "self" and view.kind == "decoder":
        mask_note(ctx, view)


def step_row(ctx: PageContext, view, step, number: int, last_layer: bool) -> None:
    """One step: its name, formula, shape and agreement on the left, its strips on the right."""
    t = ctx.t
    # The left column is wide enough for the longest formula at lecture size (LayerNorm's fraction).
    left, right = st.columns([2, 3])
    with left:
        st.markdown(f"**{number} · {step_name(t, view, step, last_layer)}**")
        st.latex(step_latex(view, step))
        st.caption(t("block.shape", shape=" × ".join(str(n) for n in step.shape)))
        if step.norm is not None:
            st.latex(norm_numbers_latex(step.norm))
            st.caption(t("block.norm.numbers" if step.norm.beta is not None else "block.norm.numbers.rms"))
        if step.name == "heads":
            st.caption(t("block.check.heads"))
        elif step.name == "concat":
            st.caption(t("block.check.concat"))
        if step.model is not None:
            difference = float(np.abs(step.value - step.model).max())
            if difference <= 1e-4 * max(1.0, float(np.abs(step.model).max())):
                st.caption(t("block.check", diff=difference))
            else:
                st.warning(t("block.check.bad", diff=difference))
    with right:
        ctx.chart(step_figure(t, view, step), key=chart_key(step))


def steps_section(ctx: PageContext, view, last_layer: bool) -> None:
    """Every step in forward order, a heading where a sublayer begins."""
    current = None
    for number, step in enumerate(view.steps, start=1):
        if step.sublayer and step.sublayer != current:
            sublayer_header(ctx, view, step.sublayer)
        current = step.sublayer or current
        step_row(ctx, view, step, number, last_layer)


# ---- choices and the numbers -------------------------------------------------------------------

def _keep_in_range(field: str, options: list, instance: str = "") -> None:
    """Reset a bound choice (and its widget) that this stack, layer or text no longer has."""
    key = f"w.{field}" + (f".{instance}" if instance else "")
    if getattr(view(), field) not in options or st.session_state.get(key, options[0]) not in options:
        set_view(**{field: options[0]})
        st.session_state.pop(key, None)


def kind_control(ctx: PageContext, stacks: list[str]) -> str:
    """The stack, bound to the view's kind by hand: a link's kind=cross opens the decoder block
    (its encoder–decoder attention is a sublayer there) and stays cross until another is chosen."""
    t = ctx.t
    shown = stack_of(view().kind)
    if shown not in stacks:
        shown = stacks[0]
    key = KIND_WIDGET
    # Seeded from the view when the radio is new (a link, another page before) or the view's kind
    # changed elsewhere (another model's first view), not on every run: a value the script sets
    # each run races a click made while a run is under way.
    seen = f"{KIND_WIDGET}.seen"
    if st.session_state.get(key) not in stacks or st.session_state.get(seen) != view().kind:
        st.session_state[key] = shown
    st.session_state[seen] = view().kind

    def chosen():
        set_view(kind=st.session_state[key])

    st.radio(t("block.control.kind"), options=stacks, key=key, on_change=chosen, horizontal=True,
             format_func=lambda k: t(f"block.kind.{k}"))
    return shown


def block_controls(ctx: PageContext) -> tuple[str, int, int]:
    """(stack, layer, position), all in the URL (kind, layer, query)."""
    t = ctx.t
    stacks = [k for k in STACKS if k in ctx.trace.kinds()]
    c_kind, c_layer, c_position = st.columns([2, 2, 5])
    with c_kind:
        stack = kind_control(ctx, stacks)
    layers = [r.layer for r in ctx.trace.records_of(stack)]
    _keep_in_range("layer", layers)
    layer = bound(c_layer.radio, "layer", t("control.layer"), options=layers, horizontal=True)
    tokens = ctx.trace.encoder_tokens if stack == "encoder" else ctx.trace.decoder_tokens
    positions = list(range(len(tokens)))
    _keep_in_range("query", positions, instance=stack)
    if len(positions) == 1:
        c_position.caption(t("block.one_token"))
        return stack, int(layer), 0
    position = bound(c_position.select_slider, "query", t("block.control.position"), options=positions,
                     format_func=lambda i: f"{i}: {VISIBLE.get(tokens[i], tokens[i])}", instance=stack)
    return stack, int(layer), int(position)


def supported(ctx: PageContext) -> bool:
    """Whether block.py knows the model's layout; a translated note where it does not."""
    try:
        family_of(ctx.model)
    except ValueError:
        config = getattr(ctx.model.backend, "hf_config", None)
        model_type = getattr(config, "model_type", None) or type(ctx.model.net).__name__
        names = ", ".join(name for name in FAMILIES if name != "builtin")
        st.info(ctx.t("block.unsupported", model_type=plain(model_type), supported=plain(names)))
        return False
    return True


def compute(ctx: PageContext, stack: str, layer: int, position: int):
    """The cached BlockView for the page's own text, or None after a translated warning."""
    runs = Runs(ctx.view.model, ctx.model.snapshot, ctx.t)
    try:
        return runs.block(ctx.trace.text, ctx.trace.target, stack, layer, position)
    except ValueError as error:      # block.py refuses with a sentence that says why
        st.warning(ctx.t("block.refused"))
        st.code(str(error), language=None)
        return None


@st.fragment
def block_page(ctx: PageContext) -> None:
    """Controls and the block: reruns alone when the stack, layer or position changes."""
    t = ctx.t
    with shown_errors(t, "drawing the encoder block"):
        stack, layer, position = block_controls(ctx)
        block = compute(ctx, stack, layer, position)
        if block is not None:
            token = plain(VISIBLE.get(block.token, block.token))
            st.subheader(t("block.heading", block=t(f"block.kind.{stack}"), layer=layer, position=position,
                           token=token))
            order_section(ctx, block)
            difference = block.max_difference()
            if difference <= 1e-4 * max(1.0, max(float(np.abs(s.value).max()) for s in block.steps)):
                st.caption(t("block.agreement", diff=difference))
            else:
                st.warning(t("block.agreement.bad", diff=difference))
            steps_section(ctx, block, last_layer=layer == ctx.trace.records_of(stack)[-1].layer)
    sync_url()


def render(ctx: PageContext) -> None:
    if not ctx.lecture:        # in a hall the lecturer says it; the block's formulas take the first screen
        st.caption(ctx.t("block.intro"))
    if supported(ctx):
        block_page(ctx)
