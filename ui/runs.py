"""The model's work, cached: loaded models, traces and step-throughs, and the CPU fallback when
CUDA runs out of memory. The frame (app.py) and the pages reach them only through Runs."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Callable, Optional

import streamlit as st
import torch

import model
from model.special import without_special

from . import hosting

# One intra-op thread by default: these models are bound by per-op overhead, and on a 2-core
# machine the browser paints while the model runs; two torch threads then spin against it
# (greedy generation of toy-seq2seq beside one busy process: 52 ms with 1 thread, 110 ms with 2).
torch.set_num_threads(int(os.environ.get("ATTENTION_EXPLORER_TORCH_THREADS", "1")))

# Decoder-only models continue the text; a short continuation keeps the matrices readable.
NEW_TOKENS = 24


# Traces live in st.cache_resource, not st.cache_data: cache_data pickles a copy on every read,
# and a trace holds every q, k, v and weight matrix. Traces are never mutated after creation.

@st.cache_resource(show_spinner="Loading the model…", max_entries=12)
def load_model(name: str, snapshot: str, version: int, device: str = "auto"):
    # `version` (model.weights_version) only makes a retrained checkpoint a new cache entry.
    # `device` "cpu": the copy that runs an input the GPU had no memory for (with_cpu_fallback).
    return model.load(name, snapshot=snapshot, device=device)


# Entry counts (ui/hosting.py) bound what the caches hold whatever visitors type; model_slot()
# bounds how many runs hold their intermediate tensors at once (hosted).
@st.cache_resource(show_spinner="Running the model…", max_entries=hosting.TRACE_CACHE_ENTRIES)
def cached_trace(name: str, snapshot: str, version: int, text: str, target: Optional[str], pad_to: int,
                 heads_off: tuple, hidden_encoder_keys: tuple, hidden_decoder_keys: tuple, hide_special: bool,
                 _model) -> model.Trace:
    """Keyed on small hashable inputs; the model object itself rides along unhashed. With
    hide_special, the full trace (a cache hit) without its special tokens: filtered once, not
    on every rerun (at 512 tokens that copies every record)."""
    if hide_special:
        return without_special(cached_trace(name, snapshot, version, text, target, pad_to, heads_off,
                                            hidden_encoder_keys, hidden_decoder_keys, False, _model))
    # A decoder-only model continues the typed text (NEW_TOKENS of it); an encoder-decoder
    # generates its whole output anyway, and an encoder-only model generates nothing.
    new_tokens = NEW_TOKENS if _model.arch.generates and not _model.arch.has_encoder else 0
    intervention = model.Intervention(frozenset(heads_off), frozenset(hidden_encoder_keys), frozenset(hidden_decoder_keys))
    with hosting.model_slot():
        return _model.trace(text, target, max_new_tokens=new_tokens, pad_to=pad_to, intervention=intervention)


@st.cache_resource(show_spinner="Generating…", max_entries=hosting.STEPS_CACHE_ENTRIES)
def cached_steps(name: str, snapshot: str, version: int, text: str, max_new_tokens: int,
                 heads_off: tuple, _model) -> list:
    with hosting.model_slot():
        return _model.generate_steps(text, max_new_tokens=max_new_tokens,
                                     intervention=model.Intervention(frozenset(heads_off)))


@st.cache_resource(show_spinner="Computing the block…", max_entries=hosting.TRACE_CACHE_ENTRIES)
def cached_block(name: str, snapshot: str, version: int, text: str, target: Optional[str], kind: str, layer: int,
                 position: int, _model):
    """model.block.block_view of one layer at one position (it traces the text once more, with
    hooks). The same continuation as cached_trace, so that positions are the page's trace's."""
    from model.block import block_view
    new_tokens = NEW_TOKENS if _model.arch.generates and not _model.arch.has_encoder else 0
    with hosting.model_slot():
        return block_view(_model, text, kind, layer, position, target=target, max_new_tokens=new_tokens)


def with_cpu_fallback(compute: Callable, name: str, snapshot: str, version: int, t):
    """compute(network) on the cached model; if CUDA runs out of memory, once more on a CPU copy
    (cached apart), with a note. The GPU copy stays: the next, smaller input may well fit."""
    try:
        return compute(load_model(name, snapshot, version))
    except torch.cuda.OutOfMemoryError:
        logging.getLogger("attention_explorer").warning("CUDA out of memory (%s); running on the CPU", name)
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        st.warning(t("msg.cuda_oom"))
        return compute(load_model(name, snapshot, version, "cpu"))


@dataclass
class Runs:
    """One model at one snapshot, for one script run: its cached traces and step-throughs.
    Pages get .trace and .steps as PageContext.run_trace and .run_steps."""

    name: str
    snapshot: str
    t: Callable[..., str]
    # Read at each call: the frame decides it after the first trace (only a trace with special
    # tokens offers the toggle), and a page's later runs (padding, interventions) follow it.
    hide_special: bool = False

    def __post_init__(self):
        self.version = model.weights_version(self.name)

    def model(self):
        return load_model(self.name, self.snapshot, self.version)

    def trace(self, text: str, target: Optional[str] = None, pad_to: int = 0, intervention=None) -> model.Trace:
        i = intervention or model.Intervention()
        # Clipped again here: whatever a page passes, a cache key stays small.
        text, target = hosting.clip(text)[0], (hosting.clip(target)[0] or None) if target else None
        hide = self.hide_special
        return with_cpu_fallback(
            lambda net: cached_trace(self.name, self.snapshot, self.version, text, target, int(pad_to),
                                     tuple(sorted(i.heads_off)), tuple(sorted(i.hidden_encoder_keys)),
                                     tuple(sorted(i.hidden_decoder_keys)), hide, net),
            self.name, self.snapshot, self.version, self.t)

    def block(self, text: str, target: Optional[str], kind: str, layer: int, position: int):
        """The block view (model/block.py) of the stack `kind` at `layer` and `position`, for the
        same text and target as trace() (no padding, no intervention), cached."""
        text, target = hosting.clip(text)[0], (hosting.clip(target)[0] or None) if target else None
        return with_cpu_fallback(
            lambda net: cached_block(self.name, self.snapshot, self.version, text, target, kind, int(layer),
                                     int(position), net),
            self.name, self.snapshot, self.version, self.t)

    def steps(self, text: str, max_new_tokens: int, intervention=None) -> list:
        heads_off = tuple(sorted((intervention or model.Intervention()).heads_off))
        text, n = hosting.clip(text)[0], hosting.bounded_new_tokens(max_new_tokens)
        return with_cpu_fallback(
            lambda net: cached_steps(self.name, self.snapshot, self.version, text, n, heads_off, net),
            self.name, self.snapshot, self.version, self.t)
