"""The model layer: PyTorch only. Text in, Trace (attention records) out.

    import model
    model.available()                     # names that load now
    m = model.load("toy-seq2seq")         # .name .architecture .n_layers .n_heads
    t = m.trace("reverse: hello")         # Trace; t.get("cross", 1) -> AttentionRecord
"""
from __future__ import annotations

from .attention import attention, attention_stages, causal_mask, padding_mask
from .builtin import (BUILTIN_NAMES, SNAPSHOTS, BuiltinModel, GenerationStep, Intervention, ModelLoadError,
                      checkpoint_path, load_builtin)
from .trace import AttentionRecord, Trace
from .transformer import Transformer, TransformerConfig
from .worked_example import worked_example

DEFAULT_MODEL = "toy-seq2seq"


def available() -> list[str]:
    """Names of the models whose files are present, so load(name) can succeed."""
    return [name for name in BUILTIN_NAMES if checkpoint_path(name, "final").exists()]


def weights_version(name: str) -> int:
    """Changes whenever a model's final weights are rebuilt: a cache key for the app."""
    try:
        return checkpoint_path(name, "final").stat().st_mtime_ns
    except OSError:
        return 0


def load(name: str, snapshot: str = "final", device: str = "auto") -> BuiltinModel:
    """A model by name: a built-in one (with a training snapshot), on CUDA when present."""
    if name in BUILTIN_NAMES:
        return load_builtin(name, snapshot=snapshot, device=device)
    raise ModelLoadError(f"unknown model {name!r}; available: {', '.join(available()) or 'none'}")


__all__ = ["AttentionRecord", "BuiltinModel", "DEFAULT_MODEL", "GenerationStep", "Intervention", "ModelLoadError",
           "SNAPSHOTS", "Trace", "Transformer", "TransformerConfig", "attention", "attention_stages",
           "available", "causal_mask", "load", "padding_mask", "weights_version", "worked_example"]
