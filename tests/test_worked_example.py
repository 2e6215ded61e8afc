"""The source text's worked example: 4 tokens x 4 dimensions, down to z_1, checked by plain numpy."""
import numpy as np
import pytest

import model


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
    ex = model.worked_example(seed=0, causal=causal)
    assert ex["X"].shape == (4, 4) and ex["d_k"] == 4
    Q, K, V, alpha, z = numpy_attention(ex["X"].astype(np.float64), ex["W_Q"], ex["W_K"], ex["W_V"], causal)
    for name, expected in [("Q", Q), ("K", K), ("V", V), ("alpha", alpha), ("z", z)]:
        np.testing.assert_allclose(ex[name], expected, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(ex["scores"], Q @ K.T, atol=1e-5)
    np.testing.assert_allclose(ex["scaled"], Q @ K.T / 2.0, atol=1e-5)   # √d_k = 2
    if causal:
        assert np.all(ex["alpha"][0, 1:] == 0) and ex["alpha"][0, 0] == pytest.approx(1.0)


def test_given_matrices_and_seed():
    X = np.eye(4, dtype=np.float32)
    ex = model.worked_example(X=X, W_Q=np.eye(4), W_K=np.eye(4), W_V=np.arange(16.0).reshape(4, 4))
    # Q = K = I: each token scores 1 with itself, 0 with the others.
    np.testing.assert_allclose(ex["scores"], np.eye(4), atol=1e-6)
    e = np.exp(0.5)
    np.testing.assert_allclose(ex["alpha"][0], [e / (e + 3), 1 / (e + 3), 1 / (e + 3), 1 / (e + 3)], rtol=1e-5)
    assert not np.array_equal(model.worked_example(seed=0)["X"], model.worked_example(seed=1)["X"])
    np.testing.assert_array_equal(model.worked_example(seed=3)["X"], model.worked_example(seed=3)["X"])


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="shapes"):
        model.worked_example(X=np.ones((4, 4)), W_Q=np.ones((3, 4)))
