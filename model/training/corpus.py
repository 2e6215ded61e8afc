"""`python -m model.training.corpus` rebuilds assets/corpus.txt, the text toy-gpt and toy-bert learn from.

The source is the Python standard library's own documentation (pydoc_data.topics, shipped with
every CPython, PSF licence), kept to the characters of the built-in tokenizer so the models see
no <unk> in training.
"""
from __future__ import annotations

import re

from .tasks import CORPUS_PATH
from ..tokenizer import CHARACTERS

MAX_CHARS = 400_000


def build_corpus() -> str:
    import pydoc_data.topics as topics

    allowed = set(CHARACTERS)
    pieces = []
    for key in sorted(topics.topics):
        text = topics.topics[key]
        text = text.replace("\t", "    ").replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"')
        text = "".join(ch if ch in allowed else " " for ch in text)
        text = re.sub(r"[ ]{3,}", "  ", text)      # long indents carry nothing to learn
        text = re.sub(r"\n{3,}", "\n\n", text)
        pieces.append(text.strip())
    return "\n\n".join(pieces)[:MAX_CHARS]


if __name__ == "__main__":
    CORPUS_PATH.parent.mkdir(parents=True, exist_ok=True)
    CORPUS_PATH.write_text(build_corpus(), encoding="utf-8")
    print(f"wrote {CORPUS_PATH}")
