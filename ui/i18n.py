"""Interface text in English and Chinese. The Chinese follows the source text's terms
(自注意力, 多头注意力, 掩码, 编码器-解码器注意力, 教师强制)."""
from __future__ import annotations

from typing import Callable

EN = {
    "app.title": "Attention Explorer",
    "app.caption": "Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: every layer and head of a small Transformer, for the text you type.",
    # Page titles in the page list: one `page.<id>` per entry of ui/registry.py, in both tables.
    "page.explore": "Explore",
    "page.anatomy": "Head anatomy",
    "page.block": "Encoder block",
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
    "kind.decoder.mask": ("The mask acts on the scores, before the softmax: a future position's score (key j after "
                          "query i) becomes −∞, so its weight α is 0. The value vectors V are untouched. (The source "
                          "text says V is set to −∞; it is the scores that are.)"),
    "kind.cross.help": "decoder queries, encoder keys and values",
    "stage.scores": "raw scores q·k",
    "stage.scaled": "scaled (× scale)",
    "stage.biased": "+ position bias",
    "stage.mask": "mask",
    "stage.masked": "masked logits",
    "stage.weights": "softmax weights α",
    "stage.context": "context z = αV",
    "msg.empty": "Please type some text above to see its attention.",
    "msg.truncated": "The input was too long for this model ({max_len} tokens): {n} tokens were cut from the end.",
    "msg.load_error": "The model could not be loaded: {error}",
    "msg.error": "Something went wrong while {what}. The details are in the server log.",
    "msg.no_models": "No model files were found in assets/. Rebuild them with: python -m model.training NAME",
    "msg.url_note": "The link had {note} value(s) that could not be used; they fell back to defaults:",
    "msg.no_bias": "This model adds no position bias: this stage equals the scaled scores.",
    "output.encoder-decoder": "Generated output (greedy)",
    "output.encoder-decoder.given": "Target (teacher forcing)",
    "output.decoder-only": "Continuation (greedy)",
    "output.encoder-only": "Text with each [MASK] filled by the top prediction",
    "output.none": "(the model produced no text)",
    "model.summary": "{name}: {architecture}, {n_layers} layers × {n_heads} heads, d_model {d_model}.",
    "msg.snapshot.short": "training: {snapshot}",
    "arch.encoder-only": "encoder-only",
    "arch.decoder-only": "decoder-only",
    "arch.encoder-decoder": "encoder–decoder",
    "msg.snapshot": ("Training progress: {snapshot}. These are the weights saved at that point of training, so "
                     "the output is expected to be wrong; the attention shows what the model had learnt by then."),
    "model.whitespace": "Token labels: ␣ is a space, ↵ a newline.",
    "output.top5": "The five best guesses at each [MASK]",
    "output.top5.mask": "[MASK] in the text",
    "output.top5.position": "position",
    "overview.title": "All layers × heads",
    "detail.title": "One head",
    "download.trace": "Download the trace (.npz: every record of this input)",
    "download.figure": "Figure as HTML",
    "download.figure.help": "A standalone page with plotly.js inside: opens offline, with hover and zoom.",
    "download.png": "Figure as PNG",
    "control.model_path.title": "Load another model",
    "control.model_path": "Hugging Face model: a local folder or a name in the local cache",
    "control.model_path.placeholder": "/path/to/model or bert-base-uncased",
    "control.model_path.load": "Load",
    "control.model_path.download": "Allow a download from the Hugging Face Hub",
    "control.model_path.download.help": "Off: only folders and names already in the local cache load; nothing reaches the network. On: a name not in the cache is downloaded first (safetensors weights only; no remote code ever runs).",
    "output.no_head": "This model has no head that predicts tokens (a sentence encoder, say): it produces no text, and its attention is all there is to see.",
    "control.hide_special": "Hide special tokens",
    "control.hide_special.help": "Drop <bos>, <eos>, padding, [CLS], [SEP], <s>, </s> from rows and columns, and renormalise each row over the keys that remain. They often soak up most of the attention and hide the pattern among the text's own tokens.",
    "msg.special_hidden": "Special tokens hidden: each row is renormalised over the remaining keys (α'_ij = α_ij / Σ_kept α_ij). This is a reading aid: the model itself attended to them.",
    "download.png.help": "Rendered on the server by plotly's own export (a few seconds). The camera in the chart's toolbar saves a PNG too.",
}

ZH = {
    "app.title": "注意力探索器",
    "app.caption": "Attention(Q, K, V) = softmax(QKᵀ / √d_k) V：针对你输入的文本，展示一个小型 Transformer 每一层、每个头的注意力。",
    "page.explore": "探索",
    "page.anatomy": "注意力头剖析",
    "page.block": "编码器块",
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
    "kind.decoder.mask": ("掩码作用在分数上、softmax 之前：未来位置（键 j 在查询 i 之后）的分数变为 −∞，因此其权重 α 为 0。"
                          "值向量 V 不受影响。（原文说把 V 设为 −∞；实际上被设为 −∞ 的是分数。）"),
    "kind.cross.help": "查询来自解码器，键和值来自编码器",
    "stage.scores": "原始分数 q·k",
    "stage.scaled": "缩放后（× 缩放因子）",
    "stage.biased": "+ 位置偏置",
    "stage.mask": "掩码",
    "stage.masked": "掩码后的 logits",
    "stage.weights": "softmax 权重 α",
    "stage.context": "上下文 z = αV",
    "msg.empty": "请在上方输入文本以查看其注意力。",
    "msg.truncated": "输入超出此模型的长度上限（{max_len} 个词元）：末尾有 {n} 个词元被截去。",
    "msg.load_error": "无法加载模型：{error}",
    "msg.error": "{what}时出错。详细信息见服务器日志。",
    "msg.no_models": "assets/ 中没有找到模型文件。请用 python -m model.training NAME 重新生成。",
    "msg.url_note": "链接中有 {note} 个参数无法使用，已改用默认值：",
    "msg.no_bias": "此模型没有位置偏置：此阶段与缩放后的分数相同。",
    "output.encoder-decoder": "生成的输出（贪心）",
    "output.encoder-decoder.given": "目标（教师强制）",
    "output.decoder-only": "续写（贪心）",
    "output.encoder-only": "用最高预测填充每个 [MASK] 后的文本",
    "output.none": "（模型没有生成文本）",
    "model.summary": "{name}：{architecture}，{n_layers} 层 × {n_heads} 个头，d_model {d_model}。",
    "msg.snapshot.short": "训练进度：{snapshot}",
    "arch.encoder-only": "仅编码器",
    "arch.decoder-only": "仅解码器",
    "arch.encoder-decoder": "编码器-解码器",
    "msg.snapshot": "训练进度：{snapshot}。这是训练到这一步时保存的权重，输出本来就会出错；注意力显示的是模型此时已学到的东西。",
    "model.whitespace": "词元标签：␣ 为空格，↵ 为换行。",
    "output.top5": "每个 [MASK] 处最可能的五个猜测",
    "output.top5.mask": "文本中的 [MASK]",
    "output.top5.position": "位置",
    "overview.title": "所有层 × 头",
    "detail.title": "单个头",
    "download.trace": "下载追踪数据（.npz：此输入的全部记录）",
    "download.figure": "下载图（HTML）",
    "download.figure.help": "内含 plotly.js 的独立网页：可离线打开，支持悬停和缩放。",
    "download.png": "下载图（PNG）",
    "control.model_path.title": "加载其他模型",
    "control.model_path": "Hugging Face 模型：本地文件夹或本地缓存中的名称",
    "control.model_path.placeholder": "/path/to/model 或 bert-base-uncased",
    "control.model_path.load": "加载",
    "control.model_path.download": "允许从 Hugging Face Hub 下载",
    "control.model_path.download.help": "关闭：只加载本地文件夹和本地缓存中已有的名称，不访问网络。开启：缓存中没有的名称会先下载（只接受 safetensors 权重，绝不运行远程代码）。",
    "output.no_head": "此模型没有预测词元的输出头（例如句子编码器）：它不生成文本，可看的就是它的注意力。",
    "control.hide_special": "隐藏特殊词元",
    "control.hide_special.help": "从行和列中去掉 <bos>、<eos>、填充、[CLS]、[SEP]、<s>、</s>，并在剩余的键上对每一行重新归一化。它们常常吸走大部分注意力，遮住文本自身词元之间的模式。",
    "msg.special_hidden": "已隐藏特殊词元：每一行在剩余的键上重新归一化（α'_ij = α_ij / Σ_保留 α_ij）。这只是阅读辅助：模型本身确实关注了它们。",
    "download.png.help": "由服务器用 plotly 自带的导出功能生成（需几秒）。图表工具栏中的相机按钮也可保存 PNG。",
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


# The figures' words (viz/text.py, keys "fig.*") join this table: one table for the app (and for
# anything that reads it), and a page hands ctx.t to the viz functions' `t`.
from viz.text import EN as _FIGURE_EN, ZH as _FIGURE_ZH  # noqa: E402  (viz.text imports nothing)

EN.update(_FIGURE_EN)
ZH.update(_FIGURE_ZH)
