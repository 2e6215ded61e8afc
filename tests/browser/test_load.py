"""Load: 20 browser sessions on one hosted-mode server, each typing its own text for a minute.

Every session must get its own charts (the attention canvas's labels are its own text, never
another session's), no session may see an error, and the server's memory (RSS of the streamlit
process and its children, read from /proc) must stay under RSS_BOUND_MB.

A session is a browser tab: each has its own websocket, so its own Streamlit session, whatever
context it is in. The tabs sit in CONTEXTS browser contexts of one Chromium: tabs of one context
share the HTTP and code caches, which on 2 cores halves the ~4.5 CPU-seconds each tab otherwise
spends loading Streamlit's frontend. Tabs open on an empty text box (no charts yet), so the
first round, where every tab loads plotly and draws, is part of the measured minute.

Bounded for 2 CPU cores: ~20 s to start the server and open the tabs, then LOAD_SECONDS of rounds
(every session types, then every session is checked): ~90 s in all.
"""
from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

from bench.appserver import ServerError, launch_chromium, running_app
from viz.labels import VISIBLE
from tests import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = 20
CONTEXTS = 4
LOAD_SECONDS = 60
STARTUP_SECONDS = 120
# Measured here (2 cores, toy-seq2seq, hosted mode): ~0.31 GB with the 20 tabs open, ~0.35 GB
# peak while they type. A toy-seq2seq trace is about 1.5 MB, so the hosted trace cache
# (8 entries) and 20 sessions' last traces add ~40 MB at most: the bound is for a leak or an
# unbounded cache, not for noise.
RSS_BOUND_MB = 1024


# ---- the server's memory, from /proc ----------------------------------------------------------

def server_pid(port: int) -> int:
    """The streamlit process listening on `port` (running_app starts it with --server.port)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and b"--server.port" in args \
                and args[args.index(b"--server.port") + 1] == str(port).encode():
            return int(entry.name)
    raise RuntimeError(f"no streamlit process on port {port}")


def tree_rss_mb(root: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # the command name (field 2) may hold spaces; the fields after its ')' are plain
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    family, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in family]
        family.update(children)
        frontier.extend(children)
    total_kb = 0
    for pid in family:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            pass
    return total_kb / 1024


class Sampler(threading.Thread):
    """Samples the server's RSS every quarter second until stopped; keeps the peak."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.samples = pid, 0.0, 0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.peak = max(self.peak, tree_rss_mb(self.pid))
            self.samples += 1
            self.stopped.wait(0.25)


# ---- the sessions -------------------------------------------------------------------------------

def session_text(session: int, round_: int) -> str:
    """Different in every session and round, ASCII (one token per character), short enough for
    toy-seq2seq's 63 source tokens."""
    return f"copy: s{session:02d} r{round_} " + "abcdefghij"[session % 10] * (1 + round_ % 3)


def expected_ticks(text: str) -> list[str]:
    """The encoder canvas's key labels, "token position": the text's characters and <eos>."""
    return [f"{VISIBLE.get(token, token)} {i}" for i, token in enumerate(list(text) + ["<eos>"])]


# The canvas lives in a shadow root; its key labels may be thinned (every 2nd...), so each label
# shown must be this session's label at its position, and the column count this text's.
TICKS_MATCH = """([want]) => {
    const hosts = [...document.querySelectorAll('*')].filter(e => e.shadowRoot);
    const canvas = hosts.map(h => h.shadowRoot.querySelector('[data-testid=attention-canvas]')).find(c => c);
    if (!canvas || canvas.dataset.cols !== String(want.length) || canvas.dataset.paint === '0') return false;
    const spans = [...canvas.querySelectorAll('.aec-xlabels span')];
    return spans.length > 0 && spans.every(s => s.textContent === want[Number(s.dataset.index)])
        && !document.querySelector('[data-testid=stStatusWidget]');
}"""


def page_problems(page) -> list[str]:
    found = [f"pageerror: {e}" for e in page.load_errors]
    if page.locator("[data-testid=stException]").count():
        found.append("an exception on the page")
    alerts = page.locator("[data-testid=stAlert]").all_text_contents()
    found += [f"alert: {a[:200]}" for a in alerts if "went wrong" in a or "could not be loaded" in a]
    return found


def load(url: str, sampler: Sampler) -> dict:
    """Open the sessions, then rounds of typing and checking for LOAD_SECONDS; the figures."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        contexts = [browser.new_context(viewport={"width": 1000, "height": 700}, reduced_motion="reduce")
                    for _ in range(CONTEXTS)]
        pages = []
        for session in range(SESSIONS):
            page = contexts[session % CONTEXTS].new_page()
            page.load_errors = []
            page.on("pageerror", lambda error, p=page: p.load_errors.append(str(error)))
            page.goto(f"{url}/?page=explore&model=toy-seq2seq&kind=encoder&text=", wait_until="commit")
            pages.append(page)
        for page in pages:
            page.get_by_text("Please type some text").wait_for(timeout=STARTUP_SECONDS * 1000)
        opened_mb = tree_rss_mb(sampler.pid)
        boxes = [page.get_by_label("Text", exact=True) for page in pages]

        load_started = time.monotonic()
        rounds, checks, slowest, problems = 0, 0, 0.0, []
        while time.monotonic() - load_started < LOAD_SECONDS:
            typed_at = []
            for session, box in enumerate(boxes):      # every session types at once...
                box.fill(session_text(session, rounds))
                box.press("Enter")
                typed_at.append(time.monotonic())
            for session, page in enumerate(pages):     # ...then each must show its own text
                want = expected_ticks(session_text(session, rounds))
                try:
                    page.wait_for_function(TICKS_MATCH, arg=[want], timeout=90_000)
                except Exception as error:  # noqa: BLE001 - reported with the session's number
                    problems.append(f"session {session} round {rounds}: its own labels never came ({error})")
                    continue
                slowest = max(slowest, time.monotonic() - typed_at[session])
                problems += [f"session {session} round {rounds}: {p}" for p in page_problems(page)]
                checks += 1
            rounds += 1
        held = time.monotonic() - load_started
        open_sessions = sum(1 for page in pages if not page.is_closed())
        browser.close()
    return {"sessions": SESSIONS, "open_at_end": open_sessions, "seconds_of_load": round(held, 1),
            "rounds": rounds, "checks_passed": checks, "slowest_check_s": round(slowest, 1),
            "contexts": CONTEXTS, "rss_with_tabs_open_mb": round(opened_mb), "problems": problems}


def test_twenty_sessions_for_a_minute():
    started = time.monotonic()
    try:
        with running_app(STARTUP_SECONDS, env={"ATTENTION_EXPLORER_HOSTED": "1"}) as url:
            sampler = Sampler(server_pid(urlparse(url).port))
            sampler.start()
            try:
                report = load(url, sampler)
            finally:
                sampler.stopped.set()
                sampler.join()
    except ServerError as error:
        pytest.fail(str(error))
    problems = report.pop("problems")
    report.update(peak_rss_mb=round(sampler.peak), rss_bound_mb=RSS_BOUND_MB, rss_samples=sampler.samples,
                  total_seconds=round(time.monotonic() - started, 1), cpu_cores=os.cpu_count())
    print("\nload test:", json.dumps(report))
    (ROOT / "artifacts").mkdir(exist_ok=True)
    (ROOT / "artifacts" / "load-test.json").write_text(json.dumps(report, indent=2))
    assert not problems, "\n".join(problems[:20])
    assert report["open_at_end"] == SESSIONS and report["seconds_of_load"] >= LOAD_SECONDS
    assert report["rounds"] >= 2 and report["checks_passed"] == SESSIONS * report["rounds"]
    assert sampler.peak < RSS_BOUND_MB, report
