"""Generation figures: one greedy step's prefix and top-5, teacher forcing vs prediction (the
cross-attention beside the target and each step's attention are the attention canvas's)."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .figure import label_margin, pinned_title, top_margin
from .labels import token_label, token_labels
from .text import Translator, english

# Okabe–Ito colours: distinguishable with every common colour-vision deficiency.
HIGHLIGHT = "#E69F00"     # orange: the new token, the chosen bar, a prediction that differs
MATCH = "#56B4E9"         # sky blue: a prediction that equals the given token
NEUTRAL = "#EEEEEE"       # grey: tokens that are only context
OTHER_BAR = "#0072B2"     # blue: the candidates that were not chosen
TOKENS_PER_LINE = 24      # the prefix strip wraps, so a 64-token prefix stays readable
EOS = "<eos>"


# ---- 1 · one step of greedy generation (its attention: the canvas, ui/pages/generation.py) ----

def step_prefix(step) -> list[str]:
    """The tokens the step's pass read (its records' query rows), then the token it chose."""
    return list(step.records[0].query_tokens) + [step.token]


def step_record(step, layer: int):
    """The record of the step's pass the canvas shows: cross-attention at `layer` where the model
    has it (the new token's query over the source), else masked self-attention over the prefix."""
    for kind in ("cross", "decoder"):
        for record in step.records:
            if record.kind == kind and record.layer == layer:
                return record
    raise ValueError(f"the step's pass has no attention at layer {layer}")


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


# ---- 2 · teacher forcing: prediction beside the given token -----------------------------------

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
