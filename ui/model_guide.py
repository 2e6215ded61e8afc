"""What the chosen model can read, said at the text box, and warnings before its output for
input it was not trained on.

A model given text outside its training answers anyway, wrongly and without a word: toy-seq2seq
garbles capitals, loses a letter past 24 characters, and means nothing without a task prefix;
toy-gpt produces nothing once the text fills its context. So the text box says what the model
reads (with examples one click away), and the output comes after a warning naming what in the
text the model never saw.

The facts come from where they are decided: the built-in models' training alphabets, tasks and
lengths from model/training/tasks.py (TRAINING_TEXT), their context from the loaded model's
config (max_len), the vocabularies from the tokenizers. Nothing is restated here.
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import streamlit as st

from model.catalog import BUILTIN_NAMES, weights_version
from model.tokenizer import MASK, CharTokenizer
from model.training.tasks import TRAINING_TEXT, TrainingText, task_prefix

from . import first_views
from .context import forget_widget, set_view, view
from .i18n import register

# More examples than the first view: each is text the model does right (tests/unit/test_model_guide.py).
MORE_EXAMPLES = {
    # one per task: the first view is reverse:
    "toy-seq2seq": ("copy: attention 2017", "sort: query key value", "swap: attention is all"),
    # a repeated span inside prose, as in training; then plain text of its corpus
    "toy-gpt": ("the span xK7pQ2mZ9w is repeated: xK7pQ2", "Changed in version 3."),
    "toy-bert": ("imp[MASK]rt the m[MASK]dule and call its func[MASK]ion",),
    "minilm": ("The cat sat on the mat.",),
}


@dataclass(frozen=True)
class Reading:
    """What one model reads."""

    name: str
    context: int                       # tokens per input at most (its config's max_len)
    room: int                          # of those, what the text may fill (the rest: <bos>, <eos>, [CLS]...)
    vocabulary_size: int
    training: Optional[TrainingText]   # the built-in models: what they were trained on; else None
    decoder_only: bool                 # continues the text inside the same context
    examples: tuple


def reading_of(network) -> Reading:
    """The Reading of a loaded model (a model.Runner)."""
    backend = network.backend
    read = backend.source if network.arch.has_encoder else backend.prompt
    added = sum(read("a")[0].special)          # the special tokens the model adds to any text
    examples = (first_views.FIRST_TEXTS[network.name],) if network.name in first_views.FIRST_TEXTS else ()
    return Reading(name=network.name, context=network.max_len, room=network.max_len - added,
                   vocabulary_size=len(network.tokenizer),
                   training=TRAINING_TEXT.get(network.name) if network.name in BUILTIN_NAMES else None,
                   decoder_only=network.arch.has_decoder and not network.arch.has_encoder,
                   examples=examples + MORE_EXAMPLES.get(network.name, ()))


# ---- characters ----------------------------------------------------------------------------------

def unique_in_order(chars) -> list[str]:
    """Each character once, in the order typed (never sorted: the user looks for them in the text)."""
    return list(dict.fromkeys(chars))


def markdown_escaped(text: str) -> str:
    """Text for Markdown with every ASCII punctuation mark backslash-escaped: shown as typed."""
    return "".join("\\" + c if c in string.punctuation else c for c in text)


def shown_characters(chars: Sequence[str]) -> str:
    """Characters for a Markdown message (st.warning): invisible ones as escapes (\\t, \\u200b),
    every ASCII punctuation mark backslash-escaped, so that no character the user typed becomes
    Markdown, LaTeX or a link. Comma-separated: no two characters ever make a construct."""
    def visible(c: str) -> str:
        if c.isprintable() and not c.isspace() or c == " ":
            return "␣" if c == " " else c
        return c.encode("unicode_escape").decode("ascii")
    return ", ".join(markdown_escaped(visible(c)) for c in chars)


def describe_alphabet(alphabet: str, t) -> str:
    """An alphabet in words: "lowercase letters a–z, digits 0–9 and space"."""
    chars = set(alphabet)
    parts = []
    groups = (("ascii", string.ascii_letters + string.digits + string.punctuation + " "),
              ("lower", string.ascii_lowercase), ("upper", string.ascii_uppercase), ("digits", string.digits),
              ("punctuation", string.punctuation), ("space", " "), ("newline", "\n"))
    for key, group in groups:
        if set(group) <= chars:
            parts.append(t(f"guide.alphabet.{key}"))
            chars -= set(group)
    if chars:
        parts.append(t("guide.alphabet.other", chars=shown_characters(sorted(chars))))
    return t("guide.alphabet.join", first=t("guide.alphabet.sep").join(parts[:-1]), last=parts[-1]) if len(parts) > 1 else parts[0]


def task_of(text: str, training: TrainingText) -> Optional[str]:
    """The task prefix the text starts with, if any."""
    return next((task for task in training.tasks if text.startswith(task_prefix(task))), None)


def trained_part(text: str, training: TrainingText) -> str:
    """The part of the text its training alphabet and length apply to: after the task prefix,
    without the [MASK] tokens (a token of its own, not five characters)."""
    task = task_of(text, training)
    if task is not None:
        text = text[len(task_prefix(task)):]
    return text.replace(MASK, "")


def unknown_characters(trace) -> list[str]:
    """The model's input tokens it read as unknown, by the text they stood for, in typed order."""
    tokens = trace.encoder_tokens if trace.arch.has_encoder else trace.decoder_tokens
    flags = trace.encoder_unknown if trace.arch.has_encoder else trace.decoder_unknown
    return unique_in_order(token for token, unknown in zip(tokens, flags) if unknown)


def untrained_characters(text: str, training: TrainingText, unknown: Sequence[str] = ()) -> list[str]:
    """Characters in the vocabulary but never in training (toy-seq2seq's capitals, punctuation)."""
    return unique_in_order(c for c in trained_part(text, training) if c not in training.alphabet and c not in unknown)


# ---- warnings before the output ------------------------------------------------------------------

def input_warnings(reading: Reading, trace, t, new_tokens: int = 0) -> list[str]:
    """What in this input the model was not trained on, and why it produced nothing, if it did not:
    one translated message each, for st.warning (characters escaped for Markdown)."""
    text, name, training = trace.text, reading.name, reading.training
    messages = []
    if training is not None and training.tasks and task_of(text, training) is None:
        messages.append(t("guide.warn.no_task", name=name, tasks=prefixes(training), example=reading.examples[0]))
    unknown = unknown_characters(trace)
    if unknown:
        messages.append(t("guide.warn.unknown", name=name, chars=shown_characters(unknown)))
    if training is not None:
        untrained = untrained_characters(text, training, unknown)
        if untrained:
            messages.append(t("guide.warn.untrained", name=name, alphabet=describe_alphabet(training.alphabet, t),
                              chars=shown_characters(untrained)))
        length = len(trained_part(text, training))
        if training.max_chars < length <= reading.room:
            key = "guide.warn.long_task" if training.tasks else "guide.warn.long"
            messages.append(t(key, name=name, max_chars=training.max_chars, n=length))
    if trace.truncated:
        messages.append(t("msg.truncated", max_len=reading.context, n=trace.truncated))
    if reading.decoder_only and new_tokens:
        # the prompt's tokens: up to the first generated one, or all of them if none was
        prompt = len(trace.decoder_tokens) if trace.generated_from is None else trace.generated_from
        left = reading.context - prompt
        if left <= 0:
            messages.append(t("guide.warn.no_room", name=name, room=reading.room))
        elif left < new_tokens:
            messages.append(t("guide.warn.little_room", name=name, left=left, room=reading.room))
    return messages


def prefixes(training: TrainingText) -> str:
    """The task prefixes, quoted: “copy:”, “reverse:”, ..."""
    return ", ".join(f"“{task_prefix(task).strip()}”" for task in training.tasks)


# ---- Chinese -------------------------------------------------------------------------------------

def is_chinese(c: str) -> bool:
    """A CJK unified ideograph (the basic block and its extensions A and B, and the compatibility block)."""
    code = ord(c)
    return (0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF
            or 0x20000 <= code <= 0x2A6DF)


def chinese_in_vocabulary(tokenizer) -> int:
    """How many single Chinese characters a tokenizer's vocabulary holds (each reads as itself)."""
    vocabulary = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else tokenizer.vocab
    return sum(1 for token in vocabulary if len(token) == 1 and is_chinese(token))


def chinese_counts(models: Sequence[str], tokenizer_of: Callable[[str], object]) -> dict[str, int]:
    """Chinese characters in each model's vocabulary. The built-in models share one character
    tokenizer, asked without loading them; tokenizer_of(name) loads any other."""
    return {name: chinese_in_vocabulary(CharTokenizer() if name in BUILTIN_NAMES else tokenizer_of(name))
            for name in models}


# ---- the guide at the text box -------------------------------------------------------------------

def reads_line(reading: Reading, t) -> str:
    """What the model reads, in one paragraph."""
    training = reading.training
    if training is None:
        return t("guide.reads.other", name=reading.name, vocab=reading.vocabulary_size, room=reading.room)
    trained = t(f"guide.trained.{reading.name}", name=reading.name, max_chars=training.max_chars,
                tasks=prefixes(training))
    key = "guide.reads.continues" if reading.decoder_only else "guide.reads.chars"
    reads = t(key, alphabet=describe_alphabet(training.alphabet, t), room=reading.room, context=reading.context)
    return t("guide.sentences", first=trained, second=reads)


def use_example(name: str, picked: str) -> None:
    """Button callback: the picked example becomes the text (the model's first view, if it is that)."""
    set_view(text=picked, target="")    # a target typed for the old text would not fit the new one
    for field in ("text", "target"):
        forget_widget(field)
    if picked == first_views.text_of(name):
        first_views.on_model_change(name)     # the whole first view: its head and cell too


def switch_model(name: str) -> None:
    """Button callback: another model, as if picked in the sidebar (typed text stays)."""
    set_view(model=name)
    st.session_state["w.model"] = name
    first_views.on_model_change(name)


def examples_control(reading: Reading, t) -> None:
    """The examples as buttons in a row: one click puts one in the text box; the one shown is lit.

    Buttons, not pills whose selection follows the text: a selection the script sets on every run
    raced the browser (a text typed while a run was under way came back as a "change" of the
    pills, whose callback put the example back over it: tests/browser/test_browser_hostile.py)."""
    if not reading.examples:
        return
    st.caption(t("guide.examples"))
    # keyed: the audit of a Chinese page (tests/browser/audit.py) knows these are token text
    row = st.container(horizontal=True, key="guide-examples")
    for i, example in enumerate(reading.examples):
        row.button(markdown_escaped(example), key=f"guide.example.{reading.name}.{i}", on_click=use_example,
                   args=(reading.name, example), type="primary" if example == view().text else "secondary")


def chinese_line(name: str, models: Sequence[str], tokenizer_of: Callable[[str], object], t) -> None:
    """Which models read Chinese characters, and a switch to the one that reads most."""
    counts = chinese_counts(models, tokenizer_of)
    listed = t("guide.alphabet.sep").join(f"{model_name} {count}" for model_name, count in counts.items())
    st.caption(t("guide.chinese", counts=listed))
    best = max(counts, key=counts.get)
    if counts[best] > counts.get(name, 0):
        st.button(t("guide.chinese.switch", name=best), key="guide.switch", on_click=switch_model, args=(best,))


def wants_chinese(text: Optional[str]) -> bool:
    """Is Chinese on the user's mind: the interface in Chinese, or Chinese characters typed?"""
    return view().lang == "zh" or any(is_chinese(c) for c in (text or ""))


def show(network, models: Sequence[str], t) -> None:
    """Under the text box: what the model reads, its examples, what its first view shows, and
    (when Chinese is asked for) which models read Chinese."""
    reading = reading_of(network)
    st.caption(reads_line(reading, t))
    examples_control(reading, t)
    if first_views.shows_first_view(reading.name, view()):
        st.caption(first_views.shows(reading.name, t))
    if wants_chinese(view().text):
        # Loads the other models only now: most sessions never ask.
        from .runs import load_model
        chinese_line(reading.name, models,
                     lambda other: load_model(other, "final", weights_version(other)).tokenizer, t)


def show_warnings(network, trace, t, new_tokens: int = 0) -> None:
    """Before the output: one st.warning per thing in the input the model was not trained on."""
    for message in input_warnings(reading_of(network), trace, t, new_tokens):
        st.warning(message)


# ---- text ----------------------------------------------------------------------------------------

register("en", {
    "guide.lecture": "What this model reads, and examples",
    "guide.examples": "Examples (one click puts one in the text box)",
    "guide.sentences": "{first} {second}",
    "guide.trained.toy-seq2seq": ("{name} was trained on four tasks, each written as its prefix and up to "
                                  "{max_chars} characters: {tasks}."),
    "guide.trained.toy-gpt": ("{name} was trained on {max_chars}-character windows of Python's documentation, "
                              "many with a random span repeated in them (only copying the span predicts it)."),
    "guide.trained.toy-bert": ("{name} was trained to fill in masked characters in {max_chars}-character windows "
                               "of Python's documentation: type [MASK] where it should guess a character."),
    "guide.reads.chars": "Its training text holds only {alphabet}; it reads at most {room} characters.",
    "guide.reads.continues": ("Its training text holds only {alphabet}; text and continuation share its {room} "
                              "characters, so a long text leaves little room to continue."),
    "guide.reads.other": ("{name} was not trained here: it reads the tokens of its own vocabulary ({vocab} "
                          "entries), at most {room} of them."),
    "guide.alphabet.ascii": "printable ASCII (English letters, digits, punctuation, space)",
    "guide.alphabet.lower": "lowercase letters a–z",
    "guide.alphabet.upper": "capitals A–Z",
    "guide.alphabet.digits": "digits 0–9",
    "guide.alphabet.punctuation": "ASCII punctuation",
    "guide.alphabet.space": "space",
    "guide.alphabet.newline": "newline",
    "guide.alphabet.other": "the characters {chars}",
    "guide.alphabet.sep": ", ",
    "guide.alphabet.join": "{first} and {last}",
    "guide.chinese": ("Chinese characters in each model's vocabulary: {counts} (everyday Chinese uses about "
                      "3,500). Any other Chinese character is read as unknown (<unk>, [UNK]): the model sees the "
                      "same token for all of them."),
    "guide.chinese.switch": "Switch to {name}",
    "guide.warn.no_task": ("{name} expects a task first: {tasks}, then a space and the text (for example "
                           "“{example}”). Without one, its output means nothing."),
    "guide.warn.unknown": ("Not in {name}'s vocabulary, so it reads each of these as the same unknown token: "
                           "{chars}"),
    "guide.warn.untrained": "{name} was trained on {alphabet} only; it never saw these characters: {chars}",
    "guide.warn.long_task": ("{name} was trained on at most {max_chars} characters after the task prefix; this "
                             "text has {n}. Expect mistakes."),
    "guide.warn.long": "{name} was trained on at most {max_chars} characters; this text has {n}. Expect mistakes.",
    "guide.warn.no_room": ("The text fills {name}'s context ({room} characters), so there is no room to continue "
                           "it: nothing is generated. Shorten the text to see a continuation."),
    "guide.warn.little_room": ("Only {left} more characters fit in {name}'s context ({room} characters): the "
                               "continuation stops there."),
})
register("zh", {
    "guide.lecture": "这个模型能读什么，以及示例",
    "guide.examples": "示例（点一下即填入文本框）",
    "guide.sentences": "{first}{second}",
    "guide.trained.toy-seq2seq": "{name} 用四个任务训练，每个样本写作任务前缀加至多 {max_chars} 个字符：{tasks}。",
    "guide.trained.toy-gpt": ("{name} 用 Python 文档中 {max_chars} 个字符长的片段训练，其中很多片段里有一段随机字符串重复出现"
                              "（只有照抄这段字符串才能预测它）。"),
    "guide.trained.toy-bert": ("{name} 被训练来填补 Python 文档中 {max_chars} 个字符长的片段里被掩码的字符：在需要它猜"
                               "字符的地方输入 [MASK]。"),
    "guide.reads.chars": "它的训练文本只含{alphabet}；最多读取 {room} 个字符。",
    "guide.reads.continues": "它的训练文本只含{alphabet}；文本和续写共用它的 {room} 个字符，文本越长，续写的空间越小。",
    "guide.reads.other": "{name} 不是在这里训练的：它读取自己词表中的词元（{vocab} 个），最多 {room} 个。",
    "guide.alphabet.ascii": "可打印 ASCII 字符（英文字母、数字、标点、空格）",
    "guide.alphabet.lower": "小写字母 a–z",
    "guide.alphabet.upper": "大写字母 A–Z",
    "guide.alphabet.digits": "数字 0–9",
    "guide.alphabet.punctuation": "ASCII 标点",
    "guide.alphabet.space": "空格",
    "guide.alphabet.newline": "换行",
    "guide.alphabet.other": "字符 {chars}",
    "guide.alphabet.sep": "、",
    "guide.alphabet.join": "{first}和{last}",
    "guide.chinese": ("各模型词表中的汉字数：{counts}（常用汉字约 3500 个）。其他汉字一律读作未知词元（<unk>、[UNK]）："
                      "模型看到的是同一个词元。"),
    "guide.chinese.switch": "切换到 {name}",
    "guide.warn.no_task": ("{name} 需要先写任务：{tasks}，再加一个空格和文本（例如“{example}”）。没有任务前缀时，"
                           "它的输出没有意义。"),
    "guide.warn.unknown": "这些字符不在 {name} 的词表中，它把每一个都读作同一个未知词元：{chars}",
    "guide.warn.untrained": "{name} 只用{alphabet}训练过，从未见过这些字符：{chars}",
    "guide.warn.long_task": "{name} 训练时任务前缀之后至多 {max_chars} 个字符；这段文本有 {n} 个。输出很可能出错。",
    "guide.warn.long": "{name} 训练时至多 {max_chars} 个字符；这段文本有 {n} 个。输出很可能出错。",
    "guide.warn.no_room": "文本已占满 {name} 的上下文（{room} 个字符），没有续写的空间：不会生成任何内容。缩短文本即可看到续写。",
    "guide.warn.little_room": "{name} 的上下文（{room} 个字符）只剩 {left} 个字符的空间：续写到此为止。",
})
