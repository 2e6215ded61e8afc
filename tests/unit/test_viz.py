"""viz/: figures and colour scales from tiny hand-made AttentionRecords (numpy only, no model,
no torch forward). The attention matrices themselves are the canvas's: tests/unit/test_canvas_payload.py."""
import json

import numpy as np
import pytest

import viz
from viz import colors
from tests.invariants import hand_record as make_record
from tests import ROOT


def test_matrix_views_are_named_in_the_one_stage_vocabulary():
    from model.trace import STAGES
    assert viz.MATRIX_VIEWS == ("scores", "scaled", "biased", "mask", "masked", "weights")
    assert set(viz.MATRIX_VIEWS) - {"mask"} <= set(STAGES)                # "mask": the allowed pattern
    assert [s for s in STAGES if s in viz.MATRIX_VIEWS] == [s for s in viz.MATRIX_VIEWS if s != "mask"]   # same order
    assert set(viz.STAGE_TITLES) == set(viz.MATRIX_VIEWS)


def test_diverging_scale_is_white_at_zero_and_no_scale_holds_the_mask_grey():
    lut = colors.lookup_table(colors.DIVERGING)            # the canvas paints with these tables
    low, middle, high = lut[0], lut[len(lut) // 2], lut[-1]
    assert low[2] > low[0], "negative is blue"
    assert high[0] > high[2], "positive is red"
    assert middle.min() > 230, "zero is (near) white"
    grey = np.array([150, 150, 150])
    for name in (colors.SEQUENTIAL, colors.DIVERGING):
        assert np.abs(colors.lookup_table(name).astype(int) - grey).sum(1).min() > 30


def test_unvalidated_figures_are_the_validated_ones():
    """The app skips plotly's validation (validate=False): it must not change a byte of the JSON."""
    import plotly.io as pio
    from viz.figure import figure
    data, layout = [dict(type="heatmap", z=[[1, 2]], colorscale=colors.colorscale("Viridis"))], dict(title=dict(text="t"), height=300)
    drawn = {validate: json.loads(pio.to_json(figure(data, layout, validate), validate=False))
             for validate in (True, False)}
    assert drawn[True] == drawn[False]


def test_validation_catches_a_misspelt_property():
    from viz.figure import figure
    with pytest.raises(ValueError):
        figure([dict(type="heatmap", z=[[1]])], dict(titel="typo"))          # validates by default
    figure([dict(type="heatmap", z=[[1]])], dict(titel="typo"), validate=False)


def test_the_app_validates_figures_only_when_the_environment_asks(monkeypatch):
    """viz/ never reads the environment; ui/settings.py does, for the pages (conftest sets it)."""
    from ui import settings
    monkeypatch.setenv("ATTENTION_EXPLORER_VALIDATE_FIGURES", "1")
    assert settings.validate_figures()
    monkeypatch.setenv("ATTENTION_EXPLORER_VALIDATE_FIGURES", "0")
    assert not settings.validate_figures()


def test_nothing_in_viz_reads_the_environment_or_fakes_a_record():
    for path in sorted((ROOT / "viz").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for needle in ("os.environ", "getenv", "SimpleNamespace"):
            assert needle not in source, f"{path.name}: {needle}"


def test_long_inputs_pool_blocks_and_the_overview_says_how():
    from viz.canvas import OVERVIEW_CELLS, overview_payload_part
    from viz.pooling import pool
    rng = np.random.default_rng(0)
    v = rng.random((2, 100, 100)).astype(np.float32)
    causal = np.broadcast_to(np.tril(np.ones((100, 100), bool))[None], v.shape)
    pooled, ok = pool(v, causal, 8, "max")
    assert pooled.shape == ok.shape == (2, 13, 13)
    assert np.isnan(pooled[0, 0, 1]) and not ok[0, 0, 1]                 # wholly above the diagonal
    assert pooled[0, 0, 0] == v[0, :8, :8][np.tril(np.ones((8, 8), bool))].max()
    assert pooled[1, 12, 12] == v[1, 96:, 96:][np.tril(np.ones((4, 4), bool))].max()   # ragged edge
    mean, _ = pool(v, np.ones_like(causal), 4, "mean")
    np.testing.assert_allclose(mean, v.reshape(2, 25, 4, 25, 4).mean(axis=(2, 4)), rtol=1e-6)
    records = [make_record(query_tokens=[f"t{i}" for i in range(300)], layer=l, n_heads=2, d_head=2, causal=True)
               for l in range(2)]
    header, arrays = overview_payload_part(records)
    overview = header["overview"]
    assert overview["factor"] == 7 and overview["rows"] == overview["cols"] == 43 <= OVERVIEW_CELLS
    assert arrays["ov_weights"].shape == (2, 2, 43, 43) and "ov_biased" not in arrays    # no bias, no tiles of it
    assert (arrays["ov_weights"][:, :, 0, 1:] == 255).all()       # blocks wholly in the future: masked
