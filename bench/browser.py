"""Latency as a user feels it: the app in Debian's Chromium, timed inside the page.

Cases (each the median of several runs; every run types a fresh text, so no cache helps):
- enter: from pressing Enter on a new 24-character input to every chart painted again;
- head, stage, cell: clicking another head or stage on the attention canvas to it painted, and a
  cell to its derivation shown (all in the browser: the messages sent to the server are counted);
- minilm (all-MiniLM-L6-v2, 6 layers x 12 heads): Enter to the overview of all 72 heads and
  the canvas painted, at 64 and at 512 tokens (the model's maximum), and the switches at 512;
- bytes received over the websocket per Enter.
The clock is the page's performance.now(), started by the page's own keydown (Enter) or
pointerdown listener, so Playwright's actionability checks before the key or click (50-90 ms
here) are not counted; waits poll once per animation frame.
"""
from __future__ import annotations

import random
import statistics
import string

from .appserver import launch_chromium, running_app

# The attention canvas renders in a shadow root (ui/components/attention_canvas.js): found
# through its host, whatever Streamlit calls it.
CANVAS = ("([...document.querySelectorAll('*')].filter(e => e.shadowRoot)"
          ".map(h => h.shadowRoot.querySelector('[data-testid=attention-canvas]')).find(c => c))")
SETTLED = ("!document.querySelector('[data-testid=stStatusWidget]')"
           " && document.querySelectorAll('.js-plotly-plot .svg-container').length >= {charts}"
           f" && (c => !!c && c.dataset.paint !== '0')({CANVAS})")


# Capturing listeners: they run before Streamlit's own handlers see the event. The canvas's own
# events are retargeted to its host, so a click on a cell starts the clock as well.
START_CLOCK = ("window.addEventListener('keydown', e => { if (e.key === 'Enter') window.__t0 = performance.now(); }, true);"
               "window.addEventListener('pointerdown', () => { window.__t0 = performance.now(); }, true);")


def _elapsed(page) -> float:
    """Seconds since the listener saw the key or click; an error if it never did."""
    seconds = page.evaluate("window.__t0 === null ? null : (performance.now() - window.__t0) / 1000")
    if seconds is None:
        raise RuntimeError("the page saw no keydown/pointerdown: the clock never started")
    return seconds


def _settle(page, charts: int = 0) -> None:
    page.wait_for_function(SETTLED.format(charts=charts), timeout=180_000, polling="raf")


def _canvas_labels_are(tokens: list[str]) -> str:
    """JS condition: the canvas shows these key tokens, painted (its labels may be thinned:
    every label shown must be the token at its position, "token position")."""
    import json
    wanted = json.dumps([f"{'␣' if t == ' ' else t} {i}" for i, t in enumerate(tokens)], ensure_ascii=False)
    return (f"(c => {{ if (!c || c.dataset.cols !== '{len(tokens)}') return false; const want = {wanted};"
            " const spans = [...c.querySelectorAll('.aec-xlabels span')];"
            f" return spans.length > 0 && spans.every(s => s.textContent === want[Number(s.dataset.index)]); }})({CANVAS})")


class Traffic:
    """Bytes the page receives over Streamlit's websocket, and messages it sends (a rerun is one)."""

    def __init__(self, page):
        self.received = self.sent = 0
        page.on("websocket", lambda ws: (ws.on("framereceived", self._in), ws.on("framesent", self._out)))

    def _in(self, payload):
        self.received += len(payload) if isinstance(payload, (bytes, str)) else 0

    def _out(self, _payload):
        self.sent += 1


def time_enter(page, model: str, prefix: str, length: int, rng: random.Random) -> float:
    """Seconds from Enter to the new input's overview and canvas painted (encoder view of model)."""
    body = "".join(rng.choice(string.ascii_lowercase) for _ in range(length - len(prefix)))
    text = prefix + body
    box = page.get_by_label("Text", exact=True)
    box.fill(text)
    expected = list(text) + (["<eos>"] if model == "toy-seq2seq" else [])
    page.evaluate("window.__t0 = null")
    box.press("Enter")
    page.wait_for_function(_canvas_labels_are(expected), timeout=180_000, polling="raf")
    _settle(page)
    return _elapsed(page)


def _canvas(page):
    return page.locator("[data-testid=attention-canvas]")


def time_button(page, group: str, value) -> float:
    """Seconds from clicking a canvas button (group "heads" or "stages") to the canvas painted
    with it (in the browser: no rerun)."""
    name = group[:-1]                      # the button's data-head / data-stage, the root's too
    before = _canvas(page).get_attribute("data-paint")
    page.evaluate("window.__t0 = null")
    _canvas(page).locator(f".aec-{group} button[data-{name}='{value}']").click()
    page.wait_for_function(f"(c => c.dataset.{name} === '{value}' && c.dataset.paint !== '{before}')({CANVAS})",
                           timeout=60_000, polling="raf")
    return _elapsed(page)


def time_cell(page, row: int, col: int) -> float:
    """Seconds from pressing on a cell to its derivation shown."""
    overlay = _canvas(page).locator(".aec-overlay")
    overlay.evaluate("e => e.scrollIntoView({block: 'center'})")
    box = overlay.bounding_box()
    rows, cols = int(_canvas(page).get_attribute("data-rows")), int(_canvas(page).get_attribute("data-cols"))
    page.evaluate("window.__t0 = null")
    page.mouse.click(box["x"] + (col + 0.5) * box["width"] / cols, box["y"] + (row + 0.5) * box["height"] / rows)
    page.wait_for_function(f"(c => (d => d && !d.hidden && d.dataset.row === '{row}' && d.dataset.col === '{col}')"
                           f"(c.querySelector('[data-testid=cell-derivation]')))({CANVAS})", timeout=60_000, polling="raf")
    return _elapsed(page)


# Words that the MiniLM WordPiece vocabulary holds whole, so n words are n tokens.
WORDS = ("the cat sat on mat dog ran to park and a bird sang in tree while children played with ball "
         "under warm sun near old house by river where fish swim all day long").split()


def minilm_text(network, tokens: int, rng: random.Random) -> tuple[str, list[str]]:
    """A fresh random text of exactly `tokens` tokens ([CLS] and [SEP] included), and its tokens."""
    words = [rng.choice(WORDS) for _ in range(tokens - 2)]
    text = " ".join(words)
    trace = network.trace(text)
    if len(trace.encoder_tokens) != tokens:
        raise RuntimeError(f"expected {tokens} tokens, got {len(trace.encoder_tokens)}")
    return text, list(trace.encoder_tokens)


def time_enter_minilm(page, network, tokens: int, rng: random.Random) -> float:
    """Seconds from Enter to the overview of all 6 x 12 heads and the canvas painted anew."""
    text, labels = minilm_text(network, tokens, rng)
    box = page.get_by_label("Text", exact=True)
    box.fill(text)
    page.evaluate("window.__t0 = null")
    box.press("Enter")
    page.wait_for_function(_canvas_labels_are(labels), timeout=180_000, polling="raf")
    _settle(page)
    return _elapsed(page)


def _switches(page, traffic: Traffic, runs: int) -> tuple[float, float, float, int]:
    """Medians of head switches, stage switches and cell clicks, and the messages they sent."""
    sent = traffic.sent
    heads = [time_button(page, "heads", head) for head in [1, 2, 3, "mean", 0] * 2][:runs]
    stages = [time_button(page, "stages", stage) for stage in ["scores", "scaled", "masked", "weights"] * 2][:runs]
    cells = [time_cell(page, row, col) for row, col in [(1, 2), (3, 1), (2, 4), (0, 0), (4, 3), (1, 1), (2, 2)]][:runs]
    return statistics.median(heads), statistics.median(stages), statistics.median(cells), traffic.sent - sent


def main(runs: int = 7) -> dict:
    from playwright.sync_api import sync_playwright

    rng = random.Random(0)
    results, notes = {}, []
    with running_app() as url, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        traffic = Traffic(page)
        page.goto(f"{url}/?model=toy-seq2seq&kind=encoder")
        _settle(page)
        page.evaluate(START_CLOCK)
        time_enter(page, "toy-seq2seq", "reverse: ", 24, rng)     # warm-up: imports, first paint
        received = traffic.received
        enter = [time_enter(page, "toy-seq2seq", "reverse: ", 24, rng) for _ in range(runs)]
        per_enter = (traffic.received - received) / runs
        head, stage, cell, sent = _switches(page, traffic, runs)
        results["toy-seq2seq: Enter -> overview and canvas painted (24 chars)"] = statistics.median(enter)
        results["toy-seq2seq: another head -> painted (no rerun)"] = head
        results["toy-seq2seq: another stage -> painted (no rerun)"] = stage
        results["toy-seq2seq: click a cell -> its derivation"] = cell
        notes.append(f"toy-seq2seq: {per_enter / 1000:.0f} KB received per Enter; "
                     f"{sent} messages sent to the server during {3 * runs} switches and clicks")

        import model
        minilm = model.load("minilm")
        page.goto(f"{url}/?model=minilm")
        _settle(page)
        page.evaluate(START_CLOCK)
        for tokens in (64, 512):
            time_enter_minilm(page, minilm, tokens, rng)               # warm-up at this length
            received = traffic.received
            times = [time_enter_minilm(page, minilm, tokens, rng) for _ in range(runs)]
            notes.append(f"minilm, {tokens} tokens: {(traffic.received - received) / runs / 1e6:.2f} MB received per Enter")
            results[f"minilm: Enter -> 72-head overview and canvas painted ({tokens} tokens)"] = statistics.median(times)
        head, stage, cell, sent = _switches(page, traffic, runs)
        results["minilm, 512 tokens: another head -> painted (no rerun)"] = head
        results["minilm, 512 tokens: another stage -> painted (no rerun)"] = stage
        results["minilm, 512 tokens: click a cell -> its derivation"] = cell
        notes.append(f"minilm: {sent} messages sent to the server during {3 * runs} switches and clicks")
        browser.close()
    print(f"browser latency (Debian Chromium, headless; median of {runs})")
    for name, seconds in results.items():
        print(f"  {name:60s} {seconds * 1000:7.0f} ms")
    for note in notes:
        print(f"  {note}")
    return results
