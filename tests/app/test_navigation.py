"""Pages as routes (st.navigation over ui/registry.py) through AppTest: old ?page= links open
their page with the same view, the view survives page switches, titles follow the language, and
a page gets the trace before special tokens were hidden (full_trace)."""
import importlib

import pytest
import streamlit as st

import app
from ui import registry
from ui.context import set_view
from ui.i18n import TEXTS
from ui.state import PAGES
from tests.apptest import assert_clean, canvas, choose_in_canvas, navigate, param, shown_page, start

# One widget only each page draws: (element type, key).
MARKERS = {
    "explore": ("number_input", "w.pad_to"),
    "anatomy": ("multiselect", "anatomy.heads"),
    "block": ("radio", "block.kind"),
    "generation": ("radio", "w.decoder_input"),
    "worked-example": ("number_input", "w.seed"),
    "aggregates": ("button", "aggregates.open"),
    "intervene": ("multiselect", "w.heads_off"),
}
# A view with something other than the default in every field a link can carry.
LINK = {"model": "toy-seq2seq", "text": "reverse: abcd", "kind": "cross", "layer": "2", "head": "1",
        "stage": "scores", "snapshot": "middle", "query": "1", "key": "2"}


def drawn(at) -> list[str]:
    """The pages whose marker widget is on the screen."""
    return [page for page, (kind, key) in MARKERS.items() if any(w.key == key for w in at.get(kind))]


def assert_view(at, page: str, params: dict) -> None:
    """`page` is shown, and the view and the URL's query hold every linked value."""
    assert_clean(at)
    assert shown_page(at) == page and drawn(at) == [page]
    assert "page" not in at.query_params          # the URL's path names the page now
    view = at.session_state["view"]
    for name, value in params.items():
        if name in ("page", "lang"):
            continue
        assert str(getattr(view, name)) == value, name
        assert param(at, name) == value, name
    if "lang" in params:
        assert view.lang == params["lang"] and param(at, "lang") == params["lang"]


def test_the_registry_is_the_one_list_of_pages():
    assert PAGES == registry.IDS == tuple(MARKERS)
    assert registry.DEFAULT == "explore"
    for entry in registry.PAGES:
        assert entry.id.replace("-", "").isalnum() and entry.id == entry.id.lower()
        assert callable(entry.render)
        for lang in ("en", "zh"):
            assert TEXTS[lang][entry.title_key].strip()
    # hiding special tokens and needing a trace are the registry's to say
    assert not hasattr(app, "HIDES_SPECIAL")
    assert [p.id for p in registry.PAGES if p.hides_special] == ["explore", "anatomy", "aggregates"]
    assert [p.id for p in registry.PAGES if not p.needs_trace] == ["worked-example"]


@pytest.mark.parametrize("page", PAGES)
def test_an_old_link_opens_its_page_with_the_same_view(page):
    """/?page=<page>&... (links in lecturers' slides) opens that page with the linked view; the
    URL the app writes then says the page by its path."""
    params = {"page": page, **LINK, **({"lang": "zh"} if PAGES.index(page) % 2 else {})}
    at = start(**params)
    assert_view(at, page, params)
    # and the session goes on there: a rerun stays on the page
    at.run()
    assert_view(at, page, params)


def test_an_old_link_with_a_bad_page_opens_the_default_with_a_note():
    at = start(page="admin", model="toy-gpt")
    assert_clean(at)
    assert shown_page(at) == "explore" and drawn(at) == ["explore"]
    assert any("could not be used" in w.value for w in at.warning)


def test_switching_pages_keeps_the_view():
    """Every page in turn, as clicked in the page list, and back to the first: the model, text,
    language and each choice stay, in the view, in the URL and in the widgets that show them."""
    params = {**LINK, "lang": "zh"}
    at = start(**params)
    assert_view(at, "explore", params)
    for page in ["anatomy", "block", "generation", "worked-example", "aggregates", "intervene", "explore", "anatomy"]:
        navigate(at, page)
        assert_view(at, page, params)
        assert at.selectbox(key="w.model").value == "toy-seq2seq" and at.radio(key="w.lang").value == "zh"
        if page != "worked-example":
            assert at.text_input(key="w.text").value == LINK["text"]
        if page == "explore":      # its own widgets were re-seeded from the view, not reset
            assert (at.radio(key="w.kind").value, at.radio(key="w.layer").value) == ("cross", 2)
            header, _ = canvas(at, "explore.canvas")      # and the canvas opens on the view's head and cell
            assert (header["kind"], header["layer"], header["head"], header["stage"]) == ("cross", 2, 1, "scores")
            assert header["cell"] == [1, 2]
        if page == "anatomy":
            header, _ = canvas(at, "anatomy.canvas")
            assert (at.radio(key="w.layer").value, header["layer"], header["head"], header["stage"]) == (2, 2, 1, "scores")
            assert header["cell"] == [1, 2]


def test_a_choice_made_on_one_page_holds_on_the_next():
    at = start(model="toy-gpt", text="abcabc", layer=0, head=0)
    choose_in_canvas(at, head=3)                 # picked in the attention canvas
    at.radio(key="w.layer").set_value(1).run()
    navigate(at, "anatomy")
    assert (at.radio(key="w.layer").value, canvas(at, "anatomy.canvas")[0]["head"]) == (1, 3)
    choose_in_canvas(at, "anatomy.canvas", head=2)     # and another in Head anatomy's canvas
    navigate(at, "explore")
    assert_clean(at)
    assert at.radio(key="w.layer").value == 1 and canvas(at, "explore.canvas")[0]["head"] == 2
    assert (param(at, "layer"), param(at, "head")) == ("1", "2")
    # and back again: a head picked in the canvas holds on Head anatomy
    choose_in_canvas(at, head=0)
    navigate(at, "anatomy")
    assert_clean(at)
    assert (at.radio(key="w.layer").value, canvas(at, "anatomy.canvas")[0]["head"]) == (1, 0)


def registered_titles(at) -> list[str]:
    """The page list's titles, as the last run gave them to st.navigation."""
    return [info["page_name"] for info in at._registered_pages.values()]


def test_page_titles_follow_the_language():
    at = start(model="toy-gpt")
    assert registered_titles(at) == [TEXTS["en"][p.title_key] for p in registry.PAGES]
    at.radio(key="w.lang").set_value("zh").run()
    assert_clean(at)
    assert registered_titles(at) == [TEXTS["zh"][p.title_key] for p in registry.PAGES]
    assert registered_titles(at)[:2] == ["探索", "注意力头剖析"]


@pytest.fixture
def seen(monkeypatch):
    """Replaces each page's render with one that records the PageContext it is given."""
    contexts = {}
    for entry in registry.PAGES:
        module = importlib.import_module(f"ui.pages.{entry.module}")
        monkeypatch.setattr(module, "render", lambda ctx, page=entry.id: contexts.__setitem__(page, ctx))
    return contexts


def test_full_trace_is_the_trace_before_special_tokens_were_hidden(seen):
    start(model="toy-seq2seq", text="reverse: abc")
    ctx = seen.pop("explore")
    assert ctx.full_trace is ctx.trace
    start(model="toy-seq2seq", text="reverse: abc", hide_special=1)
    ctx = seen.pop("explore")
    assert ctx.full_trace is not ctx.trace
    assert "<eos>" in ctx.full_trace.encoder_tokens and "<eos>" not in ctx.trace.encoder_tokens
    assert ctx.full_trace.text == ctx.trace.text
    start(page="generation", model="toy-seq2seq", text="reverse: abc", hide_special=1)
    ctx = seen.pop("generation")              # a page that keeps every position
    assert ctx.full_trace is ctx.trace and "<eos>" in ctx.trace.encoder_tokens
    start(page="worked-example", model="toy-seq2seq")
    ctx = seen.pop("worked-example")
    assert ctx.trace is None and ctx.full_trace is None and ctx.run_trace is None


def test_a_page_can_send_the_reader_to_another(monkeypatch):
    """A page that sets the view's page (Aggregates' "open in Explore") switches to it."""
    from ui.pages import intervene

    def jump(ctx):
        set_view(page="anatomy", layer=1)
        st.rerun()

    monkeypatch.setattr(intervene, "render", jump)
    at = start(page="intervene", model="toy-gpt")
    assert_clean(at)
    assert shown_page(at) == "anatomy" and drawn(at) == ["anatomy"]
    assert at.radio(key="w.layer").value == 1 and param(at, "layer") == "1"
