"""Tokens: ids for the model with a label and two flags per token for the views. No torch."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tokens:
    """What a backend's tokenizer gives the runner: one entry per token, in order."""

    ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)     # display text: the characters, or the special's name
    unknown: list[bool] = field(default_factory=list)   # True where the model read <unk>
    special: list[bool] = field(default_factory=list)   # True for tokens added, not read ([CLS], <bos>...)

    def __len__(self) -> int:
        return len(self.ids)

    def __add__(self, other: "Tokens") -> "Tokens":
        return Tokens(self.ids + other.ids, self.labels + other.labels,
                      self.unknown + other.unknown, self.special + other.special)

    def __getitem__(self, part: slice) -> "Tokens":
        return Tokens(self.ids[part], self.labels[part], self.unknown[part], self.special[part])
