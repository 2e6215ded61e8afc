"""The built-in models' tasks and data: what they are trained on and evaluated on.

Held-out data is held out by content, not only by seed: a string whose CRC32 falls in the
held-out bucket never appears in training, and the last tenth of the corpus is never trained on.
"""
from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from functools import lru_cache

from ..catalog import ASSETS
from ..tokenizer import CHARACTERS

CORPUS_PATH = ASSETS / "corpus.txt"

# ---- toy-seq2seq: T5-style prefixes ---------------------------------------------------------

TASK_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789 "
LETTERS_DIGITS = TASK_ALPHABET[:-1]
MAX_TASK_LEN = 24


def _swap_words(s: str) -> str:
    # split(" ") keeps empty words, so runs of spaces survive and the output has the input's characters.
    return " ".join(reversed(s.split(" ")))


TASKS = {
    "copy": lambda s: s,
    "reverse": lambda s: s[::-1],
    "sort": lambda s: "".join(sorted(s)),          # by code point: space < digits < letters
    "swap": _swap_words,                           # reverse the order of the words
}


def task_prefix(task: str) -> str:
    """What starts a task's source text: "reverse: " (the model was never shown another form)."""
    return f"{task}: "


def is_held_out(s: str) -> bool:
    """One string in ten, by content, is reserved for evaluation."""
    return zlib.crc32(s.encode("utf-8")) % 10 == 0


def random_task_input(rng: random.Random, split: str = "train") -> str:
    """1..24 characters of lowercase letters, digits and spaces.

    The share of spaces varies per string (0 to 30 %), so that `swap:` sees one word as well as
    many, and nothing about the task hides in a fixed character distribution.
    """
    while True:
        length = rng.randint(1, MAX_TASK_LEN)
        space_share = rng.uniform(0.0, 0.3)
        s = "".join(" " if rng.random() < space_share else rng.choice(LETTERS_DIGITS)
                    for _ in range(length))
        if is_held_out(s) == (split == "heldout"):
            return s


def task_example(rng: random.Random, task: str | None = None, split: str = "train") -> tuple[str, str]:
    """(source text, target text), e.g. ("reverse: abc", "cba")."""
    task = task or rng.choice(list(TASKS))
    s = random_task_input(rng, split)
    return task_prefix(task) + s, TASKS[task](s)


# ---- toy-gpt and toy-bert: a corpus, and repeated random spans for induction -----------------

# The corpus is kept to these characters (corpus.py): printable ASCII and newline.
CORPUS_ALPHABET = CHARACTERS
# Characters per training example (train.py's batches); toy-gpt's context adds one for <bos>.
GPT_CONTEXT = 128
BERT_CONTEXT = 128


@lru_cache(maxsize=1)
def corpus() -> str:
    if not CORPUS_PATH.exists():
        raise FileNotFoundError(f"training corpus missing: {CORPUS_PATH} (rebuild it with python -m model.training.corpus)")
    return CORPUS_PATH.read_text(encoding="utf-8")


def corpus_split(split: str) -> str:
    """The first nine tenths of the corpus for training, the last tenth held out."""
    text = corpus()
    cut = len(text) * 9 // 10
    return text[:cut] if split == "train" else text[cut:]


def corpus_window(rng: random.Random, length: int, split: str = "train") -> str:
    text = corpus_split(split)
    start = rng.randrange(0, len(text) - length)
    return text[start:start + length]


INDUCTION_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def random_span(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(INDUCTION_ALPHABET) for _ in range(length))


def repeated_span_text(rng: random.Random, length: int) -> str:
    """`length` characters of corpus text with a random span occurring two or three times in it:
    only an induction head (find the earlier occurrence, copy what followed it) predicts the repeats."""
    span = random_span(rng, rng.randint(8, 40))
    pieces = [span]
    for _ in range(rng.choice((1, 1, 2))):
        pieces.append(corpus_window(rng, rng.randint(1, 12)) if rng.random() < 0.5 else "")
        pieces.append(span)
    core = "".join(pieces)[:length]
    lead = rng.randint(0, length - len(core))
    tail = length - lead - len(core)
    return corpus_window(rng, lead) + core + corpus_window(rng, tail)


# ---- what each built-in model read in training (the app says it at the text box) -------------

@dataclass(frozen=True)
class TrainingText:
    alphabet: str          # every character of every training text is one of these
    max_chars: int         # longest text it was trained on (toy-seq2seq: after the task prefix)
    tasks: tuple = ()      # toy-seq2seq: the task names its source texts start with (task_prefix)


TRAINING_TEXT = {
    "toy-seq2seq": TrainingText(TASK_ALPHABET, MAX_TASK_LEN, tuple(TASKS)),
    "toy-gpt": TrainingText(CORPUS_ALPHABET, GPT_CONTEXT),
    "toy-bert": TrainingText(CORPUS_ALPHABET, BERT_CONTEXT),
}
