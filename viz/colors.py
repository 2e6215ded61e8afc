"""Colour scales: plotly's colour-blind-safe scales, as plotly colour scales and as 256-entry RGB
tables (the attention canvas paints with the tables, viz/canvas.py), and the mask's grey.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import plotly.colors as pc

# Viridis: perceptually uniform, readable with every common colour-vision deficiency and in
# greyscale, and it contains no neutral grey, so the mask colour cannot be mistaken for a weight.
SEQUENTIAL = "Viridis"
# Blue for negative, white at 0, red for positive (ColorBrewer RdBu, reversed): signed scores.
DIVERGING = "RdBu_r"

# Masked cells (not allowed) are grey (the canvas hatches them in two greys, attention_canvas.js):
# neither scale contains a grey, and a hatch reads as "no value here" rather than as a small value.
MASK_CSS = "rgb(150,150,150)"


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
