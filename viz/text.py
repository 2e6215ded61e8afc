"""Every word the figures write, in English and Chinese: two tables with keys "fig.*".

viz/ never imports ui/ (docs/ARCHITECTURE.md, "Layers"), so the figures cannot reach the app's
translator; they take one instead: every figure function that writes text has a keyword argument
`t` (t(key, **values) -> str), English by default. ui/i18n.py merges these tables into its own,
so the app has one table (which a future JS canvas can read too) and a page passes ctx.t.

Chinese uses the source text's terms: 查询 / 键 / 值, 注意力权重, 掩码, 头, 层, 缩放, 词元,
自注意力, 编码器-解码器注意力. Token text, numbers and formulas (q·k, α, softmax, √d_k, QKᵀ) are
never translated. Values are filled in with str.format only when there are values; plotly's
%{...} placeholders are passed in as values (t("fig.worked.cell", y="%{y}", x="%{x}")) or added
in code, never written into these strings.
"""
from __future__ import annotations

from typing import Protocol


class Translator(Protocol):
    """t(key, **values) -> the text of `key` with `values` filled in (ui.i18n.translator is one)."""

    def __call__(self, key: str, **values) -> str: ...


EN = {
    "fig.latex.scale": "scale",
    "fig.latex.masked": "masked",
    # ---- shared words ----------------------------------------------------------------------
    "fig.kind.encoder": "encoder attention",
    "fig.kind.decoder": "decoder attention",
    "fig.kind.cross": "cross attention",
    "fig.kind_short.encoder": "encoder",
    "fig.kind_short.decoder": "decoder",
    "fig.kind_short.cross": "cross",
    "fig.layer": "layer {layer}",
    "fig.head": "head {head}",
    "fig.head.mean": "mean over heads",
    "fig.mean": "mean",
    "fig.query": "query",
    "fig.key": "key",
    "fig.position": "position",
    "fig.masked": "masked",
    "fig.sep": " · ",
    # Stage names: in titles (long) and on colour bars and hover boxes (short).
    "fig.stage.scores": "raw scores q·k",
    "fig.stage.scaled": "scaled scores q·k·scale",
    "fig.stage.biased": "scaled scores + position bias",
    "fig.stage.mask": "mask (1 = may attend; hatched = masked)",
    "fig.stage.masked": "masked: softmax input (scaled + bias, −∞ where masked)",
    "fig.stage.weights": "softmax weights α",
    "fig.stage_short.scores": "scores",
    "fig.stage_short.scaled": "scaled",
    "fig.stage_short.biased": "biased",
    "fig.stage_short.mask": "mask",
    "fig.stage_short.masked": "masked",
    "fig.stage_short.weights": "weights",
    # Thinned tick labels: said in the axis title, never silently dropped.
    "fig.ticks.every_token": "every {nth} label shown; hover names each",
    "fig.ticks.positions": "position numbers, every {nth}; hover names each token",
    # ---- the attention canvas's axes (ui/canvas.py) ----------------------------------------
    "fig.axis.encoder.query": "query (source token)",
    "fig.axis.encoder.key": "key (source token)",
    "fig.axis.decoder.query": "query (target token)",
    "fig.axis.decoder.key": "key (target token)",
    "fig.axis.cross.query": "query (decoder token)",
    "fig.axis.cross.key": "key (encoder token)",
    # ---- aggregate_figures.py --------------------------------------------------------------
    "fig.agg.entropy.title": "{kind} · entropy per head (bits; low = focused)",
    "fig.agg.entropy.unit": "bits",
    "fig.agg.distance.title": "{kind} · mean attention distance per head (tokens)",
    "fig.agg.distance.unit": "tokens",
    # ---- anatomy.py ------------------------------------------------------------------------
    "fig.anatomy.qkv.Q": "Q (rows: query tokens)",
    "fig.anatomy.qkv.K": "K (rows: key tokens)",
    "fig.anatomy.qkv.V": "V (rows: key tokens)",
    "fig.anatomy.token": "token",
    "fig.anatomy.queries": "queries",
    "fig.anatomy.keys": "keys",
    "fig.anatomy.attends": "attends to",
    "fig.anatomy.attended": "is attended by",
    "fig.anatomy.all_masked": "all 0 (masked)",
    # ---- generation.py ---------------------------------------------------------------------
    "fig.gen.prefix": "the prefix the decoder has read, and the new token (orange)",
    "fig.gen.top5": "top-5 next-token probabilities (orange: the chosen token)",
    "fig.gen.probability": "probability",
    "fig.gen.step.title": "step {step}: the model chooses {token}",
    "fig.gen.tf.reads": "decoder reads",
    "fig.gen.tf.given": "given next token",
    "fig.gen.tf.top": "top prediction",
    "fig.gen.tf.same": "same?",
    "fig.gen.tf.title": "teacher forcing: {n} of {total} top predictions differ from the given token",
    "fig.gen.tf.subtitle": "orange ✗: the model's top prediction is not the given token; "
                           "hover a prediction for its top-5",
    # ---- intervene.py ----------------------------------------------------------------------
    "fig.int.off": "(off)",
    "fig.int.summary.title": "change of attention per layer × head: mean over queries of "
                             "Σ_j |α_after − α_before| (0 = unchanged, 2 = disjoint)",
    "fig.int.summary.hover": "mean over queries of Σ_j |Δα_ij|",
    "fig.int.summary.y": "attention (kind layer)",
    # ---- worked.py -------------------------------------------------------------------------
    "fig.worked.cell": "row {y}, column {x}",
    "fig.worked.masked": "masked",
    "fig.worked.Q": "Q = XW<sup>Q</sup> (query)",
    "fig.worked.K": "K = XW<sup>K</sup> (key)",
    "fig.worked.V": "V = XW<sup>V</sup> (value)",
    "fig.worked.scores": "QKᵀ",
    "fig.worked.scaled": "QKᵀ / √d<sub>k</sub> (scaled)",
    "fig.worked.masked_panel": "+ mask (causal)",
    "fig.worked.weights": "α = softmax (row-wise)",
    "fig.worked.context": "Z = αV",
    "fig.worked.concat": "Concat(head₁, head₂)",
    "fig.worked.W_O": "W<sup>O</sup>",
    "fig.worked.output": "Concat · W<sup>O</sup> (output)",
}

ZH = {
    "fig.latex.scale": "缩放因子",
    "fig.latex.masked": "被掩码",
    "fig.kind.encoder": "编码器自注意力",
    "fig.kind.decoder": "解码器掩码自注意力",
    "fig.kind.cross": "编码器-解码器注意力",
    "fig.kind_short.encoder": "编码器",
    "fig.kind_short.decoder": "解码器",
    "fig.kind_short.cross": "编码器-解码器",
    "fig.layer": "第 {layer} 层",
    "fig.head": "头 {head}",
    "fig.head.mean": "所有头的平均",
    "fig.mean": "平均",
    "fig.query": "查询",
    "fig.key": "键",
    "fig.position": "位置",
    "fig.masked": "掩码",
    "fig.sep": " · ",
    "fig.stage.scores": "原始分数 q·k",
    "fig.stage.scaled": "缩放后的分数 q·k·缩放因子",
    "fig.stage.biased": "缩放后的分数 + 位置偏置",
    "fig.stage.mask": "掩码（1 = 可以关注；斜线 = 被掩码）",
    "fig.stage.masked": "掩码后：softmax 的输入（缩放 + 偏置，被掩码处为 −∞）",
    "fig.stage.weights": "softmax 注意力权重 α",
    "fig.stage_short.scores": "分数",
    "fig.stage_short.scaled": "缩放后",
    "fig.stage_short.biased": "加偏置后",
    "fig.stage_short.mask": "掩码",
    "fig.stage_short.masked": "掩码后",
    "fig.stage_short.weights": "权重",
    "fig.ticks.every_token": "每 {n} 个标一个；悬停可看每一个",
    "fig.ticks.positions": "位置编号，每 {n} 个标一个；悬停可看每个词元",
    "fig.axis.encoder.query": "查询（源序列词元）",
    "fig.axis.encoder.key": "键（源序列词元）",
    "fig.axis.decoder.query": "查询（目标序列词元）",
    "fig.axis.decoder.key": "键（目标序列词元）",
    "fig.axis.cross.query": "查询（解码器词元）",
    "fig.axis.cross.key": "键（编码器词元）",
    "fig.agg.entropy.title": "{kind} · 每个头的熵（比特；越低越集中）",
    "fig.agg.entropy.unit": "比特",
    "fig.agg.distance.title": "{kind} · 每个头的平均注意力距离（词元）",
    "fig.agg.distance.unit": "词元",
    "fig.anatomy.qkv.Q": "Q（行：查询词元）",
    "fig.anatomy.qkv.K": "K（行：键词元）",
    "fig.anatomy.qkv.V": "V（行：键词元）",
    "fig.anatomy.token": "词元",
    "fig.anatomy.queries": "查询",
    "fig.anatomy.keys": "键",
    "fig.anatomy.attends": "关注",
    "fig.anatomy.attended": "被以下查询关注",
    "fig.anatomy.all_masked": "全为 0（被掩码）",
    "fig.gen.prefix": "解码器已读取的前缀，以及新词元（橙色）",
    "fig.gen.top5": "下一个词元概率最高的 5 个（橙色：被选中的词元）",
    "fig.gen.probability": "概率",
    "fig.gen.step.title": "第 {step} 步：模型选择 {token}",
    "fig.gen.tf.reads": "解码器读取",
    "fig.gen.tf.given": "给定的下一个词元",
    "fig.gen.tf.top": "最高预测",
    "fig.gen.tf.same": "相同？",
    "fig.gen.tf.title": "教师强制：{total} 个最高预测中有 {n} 个与给定词元不同",
    "fig.gen.tf.subtitle": "橙色 ✗：模型的最高预测不是给定词元；悬停在预测上可查看其前 5 名",
    "fig.int.off": "（已关闭）",
    "fig.int.summary.title": "每层 × 每个头的注意力变化：对查询取平均的 Σ_j |α_干预后 − α_干预前|（0 = 不变，2 = 完全不同）",
    "fig.int.summary.hover": "对查询取平均的 Σ_j |Δα_ij|",
    "fig.int.summary.y": "注意力（类型 层）",
    "fig.worked.cell": "第 {y} 行，第 {x} 列",
    "fig.worked.masked": "被掩码",
    "fig.worked.Q": "Q = XW<sup>Q</sup>（查询）",
    "fig.worked.K": "K = XW<sup>K</sup>（键）",
    "fig.worked.V": "V = XW<sup>V</sup>（值）",
    "fig.worked.scores": "QKᵀ",
    "fig.worked.scaled": "QKᵀ / √d<sub>k</sub>（缩放）",
    "fig.worked.masked_panel": "+ 掩码（因果）",
    "fig.worked.weights": "α = 按行 softmax",
    "fig.worked.context": "Z = αV",
    "fig.worked.concat": "拼接(头₁, 头₂)",
    "fig.worked.W_O": "W<sup>O</sup>",
    "fig.worked.output": "拼接 · W<sup>O</sup>（输出）",
}

TABLES = {"en": EN, "zh": ZH}


def translator(lang: str = "en") -> Translator:
    """t(key, **values) over these tables alone (the app's translator covers them too)."""
    table = TABLES.get(lang, EN)

    def t(key: str, **values) -> str:
        text = table.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    return t


english = translator("en")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st ...: English ordinals ("every 2th" is not English)."""
    n = int(n)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
