"""viz/: figures from tiny hand-made AttentionRecords (numpy only, no model, no torch forward)."""
import base64
import io
import json

import numpy as np
import plotly.graph_objects as go
import pytest
from PIL import Image

import viz
from viz import colors
from viz.overview import GAP_PIXELS, cell_pixels
from tests.invariants import hand_record as make_record
from tests import ROOT


def spec(fig):
    """What the browser receives: the figure's JSON."""
    return json.loads(fig.to_json())


def decode_png(uri):
    assert uri.startswith("data:image/png;base64,")
    return np.array(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))).convert("RGB"))


# ---- the detail heatmap -----------------------------------------------------------------------

def test_heatmap_shape_dtype_and_binary_payload():
    record = make_record(n_heads=3, query_tokens=list("abcd"), key_tokens=list("xyzuvw"), kind="cross")
    fig = viz.head_heatmap(record, head=2)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Heatmap)
    z = np.asarray(fig.data[0].z)
    assert z.shape == (4, 6) and z.dtype == np.float32
    np.testing.assert_allclose(z, record.weights[2])
    sent = spec(fig)["data"][0]["z"]
    # float32 travels as a binary typed array, not as JSON numbers
    assert sent["dtype"] == "f4" and "bdata" in sent


def test_heatmap_rows_are_queries_at_the_top_and_labels_are_tokens():
    record = make_record(query_tokens=["<bos>", "你", "好", " ", "😀"], key_tokens=["世", "界", "l", "l"],
                         kind="cross")
    layout = spec(viz.head_heatmap(record, 0))["layout"]
    assert layout["yaxis"]["ticktext"] == ["&lt;bos&gt;", "你", "好", "␣", "😀"]
    assert layout["xaxis"]["ticktext"] == ["世", "界", "l", "l"]
    # repeated tokens ("l", "l") must stay separate columns on a categorical axis
    assert len(set(layout["xaxis"]["tickvals"])) == 4
    y_range = layout["yaxis"]["range"]
    assert y_range[0] > y_range[1], "row 0 (first query) must be drawn at the top"
    data = spec(viz.head_heatmap(record, 0))["data"][0]
    assert data["y"] == layout["yaxis"]["tickvals"] and data["x"] == layout["xaxis"]["tickvals"]
    assert "%{y}" in data["hovertemplate"] and "%{x}" in data["hovertemplate"] and "%{z" in data["hovertemplate"]


def test_markup_in_tokens_is_escaped_everywhere():
    record = make_record(query_tokens=["<script>", "a&b", '"q"'], key_tokens=["<b>", "x", "<img src=x>"])
    fig_text = json.dumps(spec(viz.head_heatmap(record, 0)), ensure_ascii=False)
    assert "&lt;script&gt;" in fig_text and "a&amp;b" in fig_text and '\\"q\\"' in fig_text
    for raw in ("<script>", "<b>", "<img"):
        assert raw not in fig_text


def test_masked_cells_are_nan_and_hatched():
    record = make_record(kind="decoder", causal=True, query_tokens=list("abcd"), pad_rows=(3,))
    fig = viz.head_heatmap(record, 1)
    z = np.asarray(fig.data[0].z)
    np.testing.assert_array_equal(np.isnan(z), ~record.allowed)
    assert np.all(np.isnan(z[3])), "a fully masked (padding) row has no values, not zeros"
    assert len(fig.layout.images) == 1 and fig.layout.images[0].layer == "below"
    assert "masked" in fig.layout.title.subtitle.text
    unmasked = viz.head_heatmap(make_record(), 0)
    assert len(unmasked.layout.images) == 0


def test_matrix_views_are_named_in_the_one_stage_vocabulary():
    from model.trace import STAGES
    assert viz.MATRIX_VIEWS == ("scores", "scaled", "biased", "mask", "masked", "weights")
    assert set(viz.MATRIX_VIEWS) - {"mask"} <= set(STAGES)                # "mask": the allowed pattern
    assert [s for s in STAGES if s in viz.MATRIX_VIEWS] == [s for s in viz.MATRIX_VIEWS if s != "mask"]   # same order
    assert set(viz.STAGE_TITLES) == set(viz.MATRIX_VIEWS)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("stage", ("scores", "scaled", "biased", "mask", "masked", "weights"))
def test_every_stage_and_its_colour_range(stage, bias):
    record = make_record(kind="decoder", causal=True, query_tokens=list("abcde"), n_heads=5, bias=bias)
    fig = viz.head_heatmap(record, 4, stage=stage)
    z = np.asarray(fig.data[0].z)
    scaled = record.scores[4] * record.scale
    biased = scaled + (record.bias[4] if bias else 0)
    expected = {"scores": record.scores[4], "scaled": scaled, "biased": biased,
                "mask": np.ones_like(record.weights[4]),
                "masked": np.where(record.allowed, biased, -np.inf), "weights": record.weights[4]}[stage]
    np.testing.assert_allclose(z[record.allowed], expected[record.allowed], rtol=1e-6)
    assert np.isnan(z[~record.allowed]).all()
    heatmap = fig.data[0]
    if stage in ("weights", "mask"):
        assert (heatmap.zmin, heatmap.zmax) == (0, 1)
    else:
        assert heatmap.zmin == -heatmap.zmax and heatmap.zmax >= np.nanmax(np.abs(z))
    assert stage in heatmap.hovertemplate


def test_mean_head_and_bad_arguments():
    record = make_record(n_heads=4, kind="decoder", causal=True)
    z = np.asarray(viz.head_heatmap(record, "mean").data[0].z)
    expected = record.weights.mean(0)
    np.testing.assert_allclose(z[record.allowed], expected[record.allowed], rtol=1e-6)
    with pytest.raises(IndexError):
        viz.head_heatmap(record, 4)
    with pytest.raises(ValueError):
        viz.head_heatmap(record, 0, stage="softmax")


# ---- the overview image -----------------------------------------------------------------------

@pytest.mark.parametrize("n_layers,n_heads,nq,nk", [(3, 4, 5, 5), (2, 1, 3, 7), (1, 6, 40, 12)])
def test_overview_is_one_image_of_the_grid(n_layers, n_heads, nq, nk):
    records = [make_record(kind="cross", layer=i, n_heads=n_heads, query_tokens=["q"] * nq,
                           key_tokens=["k"] * nk, seed=i) for i in reversed(range(n_layers))]
    fig = viz.overview_image(records)
    assert len(fig.data) == 1 and isinstance(fig.data[0], go.Image)
    pixels = decode_png(fig.data[0].source)
    cell = cell_pixels(nq, nk)
    assert pixels.shape == (n_layers * nq * cell + (n_layers - 1) * GAP_PIXELS,
                            n_heads * nk * cell + (n_heads - 1) * GAP_PIXELS, 3)
    assert list(fig.layout.yaxis.ticktext) == [f"layer {i}" for i in range(n_layers)]
    assert list(fig.layout.xaxis.ticktext) == [f"head {h}" for h in range(n_heads)]


def test_overview_colours_match_the_heatmap_scale_and_masks_are_hatched():
    record = make_record(kind="decoder", causal=True, query_tokens=list("abcd"), n_heads=2)
    pixels, geo = viz.overview_rgb([record])
    cell = geo["cell"]
    # row 0 may only see key 0: weight exactly 1, the top of the scale
    np.testing.assert_array_equal(pixels[0, 0], colors.lookup_table(colors.SEQUENTIAL, colors.WEIGHT_GAMMA)[-1])
    masked_block = pixels[0:cell, cell * 3:cell * 4].reshape(-1, 3)            # (query 0, key 3)
    assert {tuple(p) for p in masked_block} <= {colors.MASK_RGB, colors.MASK_STRIPE_RGB}
    assert len({tuple(p) for p in masked_block}) == 2, "masked cells are striped, not flat"
    # no colour of either scale can be mistaken for the mask
    for name, gamma in (colors.stage_scale("weights"), colors.stage_scale("scores")):
        lut = colors.lookup_table(name, gamma).astype(int)
        assert np.abs(lut - np.array(colors.MASK_RGB)).sum(1).min() > 30


def test_tiles_rgb_draws_from_arrays_alone():
    """The overview's array entry: rows of (label, [tile, q, k] values, [q, k] allowed), no record."""
    records = [make_record(kind="decoder", causal=True, layer=i, seed=i, pad_rows=(2,)) for i in range(2)]
    from_records, geo = viz.overview_rgb(records, "weights")
    from_arrays, geo_arrays = viz.tiles_rgb([(r.layer, r.weights, r.allowed) for r in records], "weights")
    np.testing.assert_array_equal(from_arrays, from_records)
    assert geo_arrays == geo and geo["rows"] == [0, 1] and geo["n_tiles"] == 2
    # Any number of tiles a row (the heads and their mean, say), any label.
    extra = np.concatenate([records[0].weights, records[0].weights.mean(0, keepdims=True)])
    canvas, geo = viz.tiles_rgb([("mean too", extra, records[0].allowed)])
    assert geo["n_tiles"] == 3 and geo["rows"] == ["mean too"]
    assert canvas.shape[1] == 3 * geo["tile_w"] + 2 * geo["gap"]
    with pytest.raises(ValueError):
        viz.tiles_rgb([])


def test_overview_refuses_mixed_kinds_and_scores_share_one_range():
    with pytest.raises(ValueError):
        viz.overview_image([make_record(kind="encoder"), make_record(kind="cross", layer=1)])
    records = [make_record(layer=i, seed=i) for i in range(2)]
    _, geo = viz.overview_rgb(records, stage="scores")
    top = max(np.abs(r.scores).max() for r in records)
    assert geo["zmin"] == pytest.approx(-top) and geo["zmax"] == pytest.approx(top)


# ---- colour helpers ---------------------------------------------------------------------------

def test_to_rgb_and_png_round_trip():
    values = np.array([[0.0, 0.5, 1.0], [np.nan, 0.25, -np.inf]], np.float32)
    masked = np.array([[False, False, True], [False, False, False]])
    rgb = colors.to_rgb(values, "Viridis", 0.0, 1.0, masked=masked)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 3, 3)
    lut = colors.lookup_table("Viridis")
    np.testing.assert_array_equal(rgb[0, 0], lut[0])
    for cell in ((0, 2), (1, 0), (1, 2)):
        assert tuple(rgb[cell]) == colors.MASK_RGB
    np.testing.assert_array_equal(decode_png(colors.png_data_uri(rgb)), rgb)


def test_png_data_uri_is_pillows_png_of_the_same_pixels():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    uri = colors.png_data_uri(rgb)
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert image.format == "PNG" and image.mode == "RGB" and image.size == (11, 7)
    np.testing.assert_array_equal(np.asarray(image), rgb)


def test_diverging_scale_is_white_at_zero():
    rgb = colors.to_rgb(np.array([[-2.0, 0.0, 2.0]], np.float32), colors.DIVERGING, -2.0, 2.0)
    assert rgb[0, 0, 2] > rgb[0, 0, 0], "negative is blue"
    assert rgb[0, 2, 0] > rgb[0, 2, 2], "positive is red"
    assert rgb[0, 1].min() > 230, "zero is (near) white"


def test_unvalidated_figures_are_the_validated_ones():
    """The app skips plotly's validation (validate=False): it must not change a byte of the JSON."""
    import plotly.io as pio
    records = [make_record(layer=layer, causal=True, pad_rows=(2,)) for layer in range(2)]
    drawn = {}
    for validate in (True, False):
        drawn[validate] = [json.loads(pio.to_json(f, validate=False)) for f in
                           (viz.head_heatmap(records[1], 0, "weights", validate=validate),
                            viz.overview_image(records, "masked", validate=validate))]
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
    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chromium")
    assert settings.browser() is None
    monkeypatch.delenv("BROWSER_PATH")
    from viz.export import SYSTEM_CHROMIUM
    assert settings.browser() in (None, *SYSTEM_CHROMIUM)


def test_nothing_in_viz_reads_the_environment_or_fakes_a_record():
    for path in sorted((ROOT / "viz").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for needle in ("os.environ", "getenv", "SimpleNamespace"):
            assert needle not in source, f"{path.name}: {needle}"


def test_long_inputs_label_every_kth_cell_and_keep_every_value():
    tokens = [f"t{i}" for i in range(512)]
    record = make_record(query_tokens=tokens, causal=True, n_heads=1, d_head=2)
    fig = viz.head_heatmap(record, 0, "weights")
    heat, layout = fig.data[0], fig.layout
    assert np.asarray(heat.z).shape == (512, 512)                 # hover reads every cell
    plot_height = layout.height - 170
    for axis, pixels in ((layout.yaxis, plot_height), (layout.xaxis, 800)):
        shown = len(axis.tickvals)
        assert 1 < shown < 512 and pixels / shown >= 11, (shown, pixels)
        positions = [int(v.rsplit("(", 1)[1].rstrip(")")) for v in axis.tickvals]
        step = positions[1] - positions[0]
        assert positions == list(range(0, 512, step))             # every k-th, evenly
        assert list(axis.ticktext) == [tokens[i] for i in positions]
    assert "hover names each" in layout.yaxis.title.text and "hover names each" in layout.xaxis.title.text
    hatch = Image.open(io.BytesIO(base64.b64decode(layout.images[0].source.split(",", 1)[1])))
    assert max(hatch.size) <= 1536
    short = viz.head_heatmap(make_record(), 0, "weights")
    assert len(short.layout.xaxis.tickvals) == 3 and "hover names" not in short.layout.xaxis.title.text


def test_long_overviews_pool_blocks_and_say_so():
    from viz.overview import pool
    rng = np.random.default_rng(0)
    v = rng.random((2, 100, 100)).astype(np.float32)
    causal = np.broadcast_to(np.tril(np.ones((100, 100), bool))[None], v.shape)
    pooled, ok = pool(v, np.ascontiguousarray(causal), 8, "max")
    assert pooled.shape == ok.shape == (2, 13, 13)
    assert np.isnan(pooled[0, 0, 1]) and not ok[0, 0, 1]                 # wholly above the diagonal
    assert pooled[0, 0, 0] == v[0, :8, :8][np.tril(np.ones((8, 8), bool))].max()
    assert pooled[1, 12, 12] == v[1, 96:, 96:][np.tril(np.ones((4, 4), bool))].max()   # ragged edge
    mean, _ = pool(v, np.ones_like(causal), 4, "mean")
    np.testing.assert_allclose(mean, v.reshape(2, 25, 4, 25, 4).mean(axis=(2, 4)), rtol=1e-6)
    records = [make_record(query_tokens=[f"t{i}" for i in range(300)], layer=l, n_heads=2, d_head=2) for l in range(2)]
    fig = viz.overview_image(records, "weights")
    canvas, geometry = viz.overview_rgb(records, "weights")
    assert geometry["pool"] == 5 and geometry["tile_h"] <= 128
    assert "max over 5×5 token pairs" in fig.layout.title.subtitle.text
    assert viz.overview_image(records[:1], "scores").layout.title.subtitle.text.startswith("each cell: the mean")
