"""Each model's first view: a text it was trained for, and the head where its success shows.

A visitor's first sight of a model should be the model doing its job, not failing at text it
never saw: toy-gpt completing a repeated span by induction, toy-bert filling masks right,
toy-seq2seq reversing a string, MiniLM's previous-token head. The app opens a model on its
first view when a link does not say otherwise (app.start_session) and when the user picks
another model (app._model_changed, through on_model_change below).

The layer, head and cell of each view were chosen by measurement, with the functions below, on
the view's own text; tests/unit/test_first_views.py measures again and checks that the stored
choice is still the best one (retrained weights may move the induction head).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .context import forget_widget, set_view, view
from .i18n import register

FALLBACK_TEXT = "hello world"      # a model without a first view (a folder the user loaded)
# The view fields a first view sets; the text box's own field first.
FIELDS = ("text", "kind", "layer", "head", "query", "key")
# query and key index the first view's own tokens: they mean nothing for another text.
CELL_FIELDS = ("query", "key")


@dataclass(frozen=True)
class FirstView:
    text: str
    kind: str         # the attention kind shown (Explore, Head anatomy)
    layer: int
    head: int
    query: int        # Head anatomy's cell: the row (query token) ...
    key: int          # ... and the column (key token) that show the pattern
    score: float      # the chosen head's measured score (the measure of `pattern`)
    pattern: str      # which measure chose the head: a function named in MEASURES


FIRST_VIEWS = {
    # Measured with the functions below on each text (tests/unit/test_first_views.py). Each cell
    # is the pair of its pattern (PAIRS) with the largest weight in the chosen head, except
    # toy-gpt's, the last typed character (its prediction starts the continuation), and
    # MiniLM's, the sentence's "it" (every pair there has a weight of about 1).
    # toy-gpt: the span "qkvSoftmax42" typed twice, then its start: the continuation repeats it.
    # Cell: the last "v" and the "S" after the earlier "v", which it copies next.
    "toy-gpt": FirstView("qkvSoftmax42qkvSoftmax42qkv", "decoder", 1, 3, 27, 16, 0.866, "induction"),
    # toy-bert: three masked characters in a sentence like its training text (Python's docs).
    # Cell: the [MASK] of "retu[MASK]ns" and the "n" after it.
    "toy-bert": FirstView("This m[MASK]thod retu[MASK]ns the val[MASK]e of the attribute.", "encoder", 1, 2,
                          16, 17, 0.684, "mask_neighbours"),
    # toy-seq2seq: reverse's cross-attention is the anti-diagonal, the most telling of its tasks.
    # Cell: the row of "o" (the step that writes "w") and the source's "w".
    "toy-seq2seq": FirstView("reverse: hello world", "cross", 2, 1, 4, 15, 1.0, "reverse_alignment"),
    # MiniLM (a sentence encoder, no token predictions): a previous-token head. Cell: "it" -> "because".
    "minilm": FirstView("The animal didn't cross the street because it was too tired.", "encoder", 0, 2, 10, 9,
                        1.0, "previous_token"),
}
FIRST_TEXTS = {name: first.text for name, first in FIRST_VIEWS.items()}


def text_of(name: str) -> str:
    """The model's first-view text (FALLBACK_TEXT for a model without one)."""
    return FIRST_TEXTS.get(name, FALLBACK_TEXT)


def is_example(text) -> bool:
    """Text the app put in the box itself (no text, a first view, the fallback): replaced when
    the model changes. Anything else the user typed, and it stays."""
    return text in (None, "", FALLBACK_TEXT, *FIRST_TEXTS.values())


# ---- applying a first view ---------------------------------------------------------------------

def unlinked_values(name: str, linked: Iterable[str]) -> dict:
    """The first view's values for the fields a link does not set: a link's explicit values win.
    The cell (query, key) only comes with the first view's own text."""
    first = FIRST_VIEWS.get(name)
    linked = set(linked)
    if first is None:
        return {} if "text" in linked else {"text": FALLBACK_TEXT}
    fields = [f for f in FIELDS if f not in CELL_FIELDS or "text" not in linked]
    return {f: getattr(first, f) for f in fields if f not in linked}


def on_model_change(name: str) -> None:
    """The user picked `name`: its first view, keeping text the user typed (and the cell with
    it). The kind, layer and head always follow: another model's head means nothing here."""
    first = FIRST_VIEWS.get(name)
    keep_text = not is_example(view().text)
    if first is None:
        values = {} if keep_text else {"text": FALLBACK_TEXT}
    else:
        values = {f: getattr(first, f) for f in FIELDS
                  if not (keep_text and (f == "text" or f in CELL_FIELDS))}
    set_view(**values)
    for field in values:
        forget_widget(field)


def shows_first_view(name: str, state) -> bool:
    """Is the view the model's first view (its text, kind, layer and head)?"""
    first = FIRST_VIEWS.get(name)
    return first is not None and all(getattr(state, f) == getattr(first, f) for f in ("text", "kind", "layer", "head"))


# ---- the measures that chose each head ---------------------------------------------------------
# Each returns [layer, head] scores over the trace's records of one kind; the first view's head
# is the argmax. numpy only, over the records: the same numbers the pages draw.

def _by_head(trace, kind: str, score) -> np.ndarray:
    return np.array([score(record.weights) for record in trace.records_of(kind)])


def period_of(text: str) -> int:
    """The shortest p with text[i] == text[i - p] for every i >= p (len(text): no repeat)."""
    return next(p for p in range(1, len(text) + 1) if text[p:] == text[:len(text) - p])


def induction_positions(trace) -> tuple[np.ndarray, np.ndarray]:
    """(queries, keys) in the decoder's positions: each character of the typed text's repeats,
    and the character just after its earlier occurrence (the one an induction head copies)."""
    text = trace.text
    p = period_of(text)
    offset = list(trace.decoder_special).index(False)     # after <bos>
    repeated = np.arange(p, len(text))
    return repeated + offset, repeated - p + 1 + offset


def induction(trace) -> np.ndarray:
    """Mean weight from a repeated character to the one after its earlier occurrence."""
    queries, keys = induction_positions(trace)
    return _by_head(trace, "decoder", lambda w: w[:, queries, keys].mean(-1))


def mask_positions(trace) -> np.ndarray:
    return np.array([i for i, token in enumerate(trace.encoder_tokens) if token == "[MASK]"])


def mask_neighbours(trace) -> np.ndarray:
    """Mean weight from each [MASK] to the two tokens either side of it."""
    masks = mask_positions(trace)
    return _by_head(trace, "encoder", lambda w: (w[:, masks, masks - 1] + w[:, masks, masks + 1]).mean(-1))


def reverse_positions(trace) -> tuple[np.ndarray, np.ndarray]:
    """(rows, keys) of reverse's cross-attention: the decoder row that writes output character i
    (row i: row 0 is <bos>) and the source position of the character it writes, the mirror of i."""
    prefix, _, s = trace.text.partition(": ")
    n = len(s)
    rows = np.arange(n)
    return rows, len(prefix) + 2 + n - 1 - rows


def reverse_alignment(trace) -> np.ndarray:
    """Share of the output characters whose cross-attention row has its largest weight on the
    mirrored source character (as model/training/evaluate.reverse_alignment, on this text)."""
    rows, keys = reverse_positions(trace)
    return _by_head(trace, "cross", lambda w: (w[:, rows, :].argmax(-1) == keys).mean(-1))


def previous_token_positions(trace) -> tuple[np.ndarray, np.ndarray]:
    """(queries, keys): every ordinary token whose previous token is ordinary too."""
    special = list(trace.encoder_special)
    queries = np.array([i for i in range(1, len(special)) if not special[i] and not special[i - 1]])
    return queries, queries - 1


def previous_token(trace) -> np.ndarray:
    """Mean weight from each token to the one just before it."""
    queries, keys = previous_token_positions(trace)
    return _by_head(trace, "encoder", lambda w: w[:, queries, keys].mean(-1))


def mask_neighbour_positions(trace) -> tuple[np.ndarray, np.ndarray]:
    """(queries, keys): each [MASK] with the token before it, and with the token after it."""
    masks = mask_positions(trace)
    return np.concatenate([masks, masks]), np.concatenate([masks - 1, masks + 1])


# Each measure, and the (query, key) pairs whose weights it reads: a first view's cell is one.
PAIRS = {"induction": induction_positions, "mask_neighbours": mask_neighbour_positions,
         "reverse_alignment": reverse_positions, "previous_token": previous_token_positions}
MEASURES = {"induction": induction, "mask_neighbours": mask_neighbours, "reverse_alignment": reverse_alignment,
            "previous_token": previous_token}


def best_head(scores: np.ndarray) -> tuple[int, int, float]:
    """(layer, head, score) of the highest score."""
    layer, head = np.unravel_index(int(np.argmax(scores)), scores.shape)
    return int(layer), int(head), float(scores[layer, head])


# ---- what each first view shows, said under the text box ---------------------------------------

register("en", {
    "first_view.toy-gpt": ("This example: the span “qkvSoftmax42” typed twice, then its start; toy-gpt completes "
                           "it by copying what followed the earlier occurrence (induction). Shown: layer {layer}, "
                           "head {head}, its induction head: from each repeated character, {score:.0%} of the "
                           "attention on average goes to the character after its earlier occurrence."),
    "first_view.toy-bert": ("This example: three characters masked in a sentence like toy-bert's training text "
                            "(Python's documentation); it fills each one right (the five best guesses per [MASK] "
                            "are under the output). Shown: layer {layer}, head {head}: each [MASK] puts {score:.0%} "
                            "of its attention on the characters either side of it, on average."),
    "first_view.toy-seq2seq": ("This example: the “reverse:” task, the source written backwards. Shown: the encoder–decoder attention of layer "
                               "{layer}, head {head}: for {score:.0%} of the output characters, its row's largest "
                               "weight is on the mirrored source character, the anti-diagonal. Row i is the step "
                               "that writes output character i + 1."),
    "first_view.minilm": ("This example: layer {layer}, head {head} is a previous-token head: each word piece "
                          "puts {score:.0%} of its attention on the one just before it, on average."),
})
register("zh", {
    "first_view.toy-gpt": ("此示例：片段“qkvSoftmax42”输入两遍，再输入它的开头；toy-gpt 照抄前一次出现之后的内容把它补全"
                           "（归纳）。显示：第 {layer} 层第 {head} 个头，即它的归纳头：每个重复字符平均把 {score:.0%} 的注意力"
                           "放在它前一次出现之后的那个字符上。"),
    "first_view.toy-bert": ("此示例：在一句与 toy-bert 训练文本（Python 文档）相似的句子中掩码三个字符；它把每个都填对了"
                            "（每个 [MASK] 的前五个猜测列在输出下方）。显示：第 {layer} 层第 {head} 个头：每个 [MASK] "
                            "平均把 {score:.0%} 的注意力放在它两侧的字符上。"),
    "first_view.toy-seq2seq": ("此示例：“reverse:” 任务，把源文本倒过来写。显示：第 {layer} 层第 {head} 个头的编码器-解码器注意力：对 "
                               "{score:.0%} 的输出字符，其所在行的最大权重落在镜像位置的源字符上，即反对角线。第 i 行"
                               "是写出第 i + 1 个输出字符的那一步。"),
    "first_view.minilm": ("此示例：第 {layer} 层第 {head} 个头是“前一个词元”头：每个词片平均把 {score:.0%} 的注意力"
                          "放在紧挨在它前面的词片上。"),
})


def shows(name: str, t) -> str:
    """What the model's first view shows, in one paragraph (empty for a model without one)."""
    first = FIRST_VIEWS.get(name)
    if first is None:
        return ""
    return t(f"first_view.{name}", layer=first.layer, head=first.head, score=first.score)
