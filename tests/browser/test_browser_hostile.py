"""Script in text and links never runs, on any page, in Debian's Chromium against a hosted-mode
server. tests/browser/test_browser.py covers the Explore text box and a linked stage; this file covers
the other pages (their selectboxes, tables, step viewer and plotly titles carry token text),
the Target box, and several kinds of script, not just one."""
from urllib.parse import urlencode

import pytest

from bench.appserver import ServerError, running_app
from tests.apptest import wait_for_charts

pytestmark = pytest.mark.browser

STARTUP_SECONDS = 120
# Each sets window.__pwned (or opens a dialog) if any part of the page runs it.
PAYLOADS = {
    "img": '<img src=x onerror="window.__pwned=1">',
    "svg": '<svg onload="window.__pwned=2">',
    "script": "<script>window.__pwned=3</script>",
    "iframe": '"><iframe srcdoc="<script>parent.__pwned=4</script>">',
    "markdown": "[x](javascript:window.__pwned=5) **b**",
    "link": '<a href="javascript:window.__pwned=6">x</a>',
}
# page -> (model, extra query): every page that shows token text, one payload each in rotation
PAGES = {
    "explore": ("toy-seq2seq", {"kind": "cross"}),
    "anatomy": ("toy-seq2seq", {"kind": "cross"}),
    "generation": ("toy-gpt", {}),
    "aggregates": ("toy-bert", {}),
    "intervene": ("toy-gpt", {"heads_off": "decoder.0.1"}),
    "worked-example": ("toy-seq2seq", {}),
}
# plotly charts per page; the attention canvas (a shadow root) is waited for apart, on CANVAS_PAGES
CHARTS = {"explore": 0, "anatomy": 2, "generation": 1, "aggregates": 2, "intervene": 1, "worked-example": 1}
CANVAS_PAGES = {"explore", "anatomy", "intervene", "generation"}


@pytest.fixture(scope="module")
def server():
    try:
        with running_app(STARTUP_SECONDS, env={"ATTENTION_EXPLORER_HOSTED": "1"}) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


@pytest.fixture
def page(browser):
    """A fresh context; its page records uncaught errors and any dialog (alert, confirm...)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.hostile_events = []
    page.on("pageerror", lambda error: page.hostile_events.append(f"pageerror: {error}"))
    page.on("dialog", lambda dialog: (page.hostile_events.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    yield page
    context.close()


# every element matching a selector, inside shadow roots too (the attention canvas renders in one)
DEEP_COUNT = """selector => { let n = 0; const walk = root => { n += root.querySelectorAll(selector).length;
    for (const e of root.querySelectorAll('*')) if (e.shadowRoot) walk(e.shadowRoot); }; walk(document); return n; }"""
CANVAS_PAINTED = ("[...document.querySelectorAll('*')].filter(e => e.shadowRoot).some(h => (c => c && "
                  "c.dataset.paint !== '0')(h.shadowRoot.querySelector('[data-testid=attention-canvas]')))")


def assert_nothing_ran(page) -> None:
    page.wait_for_timeout(500)     # an onerror or onload would have fired by now
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate(DEEP_COUNT, 'img[src="x"], iframe[srcdoc], svg[onload], a[href^="javascript"]') == 0
    assert page.locator("[data-testid=stException]").count() == 0
    assert page.hostile_events == []


@pytest.mark.parametrize("name", list(PAGES))
def test_script_in_a_link_does_not_run_on_any_page(server, page, name):
    """The text (and target) of a shared link carry script, one kind per page, all kinds in turn."""
    model_name, extra = PAGES[name]
    payload = list(PAYLOADS.values())[list(PAGES).index(name) % len(PAYLOADS)]
    query = {"page": name, "model": model_name, "text": payload, **extra}
    if model_name == "toy-seq2seq":
        query["target"] = payload[::-1]
    page.goto(f"{server}/?{urlencode(query)}")
    wait_for_charts(page, CHARTS[name])
    if name in CANVAS_PAGES:
        page.wait_for_function(CANVAS_PAINTED, timeout=120_000)
    assert_nothing_ran(page)
    # the link keeps the text as typed, so the next visitor gets it back as text too
    assert "text=" in page.url


def test_every_payload_typed_into_text_and_target(server, page):
    """Typed into the boxes one after another: the labels show the characters, nothing runs."""
    import json

    import model
    network = model.load("toy-seq2seq", device="cpu")
    page.goto(f"{server}/?page=explore&model=toy-seq2seq&kind=cross")
    page.wait_for_function(CANVAS_PAINTED, timeout=120_000)      # Explore: one canvas, no plotly chart
    text, target = page.get_by_label("Text", exact=True), page.get_by_label("Target (optional)", exact=True)
    for number, payload in enumerate(PAYLOADS.values()):
        text.fill(payload)
        text.press("Enter")
        target.fill(payload[::-1] + "#" + str(number))
        target.press("Enter")
        # the cross canvas's rows are the target's tokens: every row label shown is this target's
        # token at its position (labels may be thinned), and there are as many rows
        rows = network.trace(payload, payload[::-1] + "#" + str(number)).records_of("cross")[0].query_tokens
        want = json.dumps([f"{ {' ': '␣', chr(10): '↵', chr(9): '⇥', chr(13): '␍'}.get(t, t)} {i}"
                           for i, t in enumerate(rows)], ensure_ascii=False)
        page.wait_for_function(
            "[...document.querySelectorAll('*')].filter(e => e.shadowRoot).some(h => (c => {"
            f" if (!c || c.dataset.rows !== '{len(rows)}') return false; const want = {want};"
            " const spans = [...c.querySelectorAll('.aec-ylabels span')];"
            " return spans.length > 0 && spans.every(s => s.textContent.replace(/\\?(?= \\d+$)/, '') === want[Number(s.dataset.index)]);"
            " })(h.shadowRoot.querySelector('[data-testid=attention-canvas]')))", timeout=60_000)
        wait_for_charts(page, 0)        # and the run has ended
        assert_nothing_ran(page)
        assert text.input_value() == payload


def test_script_in_a_step_and_a_table(server, page):
    """Generation's step viewer (st.code of the chosen token) and Intervene's prediction table
    (st.dataframe) show text the model produced from a payload."""
    payload = PAYLOADS["img"]
    for query in ({"page": "generation", "model": "toy-seq2seq", "text": "copy: " + payload},
                  {"page": "intervene", "model": "toy-bert", "text": payload, "heads_off": "encoder.0.0"}):
        page.goto(f"{server}/?{urlencode(query)}")
        wait_for_charts(page, CHARTS[query["page"]])
        assert_nothing_ran(page)
