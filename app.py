"""Attention Explorer: type text, run a small Transformer, see every stage of every head.

Thin by design (DESIGN.md): *_controls() return the user's choices, main() wires them to the
cached model and trace and hands a PageContext to the chosen page in ui/pages/. No maths here.
"""
from __future__ import annotations

import logging
import os
from typing import Optional

import streamlit as st
import torch

import model
from model.special import has_special, without_special
from ui import hosting
from ui.context import VIEW_KEY, PageContext, bound, forget_widget, set_view, shown_errors, sync_url, view
from ui.i18n import translator
from ui.pages import NEEDS_TRACE, renderer
from ui.state import LANGS, PAGES, SNAPSHOTS, fit_to_model, from_query

# One intra-op thread by default: these models are bound by per-op overhead, and on a 2-core
# machine the browser paints while the model runs; two torch threads then spin against it
# (greedy generation of toy-seq2seq beside one busy process: 52 ms with 1 thread, 110 ms with 2).
torch.set_num_threads(int(os.environ.get("ATTENTION_EXPLORER_TORCH_THREADS", "1")))

DEFAULT_TEXTS = {
    "toy-seq2seq": "reverse: hello world",
    "toy-gpt": "the cat sat on the mat. the cat sat on the",
    "toy-bert": "the c[MASK]t sat on the m[MASK]t",
    "minilm": "The animal didn't cross the street because it was too tired.",
}
FALLBACK_TEXT = "hello world"
# Decoder-only models continue the text; a short continuation keeps the matrices readable.
NEW_TOKENS = 24
# Pages that only look at attention may hide special tokens; Generation and Intervene keep every
# position, since their steps and masked keys are counted over the model's own tokens.
HIDES_SPECIAL = ("explore", "anatomy", "aggregates")
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
# Headings need the .stApp prefix, and their inner spans (classed st-...) must inherit:
# the [class*="st-"] rule would otherwise outrank a bare h1.
LECTURE_CSS = """<style>
html, body, [class*="st-"], .stMarkdown, label, p { font-size: 1.25rem !important; }
.stApp h1 { font-size: 3rem !important; } .stApp h2, .stApp h3 { font-size: 2.2rem !important; }
.stApp h1 *, .stApp h2 *, .stApp h3 * { font-size: inherit !important; }
.stApp { background: #ffffff; color: #000000; }
</style>"""


# ---- cached work ------------------------------------------------------------------------------
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
    new_tokens = NEW_TOKENS if _model.architecture == "decoder-only" else 0
    intervention = model.Intervention(frozenset(heads_off), frozenset(hidden_encoder_keys), frozenset(hidden_decoder_keys))
    with hosting.model_slot():
        return _model.trace(text, target, max_new_tokens=new_tokens, pad_to=pad_to, intervention=intervention)


@st.cache_resource(show_spinner="Generating…", max_entries=hosting.STEPS_CACHE_ENTRIES)
def cached_steps(name: str, snapshot: str, version: int, text: str, max_new_tokens: int,
                 heads_off: tuple, _model) -> list:
    with hosting.model_slot():
        return _model.generate_steps(text, max_new_tokens=max_new_tokens,
                                     intervention=model.Intervention(frozenset(heads_off)))


def with_cpu_fallback(compute, name: str, snapshot: str, version: int, t):
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


# ---- controls ---------------------------------------------------------------------------------

def start_session(models: list[str]) -> list[str]:
    """On a session's first run, the URL decides the view; returns notes on refused values."""
    if VIEW_KEY not in st.session_state:
        linked = str(st.query_params.get("model", ""))[:500]
        if linked not in models and hosting.allows_local_paths() and os.path.isdir(linked):
            # a link to a model folder on this machine reopens it (never in hosted mode)
            st.session_state[EXTRA_MODELS] = [linked]
            models.append(linked)
        default = model.DEFAULT_MODEL if model.DEFAULT_MODEL in models else models[0]
        state, notes = from_query(st.query_params.to_dict(), models, default)
        st.session_state[VIEW_KEY] = state
        st.session_state["url_notes"] = notes
    return st.session_state["url_notes"]


def _model_changed() -> None:
    """A new model gets its own example text, unless the user typed their own."""
    name = st.session_state["w.model"]
    if view().text in (None, "", FALLBACK_TEXT, *DEFAULT_TEXTS.values()):
        set_view(text=DEFAULT_TEXTS.get(name, FALLBACK_TEXT))
        forget_widget("text")


EXTRA_MODELS = "extra_models"   # session: names loaded by path or cached name in this session


def session_models() -> list[str]:
    """The picker's models: everything model.available() lists, then this session's own loads."""
    models = hosting.allowed_models(model.available())   # hosted: built-ins and the allowlist only
    return models + [name for name in st.session_state.get(EXTRA_MODELS, []) if name not in models]


def _load_typed_model() -> None:
    """Button callback: load the typed folder or cached name; on success it becomes the model,
    on failure the message is kept for the sidebar and the previous model stays."""
    name = st.session_state.get("model_path", "").strip()
    st.session_state.pop("model_path_error", None)
    if not name:
        return
    try:
        if st.session_state.get("model_path.download") and hosting.allows_downloads():
            # fetch into the local Hugging Face cache first; the cached load below is then offline
            model.load(name, allow_download=True, device="cpu")
        load_model(name, "final", model.weights_version(name))
    except model.ModelLoadError as error:
        st.session_state["model_path_error"] = str(error)
        return
    except Exception as error:  # out of memory, a broken config...: a message, never a traceback
        logging.getLogger("attention_explorer").exception("loading %r", name)
        st.session_state["model_path_error"] = f"{type(error).__name__}: {error}"
        return
    extra = st.session_state.setdefault(EXTRA_MODELS, [])
    if name not in extra:
        extra.append(name)
    set_view(model=name, snapshot="final")
    st.session_state["w.model"] = name
    _model_changed()


def model_path_controls(t) -> None:
    """A field to load any local Hugging Face folder or cached Hub name (never in hosted mode)."""
    if not hosting.allows_local_paths():
        return
    with st.expander(t("control.model_path.title")):
        st.text_input(t("control.model_path"), key="model_path", placeholder=t("control.model_path.placeholder"))
        if hosting.allows_downloads():
            st.checkbox(t("control.model_path.download"), key="model_path.download",
                        help=t("control.model_path.download.help"))
        st.button(t("control.model_path.load"), on_click=_load_typed_model, key="model_path.load")
        if "model_path_error" in st.session_state:
            st.error(t("msg.load_error", error=st.session_state["model_path_error"]))


def sidebar_controls(models: list[str], t) -> tuple[str, str, str]:
    """(page, model name, snapshot), plus language and lecture mode into the view."""
    with st.sidebar:
        page = bound(st.radio, "page", t("nav.page"), options=list(PAGES), format_func=lambda p: t(f"page.{p}"))
        name = bound(st.selectbox, "model", t("control.model"), options=models, on_change=_model_changed)
        model_path_controls(t)
        # Only the built-in models were trained here, so only they have training snapshots.
        if name in model.BUILTIN_NAMES:
            snapshot = bound(st.select_slider, "snapshot", t("control.snapshot"), options=list(SNAPSHOTS),
                             format_func=lambda s: t(f"snapshot.{s}"))
        else:
            snapshot = "final"
        bound(st.radio, "lang", t("control.lang"), options=list(LANGS), horizontal=True,
              format_func=lambda code: {"en": "English", "zh": "中文"}[code])
        bound(st.toggle, "lecture", t("control.lecture"))
    return page, name, snapshot


def text_controls(architecture: str, t) -> tuple[str, Optional[str]]:
    """(text, target); target is None unless an encoder-decoder is given one (teacher forcing)."""
    if view().text is None:
        set_view(text=DEFAULT_TEXTS.get(view().model, FALLBACK_TEXT))
    if architecture == "encoder-decoder":
        text_box, target_box = st.columns([3, 2])
    else:
        text_box, target_box = st.container(), None
    text = clipped("text", bound(text_box.text_input, "text", t("control.text"),
                                 placeholder=t("control.text.placeholder")), t)
    target = None
    if target_box is not None:
        target = clipped("target", bound(target_box.text_input, "target", t("control.target"),
                                         placeholder=t("control.target.placeholder"),
                                         help=t("control.target.help")), t)
    return text, (target or None)


def clipped(field: str, value: str, t) -> str:
    """The typed value cut to hosting.MAX_INPUT_CHARS, with a note saying how much; the view (so
    the URL and every page's run) gets the cut value, the box keeps what was typed."""
    kept, cut = hosting.clip(value)
    if cut:
        st.warning(t("msg.input_cut", field=t(f"msg.input_cut.{field}"), total=len(value), limit=len(kept),
                     cut=cut))
    if kept != value:
        set_view(**{field: kept})
    return kept


def special_controls(t) -> bool:
    """Whether to hide the special tokens ([CLS], <bos>, <pad>...) from the views."""
    hide = bound(st.toggle, "hide_special", t("control.hide_special"), help=t("control.hide_special.help"))
    if hide:
        st.caption(t("msg.special_hidden"))
    return hide


# ---- views ------------------------------------------------------------------------------------

def output_view(trace: model.Trace, network, t) -> None:
    key = f"output.{trace.architecture}" + (".given" if trace.target is not None else "")
    if not trace.predictions and not trace.output_text:
        st.caption(t("output.no_head"))      # e.g. a sentence encoder: attention only
    elif trace.output_text:
        st.markdown(f"**{t(key)}**")
        # st.code shows the text as it is: no Markdown, no HTML, whatever the model or user wrote.
        st.code(trace.output_text, language=None, wrap_lines=True)
    else:
        st.markdown(f"**{t(key)}**")
        st.caption(t("output.none"))
    if trace.truncated:
        st.warning(t("msg.truncated", max_len=network.max_len, n=trace.truncated))
    unknown = sorted({tok for tok, unk in zip(trace.encoder_tokens + trace.decoder_tokens,
                                               trace.encoder_unknown + trace.decoder_unknown) if unk})
    if unknown:
        st.caption(t("msg.unknown"))
        st.code(" ".join(unknown), language=None)
    c = network.config
    st.caption(t("model.summary", name=network.name, architecture=network.architecture,
                 n_layers=c.n_layers, n_heads=c.n_heads, d_model=c.d_model))


def main() -> None:
    st.set_page_config(page_title="Attention Explorer", layout="wide")
    models = session_models()
    if not models:
        st.error(translator("en")("msg.no_models"))
        return
    notes = start_session(models)
    t = translator(view().lang)
    page, name, snapshot = sidebar_controls(models, t)
    t = translator(view().lang)
    if view().lecture:
        st.html(LECTURE_CSS)   # a constant: no user text reaches HTML
    st.title(t("app.title"))
    st.caption(t("app.caption"))
    if notes:
        st.warning(t("msg.url_note", note=len(notes)))
        st.code("\n".join(notes), language=None)   # the link's raw values, shown as plain text
    with shown_errors(t, "running the model"):
        version = model.weights_version(name)
        network = load_model(name, snapshot, version)
        trace = None
        if page in NEEDS_TRACE:
            text, target = text_controls(network.architecture, t)
            if not text.strip():
                st.info(t("msg.empty"))
                sync_url()
                return

            hide_special = False    # read by run_trace at each call: set below once decided

            def run_trace(text, target=None, pad_to=0, intervention=None):
                i = intervention or model.Intervention()
                # Clipped again here: whatever a page passes, a cache key stays small.
                text, target = hosting.clip(text)[0], (hosting.clip(target)[0] or None) if target else None
                return with_cpu_fallback(
                    lambda net: cached_trace(name, snapshot, version, text, target, int(pad_to),
                                             tuple(sorted(i.heads_off)), tuple(sorted(i.hidden_encoder_keys)),
                                             tuple(sorted(i.hidden_decoder_keys)), hide_special, net),
                    name, snapshot, version, t)

            trace = run_trace(text, target)
            output_view(trace, network, t)
            if page in HIDES_SPECIAL and has_special(trace) and special_controls(t):
                hide_special = True
                trace = run_trace(text, target)
            fitted, fit_notes = fit_to_model(view(), trace.kinds(), network.n_layers, network.n_heads)
            if fitted != view():
                st.session_state[VIEW_KEY] = fitted
                for field in ("kind", "layer", "head", "heads_off"):
                    forget_widget(field)
            for note in fit_notes:
                st.caption(note)
        else:
            run_trace = None

        def run_steps(text, max_new_tokens, intervention=None):
            heads_off = tuple(sorted((intervention or model.Intervention()).heads_off))
            text, n = hosting.clip(text)[0], hosting.bounded_new_tokens(max_new_tokens)
            return with_cpu_fallback(lambda net: cached_steps(name, snapshot, version, text, n, heads_off, net),
                                     name, snapshot, version, t)

        ctx = PageContext(view=view(), model=network, trace=trace, t=t, run_trace=run_trace,
                          run_steps=run_steps, plotly_config=PLOTLY_CONFIG)
        renderer(page)(ctx)
    sync_url()


# `streamlit run` executes this file as __main__; tests may import it for its constants.
if __name__ == "__main__":
    main()
