"""AttentionRecord and Trace: the one data type that leaves the model layer.

Every attention call of every model becomes one AttentionRecord: detached, on the CPU, float32
numpy, for a single sequence (no batch axis). Views are drawn from these records alone.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

KINDS = ("encoder", "decoder", "cross")

# Array fields of a record, in the order of the equation; used for saving and validation.
_ARRAY_FIELDS = ("q", "k", "v", "scores", "bias", "allowed", "weights", "context")


@dataclass
class AttentionRecord:
    """One attention call: softmax(scores·scale + bias, masked by allowed) = weights; weights @ v = context."""

    kind: str                   # "encoder" (bidirectional self), "decoder" (masked self) or "cross"
    layer: int                  # 0-based
    query_tokens: list[str]     # row labels
    key_tokens: list[str]       # column labels
    q: np.ndarray               # [head, q_pos, d_head] what the dot product sees (after rotary)
    k: np.ndarray               # [head, k_pos, d_head]
    v: np.ndarray               # [head, k_pos, d_head]
    scores: np.ndarray          # [head, q_pos, k_pos] raw q·k, before scaling
    scale: float                # 1/√d_head in the paper; T5 uses 1.0
    bias: Optional[np.ndarray]  # [head, q_pos, k_pos] additive position bias, or None
    allowed: np.ndarray         # [q_pos, k_pos] bool: True where the query may attend to the key
    weights: np.ndarray         # [head, q_pos, k_pos] softmax probabilities
    context: np.ndarray         # [head, q_pos, d_head] weights @ v (z_i, before W^O)

    @property
    def n_heads(self) -> int:
        return self.weights.shape[0]

    def logits(self) -> np.ndarray:
        """scores·scale + bias, -inf where not allowed: what the softmax receives."""
        scaled = self.scores * np.float32(self.scale)
        if self.bias is not None:
            scaled = scaled + self.bias
        return np.where(self.allowed[None], scaled, np.float32(-np.inf)).astype(np.float32)


@dataclass
class Trace:
    """Everything one run of a model shows: its records, its tokens and its outputs."""

    model_name: str
    architecture: str
    records: list[AttentionRecord]
    source_tokens: list[str] = field(default_factory=list)   # encoder input, else []
    target_tokens: list[str] = field(default_factory=list)   # decoder input, else []
    output_text: str = ""
    # Per decoder-input position (per source position for encoder-only models): the top-5
    # next-token (or masked-token) candidates as (token, probability) pairs.
    predictions: list[list[tuple[str, float]]] = field(default_factory=list)
    truncated: int = 0          # tokens dropped (source and target together) to fit max_len
    text: str = ""              # the input as given
    target: Optional[str] = None  # the target as given (None: generated)
    # First decoder-input position that holds a generated token (None: nothing generated), so a
    # view can mark where the prompt or the given target ends.
    generated_from: Optional[int] = None
    # Parallel to source_tokens / target_tokens: True where the model saw <unk> for that label.
    source_unknown: list[bool] = field(default_factory=list)
    target_unknown: list[bool] = field(default_factory=list)
    # Parallel to source_tokens / target_tokens: True for tokens the tokenizer adds rather than
    # reads ([CLS], [SEP], <s>, </s>, <pad>, ...), so a view can hide them and renormalise.
    source_special: list[bool] = field(default_factory=list)
    target_special: list[bool] = field(default_factory=list)

    def get(self, kind: str, layer: int) -> AttentionRecord:
        """The record of one kind ("encoder", "decoder", "cross") and 0-based layer."""
        for record in self.records:
            if record.kind == kind and record.layer == layer:
                return record
        have = sorted({(r.kind, r.layer) for r in self.records})
        raise KeyError(f"no {kind!r} record for layer {layer}; this trace has {have}")

    def records_of(self, kind: str) -> list[AttentionRecord]:
        """The records of one kind, by layer."""
        return sorted((r for r in self.records if r.kind == kind), key=lambda r: r.layer)

    def kinds(self) -> list[str]:
        """The attention kinds present, in forward order."""
        return [k for k in KINDS if any(r.kind == k for r in self.records)]

    def layers(self, kind: str) -> list[int]:
        return sorted({r.layer for r in self.records if r.kind == kind})

    # ---- one .npz file, lossless -------------------------------------------------------------

    def save(self, path) -> None:
        """Write the whole trace to one .npz file (arrays as they are, metadata as JSON)."""
        arrays: dict[str, np.ndarray] = {}
        meta_records = []
        for i, record in enumerate(self.records):
            meta_records.append({
                "kind": record.kind, "layer": record.layer, "scale": record.scale,
                "query_tokens": record.query_tokens, "key_tokens": record.key_tokens,
                "has_bias": record.bias is not None,
            })
            for name in _ARRAY_FIELDS:
                value = getattr(record, name)
                if value is not None:
                    arrays[f"r{i}.{name}"] = value
        meta = {
            "model_name": self.model_name, "architecture": self.architecture,
            "source_tokens": self.source_tokens, "target_tokens": self.target_tokens,
            "output_text": self.output_text, "predictions": self.predictions,
            "truncated": self.truncated, "text": self.text, "target": self.target,
            "generated_from": self.generated_from, "source_unknown": self.source_unknown,
            "target_unknown": self.target_unknown,
            "source_special": self.source_special, "target_special": self.target_special,
            "records": meta_records,
        }
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
        if hasattr(path, "write"):        # a file object, e.g. BytesIO for a download button
            np.savez_compressed(path, **arrays)
            return
        with open(path, "wb") as f:
            np.savez_compressed(f, **arrays)

    def to_bytes(self) -> bytes:
        """The .npz file's bytes (what save() writes)."""
        import io
        buffer = io.BytesIO()
        self.save(buffer)
        return buffer.getvalue()

    @classmethod
    def load(cls, path) -> "Trace":
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(data["meta"].tobytes().decode("utf-8"))
            records = []
            for i, m in enumerate(meta["records"]):
                arrays = {name: data[f"r{i}.{name}"] for name in _ARRAY_FIELDS
                          if f"r{i}.{name}" in data}
                records.append(AttentionRecord(
                    kind=m["kind"], layer=m["layer"], scale=m["scale"],
                    query_tokens=m["query_tokens"], key_tokens=m["key_tokens"],
                    bias=arrays.pop("bias", None), **arrays))
        predictions = [[(tok, prob) for tok, prob in row] for row in meta["predictions"]]
        return cls(model_name=meta["model_name"], architecture=meta["architecture"],
                   records=records, source_tokens=meta["source_tokens"],
                   target_tokens=meta["target_tokens"], output_text=meta["output_text"],
                   predictions=predictions, truncated=meta["truncated"],
                   text=meta["text"], target=meta["target"], generated_from=meta["generated_from"],
                   source_unknown=meta["source_unknown"], target_unknown=meta["target_unknown"],
                   # Files saved before these flags existed load with none marked.
                   source_special=meta.get("source_special", []), target_special=meta.get("target_special", []))
