"""Colour scales: float arrays -> uint8 RGB with plotly's colour-blind-safe scales, masks hatched.

The overview image and the detail heatmap use the same scales and ranges, so a colour means the
same number in both views.
"""
from __future__ import annotations

import base64
import io
from functools import lru_cache

import numpy as np
import plotly.colors as pc
from PIL import Image

# Viridis: perceptually uniform, readable with every common colour-vision deficiency and in
# greyscale, and it contains no neutral grey, so the mask colour cannot be mistaken for a weight.
SEQUENTIAL = "Viridis"
# Blue for negative, white at 0, red for positive (ColorBrewer RdBu, reversed): signed scores.
DIVERGING = "RdBu_r"

# Masked cells (not allowed) are two greys in diagonal stripes: neither scale contains a grey,
# and a hatch reads as "no value here" rather than as a small value.
MASK_RGB = (150, 150, 150)
MASK_STRIPE_RGB = (205, 205, 205)
MASK_CSS = "rgb(150,150,150)"
# Gaps between the tiles of the overview: the page background, so tiles read as separate.
GAP_RGB = (255, 255, 255)


# Weights are coloured at position α**0.5 on the scale: with n keys a uniform head has α = 1/n,
# which a linear 0..1 scale paints as near-black for any sentence. The range stays a fixed 0..1
# (heads stay comparable) and the colour bar, linear in α, shows the bend honestly.
WEIGHT_GAMMA = 0.5


def colorscale(name: str, gamma: float = 1.0, n: int = 33) -> list[list]:
    """Explicit [value position, colour] pairs (what go.Heatmap takes); the colour at value
    position t is the named scale's colour at t**gamma."""
    if gamma == 1.0:
        return [[float(t), c] for t, c in pc.get_colorscale(name)]
    stops = np.linspace(0.0, 1.0, n)
    return [[float(t), c] for t, c in zip(stops, pc.sample_colorscale(name, list(stops ** gamma)))]


@lru_cache(maxsize=8)
def lookup_table(name: str, gamma: float = 1.0, n: int = 256) -> np.ndarray:
    """[n, 3] uint8: colours for n evenly spaced values, i.e. the scale at linspace(0, 1, n)**gamma."""
    positions = np.linspace(0.0, 1.0, n) ** gamma
    sampled = pc.sample_colorscale(pc.get_colorscale(name), list(positions), colortype="tuple")
    return np.round(np.array(sampled) * 255).astype(np.uint8)


def value_range(values: np.ndarray, stage: str) -> tuple[float, float]:
    """(zmin, zmax): 0..1 for probabilities, symmetric about 0 for signed scores."""
    if stage in ("weights", "mask"):
        # A fixed range keeps heads and inputs comparable; a stretched one would make a uniform
        # head look as sharp as a focused one.
        return 0.0, 1.0
    finite = np.abs(values[np.isfinite(values)])
    top = float(finite.max()) if finite.size else 0.0
    top = top if top > 0 else 1.0
    return -top, top


def stage_scale(stage: str) -> tuple[str, float]:
    """(scale name, gamma): sequential and bent for probabilities, diverging and linear for scores."""
    if stage == "weights":
        return SEQUENTIAL, WEIGHT_GAMMA
    return (SEQUENTIAL, 1.0) if stage == "mask" else (DIVERGING, 1.0)


def to_rgb(values: np.ndarray, name: str, zmin: float, zmax: float,
           masked: np.ndarray | None = None, gamma: float = 1.0) -> np.ndarray:
    """[rows, cols] floats -> [rows, cols, 3] uint8 on scale `name` over [zmin, zmax]; masked and
    non-finite cells get MASK_RGB (hatch_masked() adds the stripes after any upscaling)."""
    values = np.asarray(values, dtype=np.float32)
    lut = lookup_table(name, gamma)
    span = (zmax - zmin) or 1.0
    unit = np.clip((np.nan_to_num(values, nan=zmin, posinf=zmax, neginf=zmin) - zmin) / span, 0.0, 1.0)
    rgb = lut[np.round(unit * (len(lut) - 1)).astype(np.intp)]
    hidden = ~np.isfinite(values)
    if masked is not None:
        hidden |= masked
    rgb[hidden] = MASK_RGB
    return rgb


def hatch_masked(rgb: np.ndarray, hidden: np.ndarray, period: int = 6) -> np.ndarray:
    """Paint diagonal stripes over the pixels where `hidden` is True (in place, returned)."""
    rows, cols = hidden.shape
    diagonal = (np.arange(rows)[:, None] + np.arange(cols)[None, :]) % period < period // 2
    rgb[hidden] = MASK_RGB
    rgb[hidden & diagonal] = MASK_STRIPE_RGB
    return rgb


def hatch_image(rows: int, cols: int, period: int = 6) -> np.ndarray:
    """[rows, cols, 3] uint8: the mask hatch alone, drawn behind the detail heatmap's gaps."""
    return hatch_masked(np.zeros((rows, cols, 3), np.uint8), np.ones((rows, cols), bool), period)


def png_data_uri(rgb: np.ndarray) -> str:
    """A [rows, cols, 3] uint8 array as a data:image/png URI (Pillow's PNG encoder)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
