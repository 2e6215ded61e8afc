"""Latency as a user feels it: the app in Debian's Chromium, timed inside the page.

Cases (each the median of several runs; every run types a fresh text, so no cache helps):
- enter: from pressing Enter on a new 24-character input to every chart painted again;
- head: from clicking another head to its heatmap repainted (a fragment rerun, no model run);
- minilm (all-MiniLM-L6-v2, 6 layers x 12 heads): Enter to the overview of all 72 heads and
  the detail painted, at 64 and at 512 tokens (the model's maximum), and the head change at 512.
The clock is the page's performance.now(), started by the page's own keydown (Enter) or
pointerdown listener, so Playwright's actionability checks before the key or click (50-90 ms
here) are not counted; waits poll once per animation frame.
"""
from __future__ import annotations

import random
import statistics
import string

from .appserver import launch_chromium, running_app

SETTLED = ("!document.querySelector('[data-testid=stStatusWidget]')"
           " && document.querySelectorAll('.js-plotly-plot .svg-container').length >= {charts}")


# Capturing listeners: they run before Streamlit's own handlers see the event.
START_CLOCK = ("window.addEventListener('keydown', e => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);"
               "window.addEventListener('pointerdown', () => { window.__t0 = performance.now(); }, true);")


def _elapsed(page) -> float:
    """Seconds since the listener saw the key or click; an error if it never did."""
    seconds = page.evaluate("window.__t0 === null ? null : (performance.now() - window.__t0) / 1000")
    if seconds is None:
        raise RuntimeError("the page saw no keydown/pointerdown: the clock never started")
    return seconds


def _settle(page, charts: int) -> None:
    page.wait_for_function(SETTLED.format(charts=charts), timeout=180_000, polling="raf")


def _ticks_are(text_tokens: list[str]) -> str:
    """JS condition: the detail heatmap's x tick labels are exactly these tokens."""
    import json
    wanted = json.dumps(json.dumps(text_tokens, ensure_ascii=False, separators=(",", ":")))
    return ("(() => { const plots = document.querySelectorAll('.js-plotly-plot');"
            " const last = plots[plots.length - 1]; if (!last) return false;"
            " const ticks = [...last.querySelectorAll('.xtick text')].map(t => t.textContent);"
            f" return JSON.stringify(ticks) === {wanted}; }})()")


def time_enter(page, model: str, prefix: str, length: int, rng: random.Random) -> float:
    """Seconds from Enter to the new input's charts painted (encoder view of model)."""
    body = "".join(rng.choice(string.ascii_lowercase) for _ in range(length - len(prefix)))
    text = prefix + body
    box = page.get_by_label("Text", exact=True)
    box.fill(text)
    expected = [("␣" if c == " " else c) for c in text] + (["<eos>"] if model == "toy-seq2seq" else [])
    page.evaluate("window.__t0 = null")
    box.press("Enter")
    page.wait_for_function(_ticks_are(expected), timeout=180_000, polling="raf")
    _settle(page, 2)
    return _elapsed(page)


def time_head(page, head: int) -> float:
    radio = page.locator("[data-testid=stMain] [data-testid=stRadio]").filter(
        has=page.get_by_text("Head", exact=True)).first
    page.evaluate("window.__t0 = null")
    radio.get_by_text(str(head), exact=True).click()
    page.wait_for_function(
        f"[...document.querySelectorAll('.gtitle')].some(t => t.textContent.includes('· head {head} ·'))",
        timeout=60_000, polling="raf")
    _settle(page, 2)
    return _elapsed(page)


# Words that the MiniLM WordPiece vocabulary holds whole, so n words are n tokens.
WORDS = ("the cat sat on mat dog ran to park and a bird sang in tree while children played with ball "
         "under warm sun near old house by river where fish swim all day long").split()


def minilm_text(network, tokens: int, rng: random.Random) -> tuple[str, list[str]]:
    """A fresh random text of exactly `tokens` tokens ([CLS] and [SEP] included), and its
    position labels as the detail heatmap's categories will hold them."""
    from viz.labels import position_labels
    words = [rng.choice(WORDS) for _ in range(tokens - 2)]
    text = " ".join(words)
    trace = network.trace(text)
    if len(trace.encoder_tokens) != tokens:
        raise RuntimeError(f"expected {tokens} tokens, got {len(trace.encoder_tokens)}")
    return text, position_labels(trace.encoder_tokens)


def _categories_are(labels: list[str]) -> str:
    """JS condition: the detail heatmap (the last chart) holds exactly these categories."""
    import json
    wanted = json.dumps(labels, ensure_ascii=False)
    return ("(() => { const plots = document.querySelectorAll('.js-plotly-plot');"
            " const gd = plots[plots.length - 1]; if (!gd || !gd.data || !gd.data[0]) return false;"
            f" return JSON.stringify(gd.data[0].x) === JSON.stringify({wanted}); }})()")


def time_enter_minilm(page, network, tokens: int, rng: random.Random) -> float:
    """Seconds from Enter to the overview of all 6 x 12 heads and the detail painted anew."""
    text, labels = minilm_text(network, tokens, rng)
    box = page.get_by_label("Text", exact=True)
    box.fill(text)
    page.evaluate("window.__t0 = null")
    box.press("Enter")
    page.wait_for_function(_categories_are(labels), timeout=180_000, polling="raf")
    _settle(page, 2)
    return _elapsed(page)


def main(runs: int = 7) -> dict:
    from playwright.sync_api import sync_playwright

    rng = random.Random(0)
    results = {}
    with running_app() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?model=toy-seq2seq&kind=encoder")
        _settle(page, 2)
        page.evaluate(START_CLOCK)
        time_enter(page, "toy-seq2seq", "reverse: ", 24, rng)     # warm-up: imports, first paint
        enter = [time_enter(page, "toy-seq2seq", "reverse: ", 24, rng) for _ in range(runs)]
        heads = [time_head(page, head) for head in [1, 2, 3, 0] * 2][:runs]
        results["toy-seq2seq: Enter -> all charts painted (24 chars)"] = statistics.median(enter)
        results["toy-seq2seq: change head -> heatmap repainted"] = statistics.median(heads)

        import model
        minilm = model.load("minilm")
        page.goto(f"{url}/?model=minilm")
        _settle(page, 2)
        page.evaluate(START_CLOCK)
        for tokens in (64, 512):
            time_enter_minilm(page, minilm, tokens, rng)               # warm-up at this length
            times = [time_enter_minilm(page, minilm, tokens, rng) for _ in range(runs)]
            results[f"minilm: Enter -> 72-head overview painted ({tokens} tokens)"] = statistics.median(times)
        heads = [time_head(page, head) for head in [1, 2, 3, 0] * 2][:runs]
        results["minilm: change head -> heatmap repainted (512 tokens)"] = statistics.median(heads)
        browser.close()
    print(f"browser latency (Debian Chromium, headless; median of {runs})")
    for name, seconds in results.items():
        print(f"  {name:55s} {seconds * 1000:7.0f} ms")
    return results
