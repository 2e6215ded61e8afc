"""The Worked example page through AppTest: the numbers drawn are model.worked_example's, and the
seed, the causal and 2-head switches, edited cells and bad entries change them as they should."""
import base64
import json
import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import model
from model.worked_example import seed_matrices, worked_example
from tests import apptest
from tests.apptest import assert_clean

EDITORS = ["X", "W_Q", "W_K", "W_V"]


def start(**params):
    """The app opened on the worked-example page with these URL query parameters."""
    return apptest.start(**{"page": "worked-example", **params})


def traces(at) -> dict:
    """Every heatmap trace on the page by name ("Q", "weights", "head2.context", "output", ...)."""
    found = {}
    for chart in at.get("plotly_chart"):
        for trace in json.loads(chart.proto.spec)["data"]:
            found[trace["name"]] = trace
    return found


def values(trace) -> np.ndarray:
    z = trace["z"]
    shape = tuple(int(n) for n in re.split(r",\s*", str(z["shape"])))
    return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape)


def editor_keys(at) -> dict:
    """matrix name -> the key of its data editor (the key carries a reset counter)."""
    return {de.key.split(".")[2]: de.key for de in at.data_editor}


def edit(at, name: str, row: int, column: str, value) -> AppTest:
    at.session_state[editor_keys(at)[name]] = {"edited_rows": {row: {column: value}}, "added_rows": [],
                                               "deleted_rows": []}
    return at.run()


def assert_shows(at, ex, names=("Q", "K", "V", "scores", "scaled", "weights", "context")):
    drawn = traces(at)
    for name in names:
        np.testing.assert_allclose(values(drawn[name]), ex[name], atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", model.available())
def test_draws_the_example_for_every_model(name):
    at = start(model=name)
    assert_clean(at)
    ex = worked_example(0)
    assert_shows(at, ex)
    assert list(traces(at)) == ["Q", "K", "V", "scores", "scaled", "weights", "context"]   # no mask panel
    drawn = traces(at)
    assert drawn["weights"]["text"][0] == [f"{a:.3f}" for a in ex["weights"][0]]       # 3 decimals in the cells
    assert drawn["Q"]["y"] == ["q₁", "q₂", "q₃", "q₄"] and drawn["scores"]["x"] == ["k₁", "k₂", "k₃", "k₄"]
    # The editors hold the seed's matrices.
    assert list(editor_keys(at)) == EDITORS
    for de, matrix in zip(at.data_editor, EDITORS):
        np.testing.assert_allclose(de.value.to_numpy(), seed_matrices(0)[matrix], atol=1e-6)
    assert list(at.data_editor[0].value.index) == ["x₁", "x₂", "x₃", "x₄"]
    # z_1 spelled out with the example's own numbers.
    latex = "\n".join(element.value for element in at.latex)
    alpha1 = r",\ ".join(f"{a:.3f}" for a in ex["weights"][0])
    assert rf"\left(\alpha_{{11}},\ \alpha_{{12}},\ \alpha_{{13}},\ \alpha_{{14}}\right) &= \left({alpha1}\right)" in latex
    z1 = r",\ ".join(f"{v:.3f}" for v in ex["context"][0])
    assert rf"&= \left({z1}\right) \end{{aligned}}" in latex
    assert r"Q = XW^Q" in latex and r"\sqrt{4}" in latex and "M_{ij}" not in latex


def test_seed_and_row_change_the_numbers():
    at = start(model="toy-bert")
    before = values(traces(at)["context"]).copy()
    at.number_input(key="w.seed").set_value(7).run()
    assert_clean(at)
    ex = worked_example(7)
    assert_shows(at, ex)
    assert not np.allclose(values(traces(at)["context"]), before)
    np.testing.assert_allclose(at.data_editor[0].value.to_numpy(), seed_matrices(7)["X"], atol=1e-6)
    # Spelling out z_3 instead of z_1.
    at.radio(key="w.row").set_value(3).run()
    latex = "\n".join(element.value for element in at.latex)
    alpha3 = r",\ ".join(f"{a:.3f}" for a in ex["weights"][2])
    assert rf"\alpha_{{34}}\right) &= \left({alpha3}\right)" in latex and r"z_{3}" in latex and r"z_{1}" not in latex


def test_causal_switch_masks_the_future():
    at = start(model="toy-gpt")
    at.toggle(key="w.causal").set_value(True).run()
    assert_clean(at)
    ex = worked_example(0, causal=True)
    assert_shows(at, ex)
    drawn = traces(at)
    above = np.triu_indices(4, 1)
    alpha = values(drawn["weights"])
    assert np.all(alpha[above] == 0) and alpha[0, 0] == pytest.approx(1.0)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0, atol=1e-6)
    # The mask panel: -inf above the diagonal, written as such on grey cells.
    masked = values(drawn["masked"])
    assert np.all(np.isnan(masked[above])) and np.all(np.isfinite(masked[np.tril_indices(4)]))
    assert drawn["masked.masked"]["text"][0] == ["", "−∞", "−∞", "−∞"]
    assert drawn["weights.masked"]["text"][0][1:] == ["0.000"] * 3
    latex = "\n".join(element.value for element in at.latex)
    assert r"-\infty & j > i" in latex and r"s_{14}\right) &= \left(" + f"{ex['scaled'][0, 0]:.3f}" + r",\ -\infty,\ -\infty,\ -\infty\right)" in latex
    at.toggle(key="w.causal").set_value(False).run()
    assert "masked" not in traces(at) and np.all(values(traces(at)["weights"])[above] > 0)


def test_two_heads_concatenate_and_multiply_by_w_o():
    at = start(model="toy-seq2seq")
    at.toggle(key="w.two_heads").set_value(True).run()
    assert_clean(at)
    ex = worked_example(0, n_heads=2)
    drawn = traces(at)
    assert list(editor_keys(at)) == EDITORS + ["W_O"]
    np.testing.assert_allclose(at.data_editor[4].value.to_numpy(), seed_matrices(0)["W_O"], atol=1e-6)
    for h in (1, 2):
        head = ex["heads"][h - 1]
        for name in ("scores", "scaled", "weights", "context"):
            np.testing.assert_allclose(values(drawn[f"head{h}.{name}"]), head[name], atol=1e-6)
        assert values(drawn[f"head{h}.context"]).shape == (4, 2)
    assert values(drawn["concat"]).shape == (4, 4) and values(drawn["output"]).shape == (4, 4)
    np.testing.assert_allclose(values(drawn["concat"]), ex["concat"], atol=1e-6)
    np.testing.assert_allclose(values(drawn["output"]), ex["output"], atol=1e-6)
    assert "weights" not in drawn   # the single-head view gives way to the heads
    latex = "\n".join(element.value for element in at.latex)
    assert r"\mathrm{Concat}(\mathrm{head}_1, \mathrm{head}_2)\, W^O" in latex and r"z^{(2)}_{1}" in latex
    # Both switches: each head masks its own future.
    at.toggle(key="w.causal").set_value(True).run()
    ex = worked_example(0, n_heads=2, causal=True)
    np.testing.assert_allclose(values(traces(at)["output"]), ex["output"], atol=1e-6)
    assert np.all(values(traces(at)["head2.weights"])[np.triu_indices(4, 1)] == 0)
    # An edited W^O changes the output only.
    at = edit(at, "W_O", 0, "1", 5.0)
    W_O = seed_matrices(0)["W_O"].copy()
    W_O[0, 0] = 5.0
    edited = worked_example(0, n_heads=2, causal=True, W_O=W_O)
    np.testing.assert_allclose(values(traces(at)["output"]), edited["output"], atol=1e-5)
    np.testing.assert_allclose(values(traces(at)["head1.weights"]), ex["heads"][0]["weights"], atol=1e-6)


def test_edited_cells_change_the_result_until_reset():
    at = start(model="toy-gpt")
    at = edit(at, "X", 1, "3", 2.5)
    assert_clean(at)
    X = seed_matrices(0)["X"].copy()
    X[1, 2] = 2.5
    assert_shows(at, worked_example(0, X=X))
    assert not np.allclose(values(traces(at)["Q"]), worked_example(0)["Q"])
    # The edit outlives other changes on the page...
    at.toggle(key="w.causal").set_value(True).run()
    assert_shows(at, worked_example(0, X=X, causal=True))
    # ...until the reset button (fresh editors, the seed's values).
    at.button(key="worked.reset").click().run()
    assert_clean(at)
    assert_shows(at, worked_example(0, causal=True))
    np.testing.assert_allclose(at.data_editor[0].value.to_numpy(), seed_matrices(0)["X"], atol=1e-6)
    # A new seed also drops edits made on the old matrices.
    at = edit(at, "W_V", 0, "1", -3.0)
    at.number_input(key="w.seed").set_value(4).run()
    assert_shows(at, worked_example(4, causal=True))


@pytest.mark.parametrize("bad", ["abc", None, 1e9])
def test_bad_entry_gives_a_message(bad):
    at = start(model="toy-bert")
    at = edit(at, "W_K", 2, "4", bad)
    assert not at.exception
    (warning,) = at.warning
    assert "W^K" in warning.value and "row 3, column 4" in warning.value
    assert at.info and not at.get("plotly_chart")   # nothing computed from a bad matrix
    # Correcting it brings the computation back.
    at = edit(at, "W_K", 2, "4", 0.5)
    assert not at.warning and len(at.get("plotly_chart")) == 2


def test_chinese_labels_and_a_visit_elsewhere():
    at = start(model="toy-bert", lang="zh")
    assert_clean(at)
    headings = " ".join(m.value for m in at.markdown)
    assert "查询 Q" in headings and "键 K" in headings and "值 V" in headings and "缩放" in headings
    at.toggle(key="w.two_heads").set_value(True)
    at.toggle(key="w.causal").set_value(True)
    at.number_input(key="w.seed").set_value(3).run()
    titles = [a["text"] for c in at.get("plotly_chart") for a in json.loads(c.proto.spec)["layout"]["annotations"]]
    assert "+ 掩码 M（因果）" in titles and "拼接(头₁, 头₂)" in titles and any("多头注意力" in t for t in titles)
    headings = " ".join(m.value for m in at.markdown)
    assert "拼接" in headings and "掩码" in headings
    at = edit(at, "X", 0, "2", 1.5)
    X = seed_matrices(3)["X"].copy()
    X[0, 1] = 1.5
    # Another page and back: the seed, the switches and the edited cell are as they were.
    apptest.navigate(at, "explore")
    apptest.navigate(at, "worked-example")
    assert_clean(at)
    assert at.number_input(key="w.seed").value == 3 and at.toggle(key="w.two_heads").value
    np.testing.assert_allclose(at.data_editor[0].value.to_numpy(), X, atol=1e-6)
    np.testing.assert_allclose(values(traces(at)["output"]),
                               worked_example(3, X=X, n_heads=2, causal=True)["output"], atol=1e-5)
