"""viz/block.py: heat strips of the block's vectors, from plain arrays (no model, no streamlit)."""
import json

import numpy as np
import pytest

from tests.apptest import array
from viz.block import Strip, heads_figure, symmetric_range, vector_strips


def spec(fig):
    return json.loads(fig.to_json())


def by_meta(fig):
    return {trace["meta"]: trace for trace in spec(fig)["data"]}


def test_each_row_is_a_strip_with_the_vectors_numbers():
    ours = np.array([0.5, -2.0, 1.0, 0.0], np.float32)
    model = ours.copy()
    model[1] = -3.0
    fig = vector_strips([Strip("ours", "recomputed", ours), Strip("model", "the model's own", model)],
                        "component (d_model = 4)", "component", "value")
    rows = by_meta(fig)
    assert list(rows) == ["ours", "model"]
    np.testing.assert_array_equal(array(rows["ours"]["z"]).reshape(-1), ours)
    np.testing.assert_array_equal(array(rows["model"]["z"]).reshape(-1), model)
    # one range for rows meant to be compared (the largest |value| of any), symmetric about 0 (white)
    assert {(r["zmin"], r["zmax"]) for r in rows.values()} == {(-3.0, 3.0)}
    assert [r["showscale"] for r in rows.values()] == [True, False]
    # row 0 is drawn on top: its axis domain lies above row 1's
    layout = spec(fig)["layout"]
    assert layout["yaxis"]["domain"][0] > layout["yaxis2"]["domain"][1]
    assert layout["xaxis"]["title"]["text"] == "component (d_model = 4)"


def test_rows_of_different_scales_each_get_their_own_range():
    x = np.array([10.0, -4.0, 3.0], np.float32)
    gamma = np.array([1.0, 0.9, 1.1], np.float32)
    rows = by_meta(vector_strips([Strip("input", "x", x), Strip("gamma", "γ", gamma)], "c", "c", "v",
                                 shared_scale=False))
    assert rows["input"]["zmax"] == 10.0 and rows["gamma"]["zmax"] == pytest.approx(1.1)
    assert rows["gamma"]["y"] == ["γ (±1.1)"] and not any(r["showscale"] for r in rows.values())


def test_concat_boundaries_are_lines_between_heads():
    fig = vector_strips([Strip("ours", "z", np.arange(12, dtype=np.float32))], "c", "c", "v",
                        boundaries=range(4, 12, 4))
    assert [s["x0"] for s in spec(fig)["layout"]["shapes"]] == [3.5, 7.5]


def test_text_is_escaped_for_plotly():
    fig = vector_strips([Strip("ours", "<b>x</b>", np.ones(3, np.float32))], "<i>axis</i>", "<a>", "v")
    trace = spec(fig)["data"][0]
    assert trace["y"] == ["&lt;b&gt;x&lt;/b&gt;"] and "<b>" not in trace["hovertemplate"]
    assert spec(fig)["layout"]["xaxis"]["title"]["text"] == "&lt;i&gt;axis&lt;/i&gt;"


def test_heads_side_by_side_on_one_range():
    z = np.arange(12, dtype=np.float32).reshape(3, 4) - 6
    fig = heads_figure(z, ["head 0", "head 1", "head 2"], "each head's z_h", "component", "value")
    rows = by_meta(fig)
    assert list(rows) == ["head0", "head1", "head2"]
    for h in range(3):
        np.testing.assert_array_equal(array(rows[f"head{h}"]["z"]).reshape(-1), z[h])
        assert (rows[f"head{h}"]["zmin"], rows[f"head{h}"]["zmax"]) == (-6.0, 6.0)
    layout = spec(fig)["layout"]
    domains = [layout[name]["domain"] for name in ("xaxis", "xaxis2", "xaxis3")]
    assert domains[0][1] < domains[1][0] and domains[1][1] < domains[2][0]     # left to right, apart
    assert [a["text"] for a in layout["annotations"]][:3] == ["head 0", "head 1", "head 2"]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="same length"):
        vector_strips([Strip("a", "a", np.ones(3)), Strip("b", "b", np.ones(4))], "c", "c", "v")
    with pytest.raises(ValueError, match="head, d_head"):
        heads_figure(np.ones(4), ["h"], "c", "c", "v")
    with pytest.raises(ValueError, match="2 titles for 3 heads"):
        heads_figure(np.ones((3, 2)), ["a", "b"], "c", "c", "v")


def test_an_all_zero_vector_still_has_a_range():
    assert symmetric_range(np.zeros(5, np.float32)) == 1.0
    assert symmetric_range(np.array([np.nan, -3.0], np.float32)) == 3.0
