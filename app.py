"""Attention Explorer: type text, run a small Transformer, see every stage of every head.

A frame around the pages (docs/ARCHITECTURE.md): page config, the sidebar's choices, Streamlit's navigation
over the pages of ui/registry.py, and for the page shown its text, trace and PageContext. The
model's cached work is in ui/runs.py; the pages are in ui/pages/. No maths here.
"""
from __future__ import annotations

import logging
import os
from dataclasses import fields, replace
from typing import Optional

import pandas as pd
import streamlit as st

import model
from model.special import has_special
from model.tokenizer import MASK
from viz.labels import VISIBLE
from ui import canvas, first_views, hosting, lecture, model_guide, share
from ui.context import (VIEW_KEY, PageContext, bound, end_of_run, forget_widget, keep_widget_values, set_view,
                        shown_errors, sync_url, view)
from ui.i18n import translator
from ui.pages import navigation_pages
from ui.registry import DEFAULT as DEFAULT_PAGE
from ui.registry import PageEntry
from ui.registry import page as page_entry
from ui.runs import NEW_TOKENS, Runs, load_model  # noqa: F401  (NEW_TOKENS: tests read app.NEW_TOKENS)
from ui.state import LANGS, SNAPSHOTS, ViewState, fit_to_model, from_query

# Each model's first text: its first view (ui/first_views.py), where it does what it was trained for.
DEFAULT_TEXTS = first_views.FIRST_TEXTS
FALLBACK_TEXT = first_views.FALLBACK_TEXT
PLOTLY_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"format": "png", "scale": 2}}


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
        # The model's first view fills what the link leaves open; a link's own values win.
        state = replace(state, **first_views.unlinked_values(state.model, st.query_params.to_dict()))
        st.session_state[VIEW_KEY] = state
        st.session_state["url_notes"] = notes
    return st.session_state["url_notes"]


def _model_changed() -> None:
    """A new model opens on its first view; text the user typed stays."""
    first_views.on_model_change(st.session_state["w.model"])


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
              format_func=lambda code: {"en": "English", "zh": "中文"}[code], on_change=keep_widget_values)
        bound(st.toggle, "lecture", t("control.lecture"))
        share.copy_link_button(t)
    return name, snapshot


def text_controls(arch: model.Architecture, t) -> tuple[str, Optional[str]]:
    """(text, target); target is None unless an encoder-decoder is given one (teacher forcing)."""
    if view().text is None:
        set_view(text=first_views.text_of(view().model))
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
    name = view().model
    # Cached: the frame loaded this model (same name, snapshot and version) before the text box.
    network = load_model(name, view().snapshot if name in model.BUILTIN_NAMES else "final",
                         model.weights_version(name))
    if view().lecture:
        # a hall needs the picture on its first screen: what the model reads is one click away
        with st.expander(t("guide.lecture"), expanded=False):
            model_guide.show(network, session_models(), t)
    else:
        model_guide.show(network, session_models(), t)
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
    # What in the input the model was not trained on, before what it made of it.
    new_tokens = NEW_TOKENS if trace.arch.generates and not trace.arch.has_encoder else 0
    model_guide.show_warnings(network, trace, t, new_tokens)
    key = f"output.{trace.arch.name}" + (".given" if trace.target is not None else "")
    if not trace.predictions and not trace.output_text:
        st.caption(t("output.no_head"))      # e.g. a sentence encoder: attention only
    elif trace.output_text:
        # in a hall the label sits beside the output: one line less above the picture
        label, box = st.columns([1, 4], vertical_alignment="center") if view().lecture else (st, st)
        heading = t(key)
        if view().lecture and network.snapshot != "final":     # the note below is left out in a hall
            heading += " · " + t("msg.snapshot.short", snapshot=t(f"snapshot.{network.snapshot}"))
        label.markdown(f"**{heading}**")
        # st.code shows the text as it is: no Markdown, no HTML, whatever the model or user wrote.
        box.code(trace.output_text, language=None, wrap_lines=True)
    else:
        st.markdown(f"**{t(key)}**")
        st.caption(t("output.none"))
    mask_guesses_view(trace, t)
    if network.snapshot != "final" and not view().lecture:
        st.info(t("msg.snapshot", snapshot=t(f"snapshot.{network.snapshot}")))
    if view().lecture:            # the model's size and the label key are in the guide above
        return
    c = network.config
    st.caption(t("model.summary", name=network.name, architecture=t(f"arch.{network.architecture}"),
                 n_layers=c.n_layers, n_heads=c.n_heads, d_model=c.d_model))
    if shows_whitespace(trace):       # character models: a space or newline is a token of its own
        st.caption(t("model.whitespace"))


def mask_guesses_view(trace: model.Trace, t) -> None:
    """The five best guesses at each [MASK], under the filled text: how sure the model is."""
    if trace.arch.generates or not trace.predictions:
        return
    masks = [i for i, token in enumerate(trace.encoder_tokens) if token == MASK]
    if not masks:
        return
    # in a hall the table folds away under its title: the first screen is for the picture
    box = st.expander(t("output.top5"), expanded=False) if view().lecture else st.container()
    if not view().lecture:
        box.markdown(f"**{t('output.top5')}**")
    escaped = model_guide.markdown_escaped
    rows = [{t("output.top5.mask"): escaped(mask_context(trace.encoder_tokens, i)), t("output.top5.position"): i,
             **{str(rank): f"{escaped(VISIBLE.get(token, token))}  {p:.0%}"
                for rank, (token, p) in enumerate(trace.predictions[i], start=1)}}
            for i in masks]
    # st.table renders Markdown in its cells: text and guesses are escaped, so "*" or "<" stay characters
    box.table(pd.DataFrame(rows))


def mask_context(tokens: list[str], i: int, width: int = 4) -> str:
    """The [MASK] at i with up to `width` tokens either side: "s m[MASK]tho" (characters are
    joined as they are, word pieces with spaces)."""
    joiner = "" if all(len(token) == 1 for token in tokens if token != MASK) else " "
    return joiner.join(tokens[max(0, i - width):i + width + 1])


def shows_whitespace(trace: model.Trace) -> bool:
    """Does any token label stand for a space or newline (drawn as ␣ or ↵)?"""
    return any(mark in token for token in trace.encoder_tokens + trace.decoder_tokens
               for mark in (" ", "\n", "␣", "↵"))


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
    models = session_models()
    if not models:
        st.set_page_config(page_title="Attention Explorer", layout="wide")
        st.error(translator("en")("msg.no_models"))
        return
    linked = VIEW_KEY not in st.session_state and "page" in st.query_params
    notes = start_session(models)    # reads the link into the view; draws nothing
    canvas.take_choices()            # head, stage, cell chosen on an attention canvas (ui/canvas.py)
    st.set_page_config(page_title="Attention Explorer", layout="wide",
                       initial_sidebar_state=lecture.sidebar_state(view().lecture))
    t = translator(view().lang)      # a language just picked is already in the view (bound's callback)
    name, snapshot = sidebar_controls(models, t)
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
    lecture.style(view().lecture)
    if not view().lecture:        # in a hall the page's own title is the heading (ui/lecture.py)
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
    end_of_run()


# `streamlit run` executes this file as __main__; tests may import it for its constants.
if __name__ == "__main__":
    main()
