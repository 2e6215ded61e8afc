"""What a page receives: the view state, the loaded model, its trace, the translator, and
widgets bound to the view state (so every choice lands in the URL and survives page changes)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional

import streamlit as st

from viz.figure import for_projector

from .state import ViewState, to_query

logger = logging.getLogger("attention_explorer")
VIEW_KEY = "view"


def view() -> ViewState:
    return st.session_state[VIEW_KEY]


def set_view(**changes) -> ViewState:
    st.session_state[VIEW_KEY] = replace(st.session_state[VIEW_KEY], **changes)
    return st.session_state[VIEW_KEY]


def sync_url() -> None:
    """Write the current view into the address bar, so a copied link reopens it."""
    wanted = to_query(view())
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)


def bound(widget: Callable, field: str, label: str, on_change: Optional[Callable] = None, instance: str = "",
          **kwargs) -> Any:
    """widget(label, ...) (st.radio, a column's selectbox...) whose value is the view's `field`.

    Streamlit forgets a widget's state when a page stops drawing it; the view keeps the value,
    and the widget is re-seeded from it whenever it comes back. A change is written into the
    view by the widget's callback, which Streamlit runs before the script: the whole run sees it
    (a language picked in the sidebar translates the sidebar drawn above it in the same run).
    """
    # `instance`: one widget per instance for a field whose options differ by instance (the
    # encoder's positions and the decoder's): the browser keeps a slider where it was when its
    # options change under the same key, whatever the server sets.
    key = f"w.{field}" + (f".{instance}" if instance else "")
    if st.session_state.get(RESEED_KEY, 0) > 0 and key in st.session_state:
        st.session_state.pop(key)            # re-seeded from the view below (keep_widget_values)
    if key not in st.session_state:
        value, options = getattr(view(), field), kwargs.get("options")
        chosen = value if isinstance(value, (tuple, list)) else (value,)    # a multiselect holds several
        # a value that is not an option here is left out: the widget opens on its default and
        # the view follows it (Streamlit would raise on it)
        if options is None or all(v in list(options) for v in chosen):
            st.session_state[key] = value

    def changed() -> None:
        if key not in st.session_state:     # a run that was cut short may have dropped it
            return
        set_view(**{field: st.session_state[key]})
        if on_change is not None:
            on_change()

    value = widget(label, key=key, on_change=changed, **kwargs)
    if value != getattr(view(), field):
        set_view(**{field: value})
    return value


def keep_widget_values() -> None:
    """Store every widget's value again as its Python value, from the language switch's callback,
    before the labels of the widgets change.

    A radio, select box or slider keeps its state as the *label* of the chosen option (its
    format_func's text); once the labels are in another language no option matches the kept one,
    and Streamlit empties the widget or falls back to its first option (a training snapshot of
    "untrained"). A value set from a callback is matched by value, then drawn with the new labels
    (measured in Chromium: tests/browser/test_language_switch.py). Booleans are left alone: buttons
    cannot be set, and a checked box has no label to lose; so are dicts (a data editor's edits
    cannot be set either).
    """
    for key in list(st.session_state.keys()):
        value = st.session_state[key]
        if value is not None and not isinstance(value, (bool, dict)):
            st.session_state[key] = value
    # A rerun the browser starts soon after (an attention canvas telling its choice) may still
    # carry a radio's old-language label, which no option matches: the radio then shows nothing
    # chosen (seen in Chromium). The bound widgets of the next runs are seeded from the view again.
    st.session_state[RESEED_KEY] = RESEED_RUNS


RESEED_KEY, RESEED_RUNS = "language.reseed_runs", 3


def end_of_run() -> None:
    """Called once a run has drawn the page: count down the runs that re-seed bound widgets."""
    if st.session_state.get(RESEED_KEY, 0) > 0:
        st.session_state[RESEED_KEY] -= 1


def forget_widget(field: str) -> None:
    """Drop a widget's own state so it is re-seeded from the view (after the view changed)."""
    st.session_state.pop(f"w.{field}", None)


@contextmanager
def shown_errors(t: Callable[..., str], what: str):
    """Anything unexpected becomes a short st.error; the traceback goes to the server log only."""
    try:
        yield
    except Exception as error:  # noqa: BLE001 - a user must never see a traceback
        from model import ModelLoadError
        if isinstance(error, ModelLoadError):
            from .hosting import public_error
            st.error(t("msg.load_error", error=public_error(error)))
        else:
            logger.exception("error while %s", what)
            st.error(t("msg.error", what=what))


@dataclass
class PageContext:
    """Everything a page draws from; pages never load models or run traces themselves."""

    view: ViewState
    model: Any                         # model.BuiltinModel
    trace: Optional[Any]               # model.Trace of the typed text, None when there is no text
    # The same trace before special tokens were hidden: `trace` itself when nothing is hidden,
    # None where trace is None. For what needs every position (rollout over the full sequence).
    full_trace: Optional[Any]
    t: Callable[..., str]              # translator
    run_trace: Callable[..., Any]      # cached: run_trace(text, target=None, pad_to=0, intervention=None)
    run_steps: Callable[..., Any]      # cached: run_steps(text, max_new_tokens, intervention=None)
    plotly_config: dict

    @property
    def lecture(self) -> bool:
        """Lecture mode: projector-sized text in figures, and fewer controls (no downloads or
        batch padding: what a class needs to see, not what an explorer needs to tweak)."""
        return bool(self.view.lecture)

    def chart(self, figure, key: str) -> None:
        if self.lecture:
            figure = for_projector(figure)
        st.plotly_chart(figure, key=key, config=self.plotly_config, width="stretch")
