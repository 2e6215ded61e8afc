"""The source text's worked example: 4 tokens x 4 dimensions, down to z_1, checked by plain numpy."""
import numpy as np
import pytest

from model.worked_example import seed_matrices, worked_example


def numpy_attention(X, W_Q, W_K, W_V, causal=False):
    Q, K, V = X @ W_Q, X @ W_K, X @ W_V
    scaled = Q @ K.T / np.sqrt(Q.shape[1])
    if causal:
        scaled = np.where(np.tril(np.ones_like(scaled, dtype=bool)), scaled, -np.inf)
    alpha = np.exp(scaled - scaled.max(1, keepdims=True))
    alpha /= alpha.sum(1, keepdims=True)
    return Q, K, V, alpha, alpha @ V


@pytest.mark.parametrize("causal", [False, True])
def test_matches_numpy(causal):
    ex = worked_example(seed=0, causal=causal)
    assert ex["X"].shape == (4, 4) and ex["d_k"] == 4
    Q, K, V, alpha, z = numpy_attention(ex["X"].astype(np.float64), ex["W_Q"], ex["W_K"], ex["W_V"], causal)
    for name, expected in [("Q", Q), ("K", K), ("V", V), ("weights", alpha), ("context", z)]:
        np.testing.assert_allclose(ex[name], expected, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(ex["scores"], Q @ K.T, atol=1e-5)
    np.testing.assert_allclose(ex["scaled"], Q @ K.T / 2.0, atol=1e-5)   # √d_k = 2
    if causal:
        assert np.all(ex["weights"][0, 1:] == 0) and ex["weights"][0, 0] == pytest.approx(1.0)


def test_stage_keys_are_the_one_vocabulary():
    """The example's stages are named as every record's are (model.trace.STAGES): weights and
    context, not the text's α and z, which stay in labels and LaTeX."""
    from model.trace import STAGES
    from model.worked_example import STAGES as EXAMPLE_STAGES
    assert set(EXAMPLE_STAGES) <= set(STAGES)
    for ex in (worked_example(0), worked_example(0, n_heads=2)["heads"][1]):
        assert set(EXAMPLE_STAGES) <= set(ex) and not {"alpha", "z"} & set(ex)


def test_given_matrices_and_seed():
    X = np.eye(4, dtype=np.float32)
    ex = worked_example(X=X, W_Q=np.eye(4), W_K=np.eye(4), W_V=np.arange(16.0).reshape(4, 4))
    # Q = K = I: each token scores 1 with itself, 0 with the others.
    np.testing.assert_allclose(ex["scores"], np.eye(4), atol=1e-6)
    e = np.exp(0.5)
    np.testing.assert_allclose(ex["weights"][0], [e / (e + 3), 1 / (e + 3), 1 / (e + 3), 1 / (e + 3)], rtol=1e-5)
    assert not np.array_equal(worked_example(seed=0)["X"], worked_example(seed=1)["X"])
    np.testing.assert_array_equal(worked_example(seed=3)["X"], worked_example(seed=3)["X"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes"):
        worked_example(X=np.ones((4, 4)), W_Q=np.ones((3, 4)))


def numpy_multi_head(X, W_Q, W_K, W_V, W_O, n_heads, causal=False):
    """Multi-head attention written out per head in plain numpy: slice, attend, concatenate, W^O."""
    d = W_Q.shape[1] // n_heads
    heads = []
    for h in range(n_heads):
        cols = slice(h * d, (h + 1) * d)
        heads.append(numpy_attention(X, W_Q[:, cols], W_K[:, cols], W_V[:, cols], causal))
    concat = np.hstack([z for *_, z in heads])
    return heads, concat, concat @ W_O


@pytest.mark.parametrize("causal", [False, True])
def test_two_heads_match_numpy(causal):
    ex = worked_example(seed=5, causal=causal, n_heads=2)
    assert ex["n_heads"] == 2 and ex["d_k"] == 2 and len(ex["heads"]) == 2
    heads, concat, output = numpy_multi_head(ex["X"].astype(np.float64), ex["W_Q"], ex["W_K"], ex["W_V"],
                                             ex["W_O"], 2, causal)
    for h, (Q, K, V, alpha, z) in enumerate(heads):
        got = ex["heads"][h]
        assert got["weights"].shape == (4, 4) and got["context"].shape == (4, 2)
        for name, expected in [("Q", Q), ("K", K), ("V", V), ("weights", alpha), ("context", z)]:
            np.testing.assert_allclose(got[name], expected, atol=1e-5, err_msg=f"head {h} {name}")
        np.testing.assert_allclose(got["scaled"], Q @ K.T / np.sqrt(2), atol=1e-5)
        if causal:
            assert np.all(np.isneginf(got["masked"][np.triu_indices(4, 1)]))
            assert np.all(got["weights"][np.triu_indices(4, 1)] == 0)
    np.testing.assert_allclose(ex["concat"], concat, atol=1e-5)
    np.testing.assert_allclose(ex["output"], output, atol=1e-5)
    assert ex["output"].shape == (4, 4)
    # The two heads see different slices, so they attend differently.
    assert not np.allclose(ex["heads"][0]["weights"], ex["heads"][1]["weights"])


def test_seed_matrices_and_w_o():
    drawn = seed_matrices(2)
    single = worked_example(seed=2)
    # Adding W^O to the seed left the single-head example's matrices as they were.
    for name in ("X", "W_Q", "W_K", "W_V"):
        np.testing.assert_array_equal(single[name], drawn[name])
    np.testing.assert_array_equal(worked_example(seed=2, n_heads=2)["W_O"], drawn["W_O"])
    W_O = np.eye(4)
    ex = worked_example(seed=2, n_heads=2, W_O=W_O)
    np.testing.assert_allclose(ex["output"], ex["concat"], atol=1e-6)   # W^O = I leaves the concat
    # A given X keeps the seed's own W^Q (not a fresh draw after X).
    np.testing.assert_array_equal(worked_example(seed=2, X=np.ones((4, 4)))["W_Q"], drawn["W_Q"])
    # One head is the single-head example, listed once under "heads".
    np.testing.assert_array_equal(single["heads"][0]["weights"], single["weights"])


def test_bad_head_counts_are_refused():
    with pytest.raises(ValueError, match="heads"):
        worked_example(n_heads=3)
    with pytest.raises(ValueError, match="W_O"):
        worked_example(n_heads=2, W_O=np.ones((3, 4)))


# ---- viz/worked.py: the example's figures and LaTeX ---------------------------------------------

from viz import worked  # noqa: E402


def test_cell_text():
    assert worked.cell_text(1.23456) == "1.235"
    assert worked.cell_text(-0.0001) == "0.000"          # never "-0.000"
    assert worked.cell_text(-2.5) == "-2.500"
    assert worked.cell_text(float("-inf")) == "−∞"
    assert worked.cell_text(float("nan")) == ""
    assert worked.latex_number(float("-inf")) == r"-\infty"
    assert worked.latex_matrix(np.array([[1, -2], [0.5, 0]])) == r"\begin{bmatrix}1.000 & -2.000 \\ 0.500 & 0.000\end{bmatrix}"
    assert worked.vector_labels("q", 3) == ["q₁", "q₂", "q₃"] and worked.sub("z", 12) == "z₁₂"


def test_panels_figure_writes_the_numbers():
    values = np.array([[0.5, -1.25], [2.0, 0.0], [-0.1234, 3.3333]], dtype=np.float32)
    fig = worked.panels_figure([worked.Panel("A", "A title", values, "signed", ["r1", "r2", "r3"], ["c1", "c2"],
                                             splits=[1]),
                                worked.Panel("W", "weights", np.full((3, 3), 1 / 3, np.float32), "weights")])
    a, w = fig.data
    assert (a.name, w.name) == ("A", "W")
    np.testing.assert_array_equal(a.z, values)
    assert a.z.dtype == np.float32
    assert list(a.y) == ["r1", "r2", "r3"] and list(a.x) == ["c1", "c2"]
    assert [list(r) for r in a.text] == [["0.500", "-1.250"], ["2.000", "0.000"], ["-0.123", "3.333"]]
    assert a.zmin == -a.zmax == pytest.approx(-3.3333, abs=1e-5)             # symmetric about 0
    assert (w.zmin, w.zmax) == (0, 1)
    assert list(w.x) == ["1", "2", "3"]                                      # default labels 1..n
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]            # row 0 on top
    assert fig.layout.yaxis2.range[0] > fig.layout.yaxis2.range[1]
    assert [a.text for a in fig.layout.annotations] == ["A title", "weights"]
    (split,) = fig.layout.shapes
    assert split.x0 == split.x1 == 0.5 and split.xref == "x"


def test_masked_cells_show_minus_infinity():
    masked = np.array([[1.0, -np.inf], [0.5, 2.0]], dtype=np.float32)
    fig = worked.panels_figure([worked.Panel("M", "mask", masked)])
    values, grey = fig.data
    assert np.isnan(values.z[0, 1]) and values.z[1, 0] == np.float32(0.5)   # -inf cannot be coloured
    assert values.text[0][1] == "" and grey.name == "M.masked"
    assert grey.text[0][1] == "−∞" and np.isnan(grey.z[0, 0]) and grey.z[0, 1] == 1
    # α keeps its zeros, greyed where masked.
    alpha = np.array([[1.0, 0.0], [0.4, 0.6]], dtype=np.float32)
    fig = worked.panels_figure([worked.Panel("a", "α", alpha, "weights", masked=np.isneginf(masked))])
    np.testing.assert_array_equal(fig.data[0].z, alpha)
    assert fig.data[1].text[0][1] == "0.000"


@pytest.mark.parametrize("causal", [False, True])
def test_example_panels(causal):
    ex = worked_example(seed=1, causal=causal)
    panels = worked.attention_panels(ex, causal)
    assert [p.key for p in panels] == ["scores", "scaled"] + (["masked"] if causal else []) + ["weights", "context"]
    for panel in panels:
        np.testing.assert_array_equal(panel.values, ex[panel.key])
    assert panels[0].row_labels == ["q₁", "q₂", "q₃", "q₄"] and panels[0].col_labels == ["k₁", "k₂", "k₃", "k₄"]
    alpha = panels[-2]
    assert alpha.kind == "weights" and alpha.masked.sum() == (6 if causal else 0)
    assert [p.key for p in worked.projection_panels(ex)] == ["Q", "K", "V"]
    assert all(not p.splits for p in worked.projection_panels(ex))

    two = worked_example(seed=1, causal=causal, n_heads=2)
    assert all(list(p.splits) == [2] for p in worked.projection_panels(two))
    head = worked.attention_panels(two["heads"][1], causal, prefix="head2.")
    assert head[0].key == "head2.scores" and head[-1].values.shape == (4, 2)
    concat, w_o, output = worked.output_panels(two, {"output": "out"})
    assert list(concat.splits) == [2] and output.title == "out" and output.values.shape == (4, 4)
    np.testing.assert_array_equal(w_o.values, two["W_O"])


def test_zi_latex_spells_out_the_sum():
    ex = worked_example(seed=0)
    scaled, alpha, total = worked.zi_latex(ex, 0)
    assert r"\left(s_{11},\ s_{12},\ s_{13},\ s_{14}\right) &= " + worked.latex_vector(ex["scaled"][0]) in scaled
    assert (r"\left(\alpha_{11},\ \alpha_{12},\ \alpha_{13},\ \alpha_{14}\right) &= "
            + worked.latex_vector(ex["weights"][0])) in alpha
    assert worked.latex_vector([0.5, -0.25]) == r"\left(0.500,\ -0.250\right)"
    for j in range(4):
        assert f"{worked.latex_number(ex['weights'][0, j])}\\,{worked.latex_vector(ex['V'][j])}" in total
    assert r"\sqrt{4}" in scaled and "M_" not in scaled
    assert total.endswith(worked.latex_vector(ex["context"][0]) + r" \end{aligned}")
    # The spelled-out terms add up to the z_1 shown (to the 3 decimals written).
    np.testing.assert_allclose(np.round(ex["weights"][0], 3) @ np.round(ex["V"], 3), ex["context"][0], atol=5e-3)

    masked = worked_example(seed=0, causal=True, n_heads=2)["heads"][1]
    scaled, alpha, total = worked.zi_latex(masked, 2, head=2)
    assert r"+ M_{3j}" in scaled and r"\sqrt{2}" in scaled and r"s^{(2)}_{34}\right)" in scaled
    assert worked.latex_vector(masked["masked"][2]) in scaled and scaled.endswith(r"-\infty\right) \end{aligned}")
    assert r"\alpha^{(2)}_{34}\right)" in alpha and r"0.000\right), \qquad" in alpha and r"z^{(2)}_{3}" in total
