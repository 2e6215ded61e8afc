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


def bound(widget: Callable, field: str, label: str, **kwargs) -> Any:
    """widget(label, ...) (st.radio, a column's selectbox...) whose value is the view's `field`.

    Streamlit forgets a widget's state when a page stops drawing it; the view keeps the value,
    and the widget is re-seeded from it whenever it comes back.
    """
    key = f"w.{field}"
    if key not in st.session_state:
        st.session_state[key] = getattr(view(), field)
    value = widget(label, key=key, **kwargs)
    if value != getattr(view(), field):
        set_view(**{field: value})
    return value


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
