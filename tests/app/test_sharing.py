"""A link reopens what the lecturer prepared: the Generation step and decoder input, and the
worked example's seed, switches, spelled-out row and hand-edited cells. Each check makes the
view by clicking, copies the address bar's query, opens it in a fresh session and compares."""
import numpy as np

import model
from model.worked_example import seed_matrices, worked_example
from tests.apptest import assert_clean, chart, shown_page, start
from tests.app.test_page_worked_example import assert_shows, edit, traces, values


def link_of(at) -> dict:
    """The address bar's query, as a copied link carries it, with the page it shows."""
    query = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    return {**query, "page": shown_page(at)}


def test_generation_step_and_decoder_input_survive_a_link():
    at = start(page="generation", model="toy-gpt", text="the cat sat")
    assert_clean(at)
    at.number_input(key="w.new_tokens").set_value(5).run()
    at.slider(key="w.step").set_value(3).run()
    assert_clean(at)
    link = link_of(at)
    assert (link["new_tokens"], link["step"]) == ("5", "3")
    shown = chart(at, "generation.step_prediction")

    fresh = start(**link)
    assert_clean(fresh)
    assert fresh.number_input(key="w.new_tokens").value == 5
    assert fresh.slider(key="w.step").value == 3
    assert chart(fresh, "generation.step_prediction") == shown
    steps = model.load("toy-gpt").generate_steps("the cat sat", 5)
    assert fresh.slider(key="w.step").max == len(steps) - 1


def test_free_generation_chosen_by_click_survives_a_link():
    """With a target typed, the page asks for teacher forcing; a click on free generation is what
    the link must keep."""
    at = start(page="generation", model="toy-seq2seq", text="reverse: abc", target="cba")
    assert at.radio(key="w.decoder_input").value == "teacher"
    at.radio(key="w.decoder_input").set_value("free").run()
    assert_clean(at)
    link = link_of(at)
    assert link["decoder_input"] == "free"
    fresh = start(**link)
    assert_clean(fresh)
    assert fresh.radio(key="w.decoder_input").value == "free"
    assert chart(fresh, "generation.step_prediction")


def test_a_new_target_still_asks_for_teacher_forcing():
    at = start(page="generation", model="toy-seq2seq", text="reverse: abc")
    assert at.radio(key="w.decoder_input").value == "free"
    at.text_input(key="w.target").input("cba").run()
    assert at.radio(key="w.decoder_input").value == "teacher"


def test_worked_example_edits_and_switches_survive_a_link():
    at = start(page="worked-example", model="toy-gpt")
    at.number_input(key="w.seed").set_value(5).run()
    at.toggle(key="w.causal").set_value(True).run()
    at.toggle(key="w.two_heads").set_value(True).run()
    at = edit(at, "X", 1, "3", 2.5)
    at = edit(at, "W_O", 0, "1", -4.0)
    at.radio(key="w.row").set_value(3).run()
    assert_clean(at)
    link = link_of(at)
    assert (link["seed"], link["causal"], link["two_heads"], link["row"]) == ("5", "1", "1", "3")
    assert link["edits"] == "W_O.0.0:-4.0,X.1.2:2.5"        # columns are labelled 1..4

    fresh = start(**link)
    assert_clean(fresh)
    X, W_O = seed_matrices(5)["X"].copy(), seed_matrices(5)["W_O"].copy()
    X[1, 2], W_O[0, 0] = 2.5, -4.0
    expected = worked_example(5, causal=True, n_heads=2, X=X, W_O=W_O)
    np.testing.assert_allclose(fresh.data_editor[0].value.to_numpy(), X, atol=1e-6)
    np.testing.assert_allclose(values(traces(fresh)["output"]), expected["output"], atol=1e-5)
    assert fresh.radio(key="w.row").value == 3
    assert fresh.toggle(key="w.causal").value and fresh.toggle(key="w.two_heads").value

    # one head: W^O's editor goes, its edit stays in the link for when it comes back
    fresh.toggle(key="w.two_heads").set_value(False).run()
    assert link_of(fresh)["edits"] == "W_O.0.0:-4.0,X.1.2:2.5"
    assert_shows(fresh, worked_example(5, causal=True, X=X))


def test_reset_empties_the_links_edits():
    at = start(page="worked-example", model="toy-gpt", edits="X.0.0:1.5")
    assert_clean(at)
    assert at.data_editor[0].value.to_numpy()[0, 0] == 1.5
    at.button(key="worked.reset").click().run()
    assert "edits" not in link_of(at)
    np.testing.assert_allclose(at.data_editor[0].value.to_numpy(), seed_matrices(0)["X"], atol=1e-6)


def test_bad_edits_in_a_link_are_refused_with_a_note():
    at = start(page="worked-example", model="toy-gpt", edits="X.0.0:1e9,Q.1.1:2,X.5.0:1,X.1.1:0.25")
    assert_clean(at)
    notes = " ".join(c.value for c in at.code)
    assert "X.0.0:1e9" in notes and "Q.1.1:2" in notes and "X.5.0:1" in notes
    assert at.data_editor[0].value.to_numpy()[1, 1] == 0.25
