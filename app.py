"""Attention Explorer: type text, run a small Transformer, see every layer and head of its attention.

Thin by design (DESIGN.md): *_controls() return the user's choices, main() wires them to
model.load(...).trace(...) and viz.*; no maths here.
"""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Optional

import streamlit as st

import model
import viz

logger = logging.getLogger("attention_explorer")

DEFAULT_TEXTS = {
    "toy-seq2seq": "reverse: hello world",
    "toy-gpt": "the cat sat on the mat. the cat sat on the",
    "toy-bert": "the c[MASK]t sat on the m[MASK]t",
}
FALLBACK_TEXT = "hello world"
# Decoder-only models continue the text; a short continuation keeps the matrices readable.
NEW_TOKENS = 24
OUTPUT_LABELS = {
    "encoder-decoder": "Generated output (greedy)",
    "decoder-only": f"Continuation (greedy, {NEW_TOKENS} characters)",
    "encoder-only": "Text with each [MASK] filled by the top prediction",
}
KIND_TITLES = {
    "encoder": "Encoder self-attention: every position sees every other",
    "decoder": "Decoder masked self-attention: no position sees the future",
    "cross": "Encoder–decoder (cross) attention: decoder queries, encoder keys and values",
}
PLOTLY_CONFIG = {"displaylogo": False}


# ---- cached work ------------------------------------------------------------------------------

@st.cache_resource(show_spinner="Loading the model…", max_entries=8)
def load_model(name: str, version: int = 0):
    # `version` (model.weights_version) only makes a retrained checkpoint a new cache entry.
    return model.load(name)


@st.cache_data(max_entries=64, show_spinner="Running the model…")
def run_trace(name: str, version: int, text: str, target: Optional[str], _model) -> model.Trace:
    """Keyed on (name, weights version, text, target): the model object itself is not hashable."""
    new_tokens = NEW_TOKENS if _model.architecture == "decoder-only" else 0
    return _model.trace(text, target, max_new_tokens=new_tokens)


@contextmanager
def shown_errors(what: str):
    """Anything unexpected becomes a short st.error; the traceback goes to the server log only."""
    try:
        yield
    except model.ModelLoadError as error:
        st.error(f"The model could not be loaded: {error}")
    except Exception:  # noqa: BLE001 - a user must never see a traceback
        logger.exception("error while %s", what)
        st.error(f"Something went wrong while {what}. The details are in the server log.")


# ---- controls ---------------------------------------------------------------------------------

def _model_changed() -> None:
    """Swap in the new model's example text, unless the user typed their own."""
    if st.session_state.get("text") in (*DEFAULT_TEXTS.values(), FALLBACK_TEXT, ""):
        st.session_state["text"] = DEFAULT_TEXTS.get(st.session_state["model"], FALLBACK_TEXT)


def model_controls(container) -> Optional[str]:
    """The chosen model name, or None when no model's files are present."""
    names = model.available()
    if not names:
        st.error("No model files were found in assets/. Rebuild them with: python -m model.train NAME")
        return None
    index = names.index(model.DEFAULT_MODEL) if model.DEFAULT_MODEL in names else 0
    return container.selectbox("Model", names, index=index, key="model", on_change=_model_changed)


def text_controls(name: str, architecture: str, text_box, target_box) -> tuple[str, Optional[str]]:
    """(text, target); target is None unless an encoder-decoder is given one (teacher forcing)."""
    if "text" not in st.session_state:
        st.session_state["text"] = DEFAULT_TEXTS.get(name, FALLBACK_TEXT)
    text = text_box.text_input("Text", key="text", placeholder="Type some text and press Enter")
    target = None
    if architecture == "encoder-decoder":
        target = target_box.text_input(
            "Target (optional)", key="target", placeholder="empty: the model generates it",
            help="Teacher forcing: the decoder reads this text instead of its own greedy output.")
    return text, (target or None)


def head_controls(layers: list[int], n_heads: int, key: str) -> tuple[int, object, str]:
    """(layer, head or "mean", stage) for the detail view of one attention kind."""
    left, middle, right = st.columns([2, 3, 4])
    layer = left.radio("Layer", layers, horizontal=True, key=f"{key}.layer")
    head = middle.radio("Head", ["mean", *range(n_heads)], index=1 if n_heads else 0, horizontal=True,
                        format_func=lambda h: "mean" if h == "mean" else str(h), key=f"{key}.head")
    stage = right.radio("Stage", viz.STAGES, index=viz.STAGES.index("weights"), horizontal=True,
                        format_func=lambda s: viz.STAGE_TITLES[s], key=f"{key}.stage")
    return layer, head, stage


# ---- views ------------------------------------------------------------------------------------

@st.fragment
def head_viewer(kind: str, records: list, key: str) -> None:
    """Layer/head/stage pickers and the chosen head's heatmap; reruns alone, never the model."""
    with shown_errors(f"drawing the {kind} heads"):
        layer, head, stage = head_controls(sorted({r.layer for r in records}), records[0].n_heads, key)
        record = next(r for r in records if r.layer == layer)
        st.plotly_chart(viz.head_heatmap(record, head, stage), key=f"{key}.detail", config=PLOTLY_CONFIG)


def output_view(trace: model.Trace, network) -> None:
    st.markdown(f"**{OUTPUT_LABELS.get(trace.architecture, 'Output')}**")
    if trace.output_text:
        # st.code shows the text as it is: no Markdown, no HTML, whatever the model or user wrote.
        st.code(trace.output_text, language=None, wrap_lines=True)
    else:
        st.caption("(the model produced no text)")
    if trace.truncated:
        st.warning(f"The input was too long for this model ({network.max_len} tokens): "
                   f"{trace.truncated} tokens were cut from the end.")
    unknown = sorted({t for t, u in zip(trace.source_tokens + trace.target_tokens,
                                         trace.source_unknown + trace.target_unknown) if u})
    if unknown:
        # st.code, not markdown: the characters are shown as they are, whatever they are.
        st.caption("Characters outside this model's vocabulary (it reads them as <unk>; labels keep them):")
        st.code(" ".join(unknown), language=None)
    st.caption(f"{network.name}: {network.architecture}, {network.n_layers} layers × {network.n_heads} heads. "
               "Token labels: ␣ is a space, ↵ a newline.")


def attention_view(trace: model.Trace, name: str) -> None:
    for kind in trace.kinds():
        records = trace.records_of(kind)
        st.subheader(KIND_TITLES.get(kind, kind))
        st.plotly_chart(viz.overview_image(records), key=f"{name}.{kind}.overview", config=PLOTLY_CONFIG)
        head_viewer(kind, records, key=f"{name}.{kind}")


def main() -> None:
    st.set_page_config(page_title="Attention Explorer", layout="wide")
    st.title("Attention Explorer")
    st.caption("Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: every layer and head of a small Transformer, "
               "for the text you type.")
    with shown_errors("running the model"):
        model_box, text_box, target_box = st.columns([1, 3, 2])
        name = model_controls(model_box)
        if name is None:
            return
        version = model.weights_version(name)
        network = load_model(name, version)
        text, target = text_controls(name, network.architecture, text_box, target_box)
        if not text.strip():
            st.info("Please type some text above to see its attention.")
            return
        trace = run_trace(name, version, text, target, network)
        output_view(trace, network)
        attention_view(trace, name)


# `streamlit run` executes this file as __main__; tests may import it for its constants.
if __name__ == "__main__":
    main()
