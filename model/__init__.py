"""The model layer: PyTorch only. Text in, Trace (attention records) out.

    import model
    model.available()                     # names that load now
    m = model.load("toy-seq2seq")         # a Runner: .name .architecture .arch .n_layers .n_heads
    t = m.trace("reverse: hello")         # Trace; t.get("cross", 1) -> AttentionRecord
    model.load("minilm")                  # a Hugging Face model: packaged name, folder or cached Hub name

Importing this package does not import torch: the records' types and the model catalogue are
numpy-only, and everything that needs torch (the runner, the backends, the attention maths) is
imported on first use through __getattr__ below. See docs/ARCHITECTURE.md. (The worked example
is imported from its module, `from model.worked_example import worked_example`: a lazy name
equal to a submodule's would be replaced by the submodule once it is imported.)
"""
from __future__ import annotations

import importlib

from .catalog import (BUILTIN_NAMES, DEFAULT_MODEL, PACKAGED_MODELS, ModelLoadError, available, checkpoint_path,
                      packaged_folder, weights_version)
from .trace import (ARCHITECTURES, KINDS, NO_INTERVENTION, SNAPSHOTS, STAGES, Architecture, AttentionRecord,
                    GenerationStep, Intervention, Trace, architecture)


def load(name: str, snapshot: str = "final", device: str = "auto", allow_download: bool = False):
    """A model by name, on CUDA when present: a built-in one (with a training snapshot), a packaged
    Hugging Face model ("minilm"), a Hugging Face model folder, or a Hub name already in the local
    cache (fetched only with allow_download=True). Raises ModelLoadError with what went wrong."""
    if name in BUILTIN_NAMES:
        from .backends.builtin import load_builtin
        return load_builtin(name, snapshot=snapshot, device=device)
    from .backends import hf   # it imports transformers (seconds) only when it loads a model
    if name in PACKAGED_MODELS:
        folder = packaged_folder(name)
        if folder is None:
            raise ModelLoadError(f"{name!r} needs the package {PACKAGED_MODELS[name]} "
                                 f"(pip install {PACKAGED_MODELS[name].replace('_', '-')})")
        return hf.load_hf(name, snapshot=snapshot, device=device, folder=folder)
    return hf.load_hf(name, snapshot=snapshot, device=device, allow_download=allow_download)


# Names that need torch (or transformers), and the module each comes from: imported on first use.
_LAZY = {
    "Runner": ".runner",
    "Transformer": ".transformer", "TransformerConfig": ".transformer",
    "attention": ".attention", "attention_stages": ".attention", "causal_mask": ".attention",
    "padding_mask": ".attention",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ARCHITECTURES", "Architecture", "AttentionRecord", "BUILTIN_NAMES", "DEFAULT_MODEL", "GenerationStep",
           "Intervention", "KINDS", "ModelLoadError", "NO_INTERVENTION", "PACKAGED_MODELS", "Runner", "SNAPSHOTS",
           "STAGES", "Trace", "Transformer", "TransformerConfig", "architecture", "attention", "attention_stages",
           "available", "causal_mask", "checkpoint_path", "load", "padding_mask", "weights_version"]
