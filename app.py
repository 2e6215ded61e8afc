"""Attention Explorer: type text, run a small Transformer, see every stage of every head.

A frame around the pages (docs/ARCHITECTURE.md): page config, the sidebar's choices, Streamlit's navigation
over the pages of ui/registry.py, and for the page shown its text, trace and PageContext. The
model's cached work is in ui/runs.py; the pages are in ui/pages/. No maths here.
"""
from __future__ import annotations

import logging
import os
from dataclasses import fields
from typing import Optional

import streamlit as st

import model
from model.special import has_special
from ui import hosting
from ui.context import VIEW_KEY, PageContext, bound, forget_widget, set_view, shown_errors, sync_url, view
from ui.i18n import translator
from ui.pages import navigation_pages
from ui.registry import DEFAULT as DEFAULT_PAGE
from ui.registry import PageEntry
from ui.registry import page as page_entry
from ui.runs import NEW_TOKENS, Runs, load_model  # noqa: F401  (NEW_TOKENS: tests read app.NEW_TOKENS)
from ui.state import LANGS, SNAPSHOTS, ViewState, fit_to_model, from_query

DEFAULT_TEXTS = {
    "toy-seq2seq": "reverse: hello world",
    "toy-gpt": "the cat sat on the mat. the cat sat on the",
    "toy-bert": "the c[MASK]t sat on the m[MASK]t",
    "minilm": "The animal didn't cross the street because it was too tired.",
}
FALLBACK_TEXT = "hello world"
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}
# Headings need the .stApp prefix, and their inner spans (classed st-...) must inherit:
# the [class*="st-"] rule would otherwise outrank a bare h1.
LECTURE_CSS = """<style>
html, body, [class*="st-"], .stMarkdown, label, p { font-size: 1.25rem !important; }
.stApp h1 { font-size: 3rem !important; } .stApp h2, .stApp h3 { font-size: 2.2rem !important; }
.stApp h1 *, .stApp h2 *, .stApp h3 * { font-size: inherit !important; }
.stApp { background: #ffffff; color: #000000; }
</style>"""


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


def sidebar_controls(models: list[str], t) -> tuple[str, str]:
    """(model name, snapshot), plus language and lecture mode into the view. The page list above
    them is Streamlit's navigation (main)."""
    with st.sidebar:
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
    return name, snapshot


def text_controls(arch: model.Architecture, t) -> tuple[str, Optional[str]]:
    """(text, target); target is None unless an encoder-decoder is given one (teacher forcing)."""
    if view().text is None:
        set_view(text=DEFAULT_TEXTS.get(view().model, FALLBACK_TEXT))
    if arch.reads_target:
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
    key = f"output.{trace.arch.name}" + (".given" if trace.target is not None else "")
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


# ---- pages ------------------------------------------------------------------------------------

SHOWN_PAGE = "shown_page"   # session: the page the previous run showed
# View fields whose widgets the frame draws (sidebar, text box): the same widgets on every page.
# Streamlit tells apart the widgets of different pages even under one key, so a page's own
# widgets (layer, head...) are new widgets after a switch: they are re-seeded from the view
# (ui/context.bound), or they would open on their defaults and the view would lose its values.
FRAME_FIELDS = ("page", "model", "snapshot", "lang", "lecture", "text", "target", "hide_special")


def route(pages: dict, current, linked: bool) -> PageEntry:
    """The registry entry of the page to show, with the view's `page` kept equal to it.

    st.navigation returns the page the URL's path names: after a click in the page list, Back,
    Forward or a link. Two other things name a page, and switch to it: an old link at the root,
    /?page=anatomy (`linked`: the session's first run), and a page that set the view's page
    itself (a jump such as Aggregates' "open in Explore"), seen as a run the navigation did not
    move.
    """
    shown = next(page_id for page_id, page in pages.items() if page is current)
    previous = st.session_state.get(SHOWN_PAGE)
    st.session_state[SHOWN_PAGE] = shown
    if previous is not None and previous != shown:
        for field in (f.name for f in fields(ViewState) if f.name not in FRAME_FIELDS):
            forget_widget(field)
    wanted = view().page
    if wanted != shown:
        asked = (linked and shown == DEFAULT_PAGE) if previous is None else previous == shown
        if asked:
            # the query as it is: switch_page would otherwise empty it (and the URL with it)
            st.switch_page(pages[wanted], query_params=st.query_params.to_dict())
        set_view(page=shown)
    return page_entry(shown)


def page_context(entry: PageEntry, runs: Runs, t) -> Optional[PageContext]:
    """What the page draws from: for a page that needs the trace, the text box, the model's
    output and the trace itself. None (after a message) when there is no text to run."""
    network = runs.model()
    trace = full_trace = None
    if entry.needs_trace:
        text, target = text_controls(network.arch, t)
        if not text.strip():
            st.info(t("msg.empty"))
            return None
        trace = full_trace = runs.trace(text, target)
        output_view(trace, network, t)
        if entry.hides_special and has_special(trace) and special_controls(t):
            runs.hide_special = True        # this trace, and every run_trace the page makes
            trace = runs.trace(text, target)
        fitted, fit_notes = fit_to_model(view(), trace.kinds(), network.n_layers, network.n_heads)
        if fitted != view():
            st.session_state[VIEW_KEY] = fitted
            for field in ("kind", "layer", "head", "heads_off"):
                forget_widget(field)
        for note in fit_notes:
            st.caption(note)
    return PageContext(view=view(), model=network, trace=trace, full_trace=full_trace, t=t,
                       run_trace=runs.trace if entry.needs_trace else None, run_steps=runs.steps,
                       plotly_config=PLOTLY_CONFIG)


def main() -> None:
    st.set_page_config(page_title="Attention Explorer", layout="wide")
    models = session_models()
    if not models:
        st.error(translator("en")("msg.no_models"))
        return
    linked = VIEW_KEY not in st.session_state and "page" in st.query_params
    notes = start_session(models)
    t = translator(view().lang)
    name, snapshot = sidebar_controls(models, t)
    t = translator(view().lang)      # the language may have just changed: the page titles follow
    ctx = None                       # set below, before the chosen page runs and reads it
    # The view's query goes into the address bar before st.navigation, so that a page switch is
    # one entry in the browser's history and Back and Forward step between pages: the page list
    # empties the query when it switches, and the browser pushes an entry for the new path and
    # another for every change of the query. Written first, the query is unchanged when the
    # path changes. (An old link's switch still leaves one entry at the root: `page` goes.)
    sync_url()

    pages = navigation_pages(t, lambda entry: entry.render(ctx))
    current = st.navigation(list(pages.values()), position="sidebar")
    entry = route(pages, current, linked)
    if view().lecture:
        st.html(LECTURE_CSS)   # a constant: no user text reaches HTML
    st.title(t("app.title"))
    st.caption(t("app.caption"))
    if notes:
        st.warning(t("msg.url_note", note=len(notes)))
        st.code("\n".join(notes), language=None)   # the link's raw values, shown as plain text
    with shown_errors(t, "running the model"):
        ctx = page_context(entry, Runs(name, snapshot, t), t)
        if ctx is not None:
            current.run()
    sync_url()


# `streamlit run` executes this file as __main__; tests may import it for its constants.
if __name__ == "__main__":
    main()
