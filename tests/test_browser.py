"""The running app in Debian's Chromium: charts paint, no console errors, typed markup stays text."""
from pathlib import Path

import pytest

from bench.appserver import ServerError, running_app
from tests.apptest import wait_for_charts

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "tests" / "screenshots"
PAYLOAD = '<img src=x onerror="window.__pwned=1">'
STARTUP_SECONDS = 120   # streamlit imports torch on the first page load; CI machines are slow


@pytest.fixture(scope="module")
def server():
    """`streamlit run app.py` on a free loopback port, once /_stcore/health answers."""
    try:
        with running_app(STARTUP_SECONDS) as url:
            yield url
    except ServerError as error:
        pytest.fail(str(error))


@pytest.fixture
def errors():
    """Console errors and uncaught page exceptions of the test's page."""
    return []


@pytest.fixture
def page(server, browser, errors):
    """A fresh page on the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(server)
    yield page
    context.close()


def screenshot(page, name: str) -> None:
    """A full-page PNG: Streamlit scrolls inside its own container, so grow the viewport first."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.querySelector('[data-testid=stMain]')?.scrollHeight || 1000")
    page.set_viewport_size({"width": 1400, "height": min(int(height) + 50, 12000)})
    page.wait_for_timeout(500)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def radio(page, label: str):
    """The main area's radio group with this exact label (the sidebar's pages say 'Head anatomy')."""
    return page.locator("[data-testid=stMain] [data-testid=stRadio]").filter(
        has=page.get_by_text(label, exact=True)).first


def test_default_page_paints_the_overview_image_and_the_heatmap(page, errors):
    wait_for_charts(page, 2)
    assert page.locator(".js-plotly-plot").count() == 2
    # trace layers only: the detail heatmap's mask hatch is a layout image elsewhere
    assert page.locator(".js-plotly-plot .overplot .imagelayer image").count() == 1, "the overview is one image"
    assert page.locator(".js-plotly-plot .overplot .heatmaplayer image").count() == 1
    assert page.get_by_text("Generated output").count() == 1
    screenshot(page, "default")

    # the head picker lives in a fragment: only that heatmap is redrawn
    radio(page, "Head").get_by_text("2", exact=True).click()
    page.wait_for_function("[...document.querySelectorAll('.gtitle')].some("
                           "t => t.textContent.startsWith('encoder attention · layer 0 · head 2'))",
                           timeout=60_000)
    page.wait_for_function("window.location.search.includes('head=2')", timeout=30_000)
    # a fragment rerun leaves the stale chart until it ends; then exactly two remain
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length === 2", timeout=30_000)
    assert errors == []


def test_a_shared_url_reopens_the_same_view(server, browser, page, errors):
    wait_for_charts(page, 2)
    radio(page, "Attention").get_by_text("Encoder–decoder (cross) attention").click()
    page.wait_for_function("window.location.search.includes('kind=cross')", timeout=60_000)
    radio(page, "Head").get_by_text("3", exact=True).click()
    page.wait_for_function("window.location.search.includes('head=3')", timeout=60_000)
    shared = page.url
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.on("console", lambda message: message.type == "error" and errors.append(message.text))
    other.goto(shared)
    wait_for_charts(other, 2)
    titles = other.locator(".gtitle").all_text_contents()
    assert any(t.startswith("cross attention · layer 0 · head 3") for t in titles), titles
    fresh.close()
    assert errors == []


def test_typed_markup_is_text_not_html(page, errors):
    wait_for_charts(page, 2)
    box = page.get_by_label("Text", exact=True)
    box.fill(PAYLOAD)
    box.press("Enter")
    # the encoder heatmap's first key label becomes the literal "<" of the payload
    page.wait_for_function(
        "[...document.querySelectorAll('.xtick text')].some(t => t.textContent === '<')",
        timeout=60_000)
    wait_for_charts(page, 2)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    assert box.input_value() == PAYLOAD
    ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
    for char in '<img=x">':
        assert char in ticks, f"{char!r} should be a literal tick label"
    screenshot(page, "markup")
    assert errors == []


def test_script_in_the_url_does_not_run(server, browser, errors):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    from urllib.parse import quote
    page.goto(f"{server}/?model=toy-bert&text={quote(PAYLOAD)}&stage={quote('<script>window.__pwned=2</script>')}")
    wait_for_charts(page, 2)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0
    context.close()
    assert errors == []


PAGE_CHARTS = {  # page -> (query beyond the page, the least number of charts it paints)
    "explore": ("model=toy-gpt", 2), "anatomy": ("model=toy-seq2seq", 3),
    "generation": ("model=toy-seq2seq", 2), "worked-example": ("model=toy-seq2seq", 1),
    "aggregates": ("model=toy-bert", 2),
    # Intervene draws nothing until something is switched off: switch off one head.
    "intervene": ("model=toy-gpt&heads_off=decoder.0.1", 2),
}


@pytest.mark.parametrize("name", list(PAGE_CHARTS))
def test_every_page_paints(server, browser, errors, name):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    query, charts = PAGE_CHARTS[name]
    page.goto(f"{server}/?page={name}&{query}")
    wait_for_charts(page, charts)
    assert page.locator("[data-testid=stException]").count() == 0
    screenshot(page, f"page-{name}")
    context.close()
    assert errors == []


def test_downloads_give_png_html_and_the_trace(page, errors, tmp_path):
    """Plotly's toolbar camera gives a PNG of the head; the buttons give standalone HTML and the .npz."""
    wait_for_charts(page, 2)
    heatmap = page.locator(".js-plotly-plot").nth(1)
    heatmap.hover()
    with page.expect_download(timeout=60_000) as camera:
        heatmap.locator(".modebar-btn[data-title='Download plot as a PNG']").click()
    png = tmp_path / "head.png"
    camera.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    width, height = Image.open(png).size
    assert width > 600 and height > 400, (width, height)       # scale 2 of the on-screen chart

    # the overview's buttons come first, the head's second
    with page.expect_download(timeout=60_000) as html:
        page.get_by_role("button", name="Figure as HTML").nth(1).click()
    text = html.value.path().read_text(encoding="utf-8")
    assert "<html" in text and "Plotly.newPlot" in text and "encoder attention" in text
    # plotly.js itself is inside (megabytes), not fetched from a CDN: the file opens offline
    assert len(text) > 1_000_000 and '<script src="http' not in text

    # server-side PNG through plotly's own export (Kaleido driving Debian's Chromium)
    with page.expect_download(timeout=120_000) as server_png:
        page.get_by_role("button", name="Figure as PNG").nth(1).click()
    image = Image.open(server_png.value.path())
    assert image.format == "PNG" and image.size[0] >= 1000, image.size

    with page.expect_download(timeout=60_000) as npz:
        page.get_by_role("button", name="Download the trace (.npz: every record of this input)").click()
    import model
    trace = model.Trace.load(npz.value.path())
    assert trace.text == "reverse: hello world" and trace.output_text == "dlrow olleh"
    assert trace.get("cross", 2).weights.shape == (4, len(trace.decoder_tokens), len(trace.encoder_tokens))
    assert errors == []
