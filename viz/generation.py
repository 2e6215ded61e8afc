"""Generation figures: cross-attention beside the target, one greedy step, teacher forcing vs prediction."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .colors import SEQUENTIAL, WEIGHT_GAMMA, colorscale, png_data_uri
from .figure import label_margin, pinned_title, top_margin
from .heatmap import PLOT_WIDTH_PIXELS, head_heatmap
from .labels import position_labels, remember_ticks, token_axis, token_label, token_labels
from .overview import _legend, tiles_rgb
from .text import Translator, english

# Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
HIGHLIGHT = "#E69F00"     # orange: the new token, the chosen bar, a prediction that differs
MATCH = "#56B4E9"         # sky blue: a prediction that equals the given token
NEUTRAL = "#EEEEEE"       # grey: tokens that are only context
OTHER_BAR = "#0072B2"     # blue: the candidates that were not chosen
TOKENS_PER_LINE = 24      # the prefix strip wraps, so a 64-token prefix stays readable
EOS = "<eos>"
GRID_WIDTH = 1000         # about the pixels a wide-layout column gives a chart
GRID_MAX_HEIGHT = 700
MIN_LABEL_PIXELS = 10     # shorter rows would overlap their labels: the mean heatmap has them anyway


def _marker_lines(y: float, x0: float, x1: float, xref: str = "x", yref: str = "y") -> list[dict]:
    """A white line under a black dashed one: visible on both ends of Viridis (dark and yellow)."""
    base = dict(type="line", xref=xref, yref=yref, x0=x0, x1=x1, y0=y, y1=y)
    return [dict(base, line=dict(color="white", width=4)),
            dict(base, line=dict(color="black", width=2, dash="dash"))]


def head_rows_with_mean(record) -> np.ndarray:
    """[head + 1, q_pos, k_pos] float32: every head's α, then the mean over heads (masked cells 0)."""
    weights = np.where(record.allowed[None], record.weights, np.float32(0)).astype(np.float32)
    return np.concatenate([weights, weights.mean(axis=0, keepdims=True)], axis=0)


# ---- 1 · cross-attention beside the target ----------------------------------------------------

def _row_ticks(tokens: Sequence[str], cell: int, pixels_per_cell_pixel: float) -> dict:
    """Target tokens beside the first tile's rows, where the drawn rows are tall enough to read."""
    if cell * pixels_per_cell_pixel < MIN_LABEL_PIXELS:
        return dict(showticklabels=False)
    return dict(tickmode="array", tickvals=[i * cell + (cell - 1) / 2 for i in range(len(tokens))],
                ticktext=token_labels(list(tokens)), tickfont=dict(size=11))


def cross_grid(record, generated_from: Optional[int] = None, title: Optional[str] = None,
               t: Translator = english) -> go.Figure:
    """One image: α of every head and of the mean, side by side (rows = target, columns = source)."""
    stacked = head_rows_with_mean(record)                                 # [head + 1, q, k]
    canvas, geo = tiles_rgb([(record.layer, stacked, record.allowed)], "weights")   # one row of tiles
    height, width, _ = canvas.shape
    n_tiles = stacked.shape[0]
    pitch = geo["tile_w"] + geo["gap"]
    fig = go.Figure(go.Image(source=png_data_uri(canvas), hoverinfo="skip"))
    drawn = float(np.clip(GRID_WIDTH * height / width, 60, GRID_MAX_HEIGHT))    # image height on screen
    shapes, notes = _legend(geo, t)
    if generated_from is not None and 0 < generated_from < stacked.shape[1]:
        shapes += _marker_lines(generated_from * geo["cell"] - 0.5, -0.5, width - 0.5)
    text = title or t("fig.gen.cross.title", layer=record.layer)
    subtitle = t("fig.gen.cross.subtitle")
    top = top_margin(text, subtitle, top_tick_font=12)
    rows = _row_ticks(record.query_tokens[:stacked.shape[1]], geo["cell"], drawn / height)
    fig.update_layout(
        title=pinned_title(text, subtitle),
        xaxis=dict(tickmode="array", tickvals=[i * pitch + (geo["tile_w"] - 1) / 2 for i in range(n_tiles)],
                   ticktext=[t("fig.head", head=h) for h in range(n_tiles - 1)] + [t("fig.mean")], side="top",
                   showgrid=False, zeroline=False, constrain="domain", constraintoward="left", tickfont=dict(size=12)),
        yaxis=dict(showgrid=False, zeroline=False, constrain="domain", constraintoward="top", ticks="", **rows),
        # The image keeps its aspect ratio (about GRID_WIDTH pixels wide on the page).
        height=int(drawn) + top + 50,
        margin=dict(l=label_margin(rows.get("ticktext", ()), 11), r=10, t=top, b=50),
        shapes=shapes, annotations=notes,
    )
    return fig


def cross_mean_heatmap(record, generated_from: Optional[int] = None, title: Optional[str] = None,
                       validate: bool = True, t: Translator = english) -> go.Figure:
    """The mean over heads of cross α as an interactive heatmap, the generated rows marked."""
    fig = head_heatmap(record, "mean", "weights", title=title, validate=validate, t=t)
    n_rows, n_cols = record.weights.shape[1:]
    if generated_from is not None and 0 < generated_from < n_rows:
        # Category axes place category i at i, so the boundary above row generated_from is at -0.5.
        fig.update_layout(shapes=_marker_lines(generated_from - 0.5, -0.5, n_cols - 0.5))
        fig.update_layout(title_subtitle_text=t("fig.gen.cross.generated", position=generated_from))
    return fig


# ---- 2 · one step of greedy generation --------------------------------------------------------

def step_prefix(step) -> list[str]:
    """The tokens the step's pass read (its records' query rows), then the token it chose."""
    return list(step.records[0].query_tokens) + [step.token]


def step_rows(step, kind: str, layer: int) -> tuple[np.ndarray, list[str]]:
    """([head + 1, k_pos] α of the step's last query row (the new token's), per head then the mean;
    the key tokens). NaN where that query may not attend."""
    record = next(r for r in step.records if r.kind == kind and r.layer == layer)
    rows = head_rows_with_mean(record)[:, -1, :]                          # [head + 1, k_pos]
    rows = np.where(record.allowed[-1][None], rows, np.float32(np.nan)).astype(np.float32)
    return rows, list(record.key_tokens)


def step_prediction_figure(step, title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """The prefix so far with the new token highlighted, and the top-5 next-token probabilities."""
    tokens = step_prefix(step)
    n = len(tokens)
    n_lines = -(-n // TOKENS_PER_LINE)
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.12,
                        row_heights=[max(n_lines, 1) * 0.6, 1.6],
                        subplot_titles=(t("fig.gen.prefix"), t("fig.gen.top5")))
    colours = [NEUTRAL] * (n - 1) + [HIGHLIGHT]
    fig.add_trace(go.Scatter(
        x=[i % TOKENS_PER_LINE for i in range(n)], y=[i // TOKENS_PER_LINE for i in range(n)],
        mode="markers+text", text=token_labels(tokens), textfont=dict(size=12, color="black"),
        marker=dict(symbol="square", size=30, color=colours,
                    line=dict(color=["#999999"] * (n - 1) + ["black"], width=[1] * (n - 1) + [3])),
        customdata=list(range(n)), hovertemplate=f"{t('fig.position')} %{{customdata}}: %{{text}}<extra></extra>",
        showlegend=False, name="prefix"), row=1, col=1)
    labels = [token_label(token) for token, _ in step.top]
    probs = np.array([p for _, p in step.top], dtype=np.float32)
    fig.add_trace(go.Bar(
        x=probs, y=labels, orientation="h", text=[f"{p:.4f}" for p in probs], textposition="outside",
        marker=dict(color=[HIGHLIGHT if token == step.token else OTHER_BAR for token, _ in step.top]),
        hovertemplate="%{y}: p = %{x:.6f}<extra></extra>", showlegend=False, name="top-5"), row=2, col=1)
    # A fixed line width keeps the token squares evenly spaced, however short the prefix.
    fig.update_xaxes(visible=False, range=[-0.7, TOKENS_PER_LINE - 0.3], row=1, col=1)
    fig.update_yaxes(visible=False, range=[n_lines - 0.5, -0.5], row=1, col=1)
    fig.update_xaxes(range=[0, 1.15], title=t("fig.gen.probability"), row=2, col=1)
    # Tokens such as "1" must stay categories; the most probable bar on top.
    fig.update_yaxes(type="category", autorange="reversed", tickfont=dict(size=14), row=2, col=1)
    fig.update_layout(
        title=dict(text=title or t("fig.gen.step.title", step=step.index, token=token_label(step.token))),
        height=160 + 40 * max(n_lines, 1) + 190, margin=dict(l=10, r=10, t=80, b=10),
    )
    return fig


def step_attention_figure(step, layer: int, title: Optional[str] = None, t: Translator = english) -> go.Figure:
    """The new token's row of α (the last query row), per head and mean: cross over the source,
    masked self over the prefix."""
    kinds = [k for k in ("cross", "decoder") if any(r.kind == k and r.layer == layer for r in step.records)]
    names = {"cross": t("fig.gen.step.cross"), "decoder": t("fig.gen.step.decoder")}
    fig = make_subplots(rows=len(kinds), cols=1, vertical_spacing=0.28 if len(kinds) > 1 else 0.1,
                        subplot_titles=[names[k] for k in kinds])
    ticks = {}
    for i, kind in enumerate(kinds, start=1):
        rows, keys = step_rows(step, kind, layer)
        cols = position_labels(keys)
        fig.add_trace(go.Heatmap(
            z=rows, x=cols, y=[t("fig.head", head=h) for h in range(rows.shape[0] - 1)] + [t("fig.mean")],
            zmin=0.0, zmax=1.0, colorscale=colorscale(SEQUENTIAL, WEIGHT_GAMMA), hoverongaps=False,
            showscale=i == 1, colorbar=dict(title=dict(text="α"), thickness=14),
            hovertemplate=f"%{{y}}<br>{t('fig.key')} %{{x}}<br>α %{{z:.4f}}<extra></extra>", name=kind), row=i, col=1)
        # Every key label that fits (a long prefix: smaller, turned, or every k-th with a note).
        x_axis, x_note = token_axis(keys, PLOT_WIDTH_PIXELS / max(len(keys), 1), "x", t=t)
        fig.update_xaxes(x_axis, title=dict(text=x_note, font=dict(size=11)), showgrid=False, row=i, col=1)
        ticks[f"xaxis{i if i > 1 else ''}"] = (PLOT_WIDTH_PIXELS / max(len(keys), 1), "x")
        fig.update_yaxes(type="category", autorange="reversed", showgrid=False, row=i, col=1)
    query = token_label(step_prefix(step)[-2])
    n_heads = step.records[0].weights.shape[0]
    fig.update_layout(
        title=dict(text=title or t("fig.gen.step.row", step=step.index, layer=layer, query=query,
                                   token=token_label(step.token))),
        height=130 + len(kinds) * (90 + 24 * (n_heads + 1)), margin=dict(l=10, r=10, t=80, b=10),
        meta=remember_ticks({}, ticks, t)["meta"],
    )
    return fig


# ---- 3 · teacher forcing: prediction beside the given token -----------------------------------

def teacher_forcing_rows(trace) -> tuple[list[str], list[str], list[list[tuple[str, float]]]]:
    """(decoder input tokens, the given next token at each position, the model's top-5 there).

    Encoder-decoder: the decoder reads <bos> + target and must produce target + <eos>.
    Decoder-only: the typed text is the given sequence; its last position predicts a token that
    was not given, so it is left out."""
    n = len(trace.predictions)                    # decoder-input positions without padding
    tokens = list(trace.decoder_tokens[:n])
    if trace.architecture == "encoder-decoder":
        return tokens, tokens[1:] + [EOS], list(trace.predictions[:n])
    prompt = trace.generated_from or n
    return tokens[:prompt - 1], tokens[1:prompt], list(trace.predictions[:prompt - 1])


def teacher_forcing_figure(inputs: Sequence[str], given: Sequence[str],
                           top: Sequence[Sequence[tuple[str, float]]], title: Optional[str] = None,
                           t: Translator = english) -> go.Figure:
    """A table as one heatmap: what the decoder reads, the given next token, the top prediction
    (orange and ✗ where it differs from the given token)."""
    n = len(given)
    predicted = [candidates[0][0] for candidates in top]
    differs = [p != g for p, g in zip(predicted, given)]
    row_names = [t("fig.gen.tf.reads"), t("fig.gen.tf.given"), t("fig.gen.tf.top"), t("fig.gen.tf.same")]
    # 0 grey (context), 1 sky blue (the prediction equals the given token), 2 orange (differs).
    z = np.zeros((4, n), np.float32)
    z[2] = np.where(differs, 2, 1)
    z[3] = z[2]
    text = [token_labels(list(inputs)), token_labels(list(given)), token_labels(predicted),
            ["✗" if d else "✓" for d in differs]]
    hover = [[""] * n, [""] * n,
             ["<br>".join(f"{token_label(tok)}: {p:.4f}" for tok, p in candidates) for candidates in top],
             [""] * n]
    scale = [[0.0, NEUTRAL], [0.25, NEUTRAL], [0.25, MATCH], [0.75, MATCH], [0.75, HIGHLIGHT], [1.0, HIGHLIGHT]]
    fig = go.Figure(go.Heatmap(
        z=z, x=list(range(n)), y=row_names, zmin=0, zmax=2, colorscale=scale, showscale=False,
        # Narrow cells (a long prompt) get a smaller font, so "<bos>" stays inside its cell.
        text=text, texttemplate="%{text}", textfont=dict(size=14 if n <= 20 else 10, color="black"), customdata=hover,
        xgap=2, ygap=2,
        hovertemplate=f"{t('fig.position')} %{{x}} · %{{y}}: %{{text}}<br>%{{customdata}}<extra></extra>"))
    text = title or t("fig.gen.tf.title", n=sum(differs), total=n)
    subtitle = t("fig.gen.tf.subtitle")
    margin_top = top_margin(text, subtitle, top_tick_font=12)
    fig.update_layout(
        title=pinned_title(text, subtitle),
        xaxis=dict(tickmode="linear", dtick=1 if n <= 40 else 5, showgrid=False, side="top", tickfont=dict(size=12)),
        yaxis=dict(type="category", autorange="reversed", showgrid=False, tickfont=dict(size=13)),
        height=210 + margin_top, margin=dict(l=label_margin(row_names, 13), r=10, t=margin_top, b=10),
    )
    return fig
