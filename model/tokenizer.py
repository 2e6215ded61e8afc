"""Character tokenizer of the built-in models.

Any Unicode text is accepted: a character outside the vocabulary becomes <unk> for the model but
keeps its own text as its label, so "你好" shows as 你 and 好, marked unknown.
"""
from __future__ import annotations

from .tokens import Tokens

PAD, BOS, EOS, UNK, MASK = "<pad>", "<bos>", "<eos>", "<unk>", "[MASK]"
SPECIALS = (PAD, BOS, EOS, UNK, MASK)
# Printable ASCII and newline: what the toy tasks and the training corpus are written in.
CHARACTERS = "\n" + "".join(chr(c) for c in range(32, 127))


class CharTokenizer:
    """One token per Unicode code point; the text "[MASK]" is the mask token."""

    def __init__(self, characters: str = CHARACTERS):
        self.vocab = list(SPECIALS) + list(characters)
        self.index = {token: i for i, token in enumerate(self.vocab)}
        self.pad_id, self.bos_id, self.eos_id, self.unk_id, self.mask_id = range(len(SPECIALS))

    def __len__(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> Tokens:
        """One token per character (the text "[MASK]" is one token); nothing is added."""
        ids, tokens, unknown = [], [], []
        i = 0
        while i < len(text):
            if text.startswith(MASK, i):
                ids.append(self.mask_id)
                tokens.append(MASK)
                unknown.append(False)
                i += len(MASK)
                continue
            char = text[i]
            token_id = self.index.get(char, self.unk_id)
            ids.append(token_id)
            tokens.append(char)
            unknown.append(token_id == self.unk_id)
            i += 1
        return Tokens(ids, tokens, unknown, [False] * len(ids))

    def ids(self, text: str) -> list[int]:
        return self.encode(text).ids

    def token(self, token_id: int) -> str:
        return self.vocab[token_id]

    def decode(self, ids) -> str:
        """Characters of the ids, stopping at <eos> and dropping other specials."""
        out = []
        for token_id in ids:
            token_id = int(token_id)
            if token_id == self.eos_id:
                break
            if token_id >= len(SPECIALS):
                out.append(self.vocab[token_id])
        return "".join(out)
