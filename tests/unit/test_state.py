"""URL query parameters <-> view state: round trips, and every bad value falls back with a note."""
import pytest

from ui.state import MAX_TEXT_CHARS, PAGES, ViewState, fit_to_model, from_query, to_query

MODELS = ["toy-seq2seq", "toy-gpt", "toy-bert"]


def parse(params):
    return from_query(params, MODELS, "toy-seq2seq")


def test_round_trip():
    state = ViewState(page="anatomy", model="toy-gpt", text="你好 <b>x</b>", kind="decoder", layer=1,
                      head="mean", stage="masked", lang="zh", pad_to=12, query=3, key=2,
                      heads_off=(("decoder", 0, 1), ("decoder", 1, 3)), lecture=True)
    back, notes = parse({**to_query(state), "page": "anatomy"})    # the page: the URL's path (below)
    assert back == state and notes == []


def test_the_page_is_the_path_and_old_links_still_name_it():
    """The page is the URL's path (/anatomy), not a query parameter; `page=` in a link made
    before that still opens the page it names."""
    assert "page" not in to_query(ViewState(page="anatomy", model="toy-gpt"))
    for page in PAGES:
        state, notes = parse({"page": page, "model": "toy-gpt", "layer": "1"})
        assert (state.page, state.layer) == (page, 1) and notes == []
    assert parse({})[0].page == PAGES[0] == "explore"


def test_defaults_without_parameters():
    state, notes = parse({})
    assert state == ViewState(model="toy-seq2seq") and notes == []


@pytest.mark.parametrize("params,field", [
    ({"page": "admin"}, "page"), ({"model": "../../etc/passwd"}, "model"), ({"kind": "Cross"}, "kind"),
    ({"layer": "-1"}, "layer"), ({"layer": "1e9"}, "layer"), ({"layer": "abc"}, "layer"),
    ({"head": "mean2"}, "head"), ({"stage": "<script>"}, "stage"), ({"lang": "fr"}, "lang"),
    ({"pad_to": "99999999"}, "pad_to"), ({"snapshot": "best"}, "snapshot"),
])
def test_bad_values_fall_back_with_a_note(params, field):
    state, notes = parse(params)
    assert getattr(state, field) == getattr(ViewState(model="toy-seq2seq"), field)
    assert len(notes) == 1 and field in notes[0]


def test_stage_takes_the_matrix_views_and_old_links_open_the_same_view():
    """stage= is one of viz.stages.MATRIX_VIEWS (the one vocabulary); names of links made before
    it (model.trace.LEGACY_STAGES, and the old "bias"/"logits") open the same view, silently, and
    a new link writes the new name."""
    from model.trace import LEGACY_STAGES, STAGES as MODEL_STAGES
    from viz.stages import MATRIX_VIEWS
    assert set(MATRIX_VIEWS) - {"mask"} <= set(MODEL_STAGES)
    for view in MATRIX_VIEWS:
        state, notes = parse({"stage": view})
        assert state.stage == view and notes == []
    for old, new in (("bias", "biased"), ("logits", "masked"), ("alpha", "weights"), ("mask", "mask"),
                     ("scores", "scores"), ("scaled", "scaled"), ("weights", "weights")):
        state, notes = parse({"stage": old})
        assert state.stage == new and notes == [], old
        if new != ViewState().stage:
            assert to_query(state)["stage"] == new
    assert LEGACY_STAGES["bias"] == "biased" and LEGACY_STAGES["logits"] == "masked"
    # "z" (the context) is a stage but not a matrix: the default view, with a note.
    state, notes = parse({"stage": "z"})
    assert state.stage == ViewState().stage and len(notes) == 1 and "stage" in notes[0]


def test_long_text_is_cut_with_a_note():
    state, notes = parse({"text": "a" * (MAX_TEXT_CHARS + 5)})
    assert len(state.text) == MAX_TEXT_CHARS and "kept the first" in notes[0]


def test_list_values_take_the_first():
    state, _ = parse({"layer": ["2", "3"]})
    assert state.layer == 2


def test_fit_to_model_clamps_with_notes():
    state = ViewState(model="toy-gpt", kind="cross", layer=7, head=9, heads_off=(("decoder", 0, 1), ("decoder", 5, 0)))
    fitted, notes = fit_to_model(state, ["decoder"], n_layers=2, n_heads=4)
    assert (fitted.kind, fitted.layer, fitted.head) == ("decoder", 0, 0)
    assert fitted.heads_off == (("decoder", 0, 1),)
    assert len(notes) == 4
