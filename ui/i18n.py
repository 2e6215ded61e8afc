"""Interface text in English and Chinese. The Chinese follows the source text's terms
(自注意力, 多头注意力, 掩码, 编码器-解码器注意力, 教师强制)."""
from __future__ import annotations

from typing import Callable

EN = {
    "app.title": "Attention Explorer",
    "app.caption": "Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: every layer and head of a small Transformer, for the text you type.",
    "nav.page": "Page",
    "page.explore": "Explore",
    "page.anatomy": "Head anatomy",
    "page.generation": "Generation",
    "page.worked-example": "Worked example",
    "page.aggregates": "Aggregates",
    "page.intervene": "Intervene",
    "control.model": "Model",
    "control.snapshot": "Training progress",
    "control.lang": "Language",
    "control.lecture": "Lecture mode (large, high contrast)",
    "control.text": "Text",
    "control.text.placeholder": "Type some text and press Enter",
    "control.target": "Target (optional)",
    "control.target.placeholder": "empty: the model generates it",
    "control.target.help": "Teacher forcing: the decoder reads this text instead of its own greedy output.",
    "control.kind": "Attention",
    "control.layer": "Layer",
    "control.head": "Head",
    "control.stage": "Stage",
    "control.pad_to": "Pad to N tokens (as in a batch)",
    "head.mean": "mean",
    "snapshot.untrained": "untrained",
    "snapshot.early": "early",
    "snapshot.middle": "middle",
    "snapshot.final": "final",
    "kind.encoder": "Encoder self-attention",
    "kind.decoder": "Decoder masked self-attention",
    "kind.cross": "Encoder–decoder (cross) attention",
    "kind.encoder.help": "every position sees every other",
    "kind.decoder.help": "no position sees the future",
    "kind.cross.help": "decoder queries, encoder keys and values",
    "stage.scores": "raw scores q·k",
    "stage.scaled": "scaled (× scale)",
    "stage.bias": "+ bias",
    "stage.mask": "mask",
    "stage.logits": "masked logits",
    "stage.weights": "softmax weights α",
    "msg.empty": "Please type some text above to see its attention.",
    "msg.truncated": "The input was too long for this model ({max_len} tokens): {n} tokens were cut from the end.",
    "msg.unknown": "Characters outside this model's vocabulary (it reads them as <unk>; the labels keep them):",
    "msg.load_error": "The model could not be loaded: {error}",
    "msg.error": "Something went wrong while {what}. The details are in the server log.",
    "msg.no_models": "No model files were found in assets/. Rebuild them with: python -m model.train NAME",
    "msg.url_note": "The link had {note} value(s) that could not be used; they fell back to defaults:",
    "msg.no_bias": "This model adds no position bias: this stage equals the scaled scores.",
    "output.encoder-decoder": "Generated output (greedy)",
    "output.encoder-decoder.given": "Target (teacher forcing)",
    "output.decoder-only": "Continuation (greedy)",
    "output.encoder-only": "Text with each [MASK] filled by the top prediction",
    "output.none": "(the model produced no text)",
    "model.summary": "{name}: {architecture}, {n_layers} layers × {n_heads} heads, d_model {d_model}. Token labels: ␣ is a space, ↵ a newline.",
    "overview.title": "All layers × heads",
    "detail.title": "One head",
    "download.trace": "Download the trace (.npz: every record of this input)",
    "download.figure": "Download this figure (standalone HTML)",
}

ZH = {
    "app.title": "注意力探索器",
    "app.caption": "Attention(Q, K, V) = softmax(QKᵀ / √d_k) V：针对你输入的文本，展示一个小型 Transformer 每一层、每个头的注意力。",
    "nav.page": "页面",
    "page.explore": "探索",
    "page.anatomy": "注意力头剖析",
    "page.generation": "生成",
    "page.worked-example": "计算示例",
    "page.aggregates": "汇总",
    "page.intervene": "干预",
    "control.model": "模型",
    "control.snapshot": "训练进度",
    "control.lang": "语言",
    "control.lecture": "授课模式（大字体、高对比度）",
    "control.text": "文本",
    "control.text.placeholder": "输入文本后按回车",
    "control.target": "目标（可选）",
    "control.target.placeholder": "留空：由模型生成",
    "control.target.help": "教师强制：解码器读取此文本，而不是它自己贪心生成的输出。",
    "control.kind": "注意力",
    "control.layer": "层",
    "control.head": "头",
    "control.stage": "阶段",
    "control.pad_to": "填充到 N 个词元（如同批处理）",
    "head.mean": "平均",
    "snapshot.untrained": "未训练",
    "snapshot.early": "早期",
    "snapshot.middle": "中期",
    "snapshot.final": "最终",
    "kind.encoder": "编码器自注意力",
    "kind.decoder": "解码器掩码自注意力",
    "kind.cross": "编码器-解码器注意力",
    "kind.encoder.help": "每个位置都能看到所有位置",
    "kind.decoder.help": "任何位置都看不到未来",
    "kind.cross.help": "查询来自解码器，键和值来自编码器",
    "stage.scores": "原始分数 q·k",
    "stage.scaled": "缩放后（× 缩放因子）",
    "stage.bias": "+ 偏置",
    "stage.mask": "掩码",
    "stage.logits": "掩码后的 logits",
    "stage.weights": "softmax 权重 α",
    "msg.empty": "请在上方输入文本以查看其注意力。",
    "msg.truncated": "输入超出此模型的长度上限（{max_len} 个词元）：末尾有 {n} 个词元被截去。",
    "msg.unknown": "不在此模型词表中的字符（模型将其读作 <unk>；标签保留原字符）：",
    "msg.load_error": "无法加载模型：{error}",
    "msg.error": "{what}时出错。详细信息见服务器日志。",
    "msg.no_models": "assets/ 中没有找到模型文件。请用 python -m model.train NAME 重新生成。",
    "msg.url_note": "链接中有 {note} 个参数无法使用，已改用默认值：",
    "msg.no_bias": "此模型没有位置偏置：此阶段与缩放后的分数相同。",
    "output.encoder-decoder": "生成的输出（贪心）",
    "output.encoder-decoder.given": "目标（教师强制）",
    "output.decoder-only": "续写（贪心）",
    "output.encoder-only": "用最高预测填充每个 [MASK] 后的文本",
    "output.none": "（模型没有生成文本）",
    "model.summary": "{name}：{architecture}，{n_layers} 层 × {n_heads} 个头，d_model {d_model}。词元标签：␣ 为空格，↵ 为换行。",
    "overview.title": "所有层 × 头",
    "detail.title": "单个头",
    "download.trace": "下载追踪数据（.npz：此输入的全部记录）",
    "download.figure": "下载此图（独立 HTML）",
}

TEXTS = {"en": EN, "zh": ZH}


def register(lang: str, entries: dict) -> None:
    """Pages add their own strings next to their code (same keys in both languages)."""
    TEXTS[lang].update(entries)


def translator(lang: str) -> Callable[..., str]:
    """t(key, **values): the text in `lang`, English where a translation is missing."""
    table = TEXTS.get(lang, EN)

    def t(key: str, **values) -> str:
        text = table.get(key) or EN.get(key) or key
        return text.format(**values) if values else text

    return t
