"""The types that leave the model layer: AttentionRecord, Trace, GenerationStep, Intervention,
and the vocabularies every layer shares (KINDS, STAGES, SNAPSHOTS, ARCHITECTURES).

Every attention call of every model becomes one AttentionRecord: detached, on the CPU, float32
numpy, for a single sequence (no batch axis). Views are drawn from these records alone.

numpy only, never torch: the app's pages and URL state import these names, and importing torch
costs a second (docs/ARCHITECTURE.md, "Layers").
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

KINDS = ("encoder", "decoder", "cross")

# The stages of one attention call, in the order of the equation
#     weights = softmax(masked(scores · scale + bias)),  context = weights @ v
# and the one vocabulary for them everywhere: model, views, worked example, URL values, page text.
#   scores   q·k, before scaling
#   scaled   scores · scale (1/√d_head in the paper)
#   biased   scaled + position bias (T5, ALiBi); equal to scaled where a model has no bias
#   masked   biased, -inf where the query may not attend to the key: the softmax's input
#   weights  softmax over keys (α); a fully masked row is all zeros
#   context  weights @ v (z), before W^O
STAGES = ("scores", "scaled", "biased", "masked", "weights", "context")
# Stage names that links made before the one vocabulary used: they still open the same view.
LEGACY_STAGES = {"bias": "biased", "logits": "masked", "alpha": "weights", "z": "context"}

# Training snapshots of the built-in models, in training order.
SNAPSHOTS = ("untrained", "early", "middle", "final")


@dataclass(frozen=True)
class Architecture:
    """What an architecture has and does: the one place that decides by architecture."""

    name: str                 # "encoder-only", "decoder-only" or "encoder-decoder"
    has_encoder: bool         # reads a source sequence bidirectionally (encoder records)
    has_decoder: bool         # a causal stack over the decoder input (decoder records)
    kinds: tuple              # the kinds of attention it records, in forward order

    @property
    def generates(self) -> bool:
        """Continues text token by token (a decoder); an encoder-only model fills in masks."""
        return self.has_decoder

    @property
    def has_cross(self) -> bool:
        return self.has_encoder and self.has_decoder

    @property
    def reads_target(self) -> bool:
        """Takes a separate target (teacher forcing) beside the text: only an encoder-decoder."""
        return self.has_cross

    def __str__(self) -> str:
        return self.name


ARCHITECTURES = {
    "encoder-only": Architecture("encoder-only", True, False, ("encoder",)),
    "decoder-only": Architecture("decoder-only", False, True, ("decoder",)),
    "encoder-decoder": Architecture("encoder-decoder", True, True, ("encoder", "decoder", "cross")),
}


def architecture(name: str) -> Architecture:
    """The Architecture of a name in ARCHITECTURES (ValueError for anything else)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"architecture must be one of {tuple(ARCHITECTURES)}, not {name!r}") from None


@dataclass(frozen=True)
class Intervention:
    """What to switch off in a run: heads (their output zeroed before W^O) and key tokens
    (hidden from every attention call that reads them, as if they were padding)."""

    heads_off: frozenset = frozenset()      # {(kind, layer, head)}
    hidden_encoder_keys: frozenset = frozenset()  # encoder-input positions
    hidden_decoder_keys: frozenset = frozenset()  # decoder-input positions

    def __bool__(self) -> bool:
        return bool(self.heads_off or self.hidden_encoder_keys or self.hidden_decoder_keys)

    def hidden_keys(self, kind: str) -> frozenset:
        """Key positions hidden from an attention call of this kind (a decoder reads its own
        input as keys; encoder and cross attention read the source)."""
        return self.hidden_decoder_keys if kind == "decoder" else self.hidden_encoder_keys

    def heads_off_in(self, kind: str, layer: int) -> list[int]:
        """The heads of one attention call whose output is zeroed."""
        return sorted(h for (k, l, h) in self.heads_off if (k, l) == (kind, layer))


NO_INTERVENTION = Intervention()

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
    encoder_tokens: list[str] = field(default_factory=list)   # encoder input, else []
    decoder_tokens: list[str] = field(default_factory=list)   # decoder input, else []
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
    # Parallel to encoder_tokens / decoder_tokens: True where the model saw <unk> for that label.
    encoder_unknown: list[bool] = field(default_factory=list)
    decoder_unknown: list[bool] = field(default_factory=list)
    # Parallel to encoder_tokens / decoder_tokens: True for tokens the tokenizer adds rather than
    # reads ([CLS], [SEP], <s>, </s>, <pad>, ...), so a view can hide them and renormalise.
    encoder_special: list[bool] = field(default_factory=list)
    decoder_special: list[bool] = field(default_factory=list)

    @property
    def arch(self) -> Architecture:
        return architecture(self.architecture)

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
            "encoder_tokens": self.encoder_tokens, "decoder_tokens": self.decoder_tokens,
            "output_text": self.output_text, "predictions": self.predictions,
            "truncated": self.truncated, "text": self.text, "target": self.target,
            "generated_from": self.generated_from, "encoder_unknown": self.encoder_unknown,
            "decoder_unknown": self.decoder_unknown,
            "encoder_special": self.encoder_special, "decoder_special": self.decoder_special,
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

        def field_of(name: str, default=None):
            # Files saved before the rename said source_/target_ for encoder_/decoder_.
            old = name.replace("encoder_", "source_").replace("decoder_", "target_")
            return meta.get(name, meta.get(old, default))

        return cls(model_name=meta["model_name"], architecture=meta["architecture"],
                   records=records, encoder_tokens=field_of("encoder_tokens"),
                   decoder_tokens=field_of("decoder_tokens"), output_text=meta["output_text"],
                   predictions=predictions, truncated=meta["truncated"],
                   text=meta["text"], target=meta["target"], generated_from=meta["generated_from"],
                   encoder_unknown=field_of("encoder_unknown"), decoder_unknown=field_of("decoder_unknown"),
                   # Files saved before these flags existed load with none marked.
                   encoder_special=field_of("encoder_special", []), decoder_special=field_of("decoder_special", []))


@dataclass
class GenerationStep:
    """One generated token: what was chosen, the top-5 it was chosen from, and the records of
    the pass that chose it (decoder and cross records; the query rows are the prefix so far)."""

    index: int
    token: str
    token_id: int
    top: list[tuple[str, float]]
    records: list[AttentionRecord]
