"""The running app in Debian's Chromium: charts paint, no console errors, typed markup stays text;
pages are routes: the page list, Back and Forward, and old ?page= links.

Explore shows one plotly chart (the overview, an image) and the attention canvas (the chosen
layer's heads: ui/canvas.py), a component in a shadow root: Playwright's locators pierce it,
document.querySelector does not."""
import re

import pytest
from urllib.parse import quote
from playwright.sync_api import expect

from tests.apptest import wait_for_charts, wait_until_idle
from tests import ROOT

pytestmark = pytest.mark.browser

SCREENSHOTS = ROOT / "tests" / "screenshots"
PAYLOAD = '<img src=x onerror="window.__pwned=1">'


@pytest.fixture
def errors():
    """Console errors and uncaught page exceptions of the test's page."""
    return []


@pytest.fixture
def sent():
    """One entry per websocket frame the test's page sends to the server (a rerun is one)."""
    return []


@pytest.fixture
def page(server, browser, errors, sent):
    """A fresh page on the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(frame)))
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


CANVAS = "[data-testid=attention-canvas]"


def canvas(page):
    """Explore's attention canvas (inside its component's shadow root: locators pierce it)."""
    return page.locator(CANVAS)


def wait_for_explore(page, timeout_s: float = 120) -> None:
    """Until Explore's canvas (the overview and the head) has painted once and Streamlit no
    longer runs the script."""
    expect(canvas(page)).not_to_have_attribute("data-paint", "0", timeout=timeout_s * 1000)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout_s * 1000)


def canvas_colours(page) -> int:
    """How many distinct colours the canvas's matrix has painted (a blank canvas has one, or none)."""
    return canvas(page).first.locator(".aec-matrix").evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4) if (d[i + 3]) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size; }""")


def click_head(page, head: str) -> None:
    """A click on the canvas's head button; until it has repainted with that head."""
    detail = canvas(page)
    before = detail.get_attribute("data-paint")
    detail.locator(f".aec-heads button[data-head='{head}']").click()
    expect(detail).to_have_attribute("data-head", head)
    expect(detail).not_to_have_attribute("data-paint", before)


def url_has(page, name: str, value: str, timeout_s: float = 60) -> None:
    """Until the address bar's query has name=value."""
    page.wait_for_function(f"new URLSearchParams(location.search).get({name!r}) === {value!r}",
                           timeout=timeout_s * 1000)


def overview_picture(page) -> str:
    """The canvas overview's tiles as a PNG data URL (what is painted, not the outline on top)."""
    return canvas(page).locator(".aec-ov").evaluate("c => c.toDataURL()")


def test_default_page_paints_the_overview_and_the_head(page, errors, sent):
    wait_for_explore(page)
    assert page.locator(".js-plotly-plot").count() == 0, "Explore's pictures are the canvas's, not plotly's"
    detail = canvas(page)
    assert detail.count() == 1
    assert (detail.get_attribute("data-kind"), detail.get_attribute("data-layer"),
            detail.get_attribute("data-head")) == ("cross", "2", "1")            # the first view
    assert canvas_colours(page) > 20, "the head's matrix is painted, not blank"
    expect(detail.locator(".aec-title")).to_have_text(
        "Encoder–decoder (cross) attention · layer 2 · head 1 · softmax weights α")
    # the overview: every layer × head, painted (three layers of four heads for toy-seq2seq)
    expect(detail.locator(".aec-ov-title")).to_contain_text("every layer × head")
    assert detail.locator(".aec-ov-ylabels span").all_inner_texts() == ["layer 0", "layer 1", "layer 2"]
    colours = detail.locator(".aec-ov").evaluate("""c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data, seen = new Set();
        for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size; }""")
    assert colours > 20, "the overview's tiles are painted, not blank"
    assert page.get_by_text("Generated output").count() == 1
    screenshot(page, "default")

    # another head of this layer, from the canvas's buttons: the overview keeps its picture
    # (only its outline moves), nothing goes to the server
    before = overview_picture(page)
    wait_until_idle(page)
    frames = len(sent)
    click_head(page, "2")
    expect(detail.locator(".aec-title")).to_have_text(
        "Encoder–decoder (cross) attention · layer 2 · head 2 · softmax weights α")
    url_has(page, "head", "2", timeout_s=30)
    assert len(sent) == frames, f"{len(sent) - frames} messages went to the server (a rerun) for a head"
    assert overview_picture(page) == before and canvas(page).count() == 1
    # a stage changes the overview too, in the browser
    detail.locator(".aec-stages button[data-stage='scores']").click()
    expect(detail.locator(".aec-ov-title")).to_contain_text("raw scores")
    assert overview_picture(page) != before
    assert len(sent) == frames
    # a tile of another layer asks for that layer (a rerun) and opens it on that head
    tile = detail.locator(".aec-ov-overlay")
    box = tile.bounding_box()
    tile.click(position={"x": box["width"] * (3.5 / 4), "y": box["height"] * (0.5 / 3)})     # layer 0, head 3
    expect(detail).to_have_attribute("data-layer", "0", timeout=60_000)
    expect(detail).to_have_attribute("data-head", "3")
    wait_until_idle(page)
    assert checked(page, "Layer") == "0" and detail.get_attribute("data-stage") == "scores"
    assert errors == []


def test_a_shared_url_reopens_the_same_view(server, browser, page, errors):
    wait_for_explore(page)
    # the first view is cross-attention at layer 2: another kind, then another head
    radio(page, "Attention").get_by_text("Encoder self-attention").click()
    page.wait_for_function("window.location.search.includes('kind=encoder')", timeout=60_000)
    expect(canvas(page)).to_have_attribute("data-kind", "encoder", timeout=60_000)
    wait_until_idle(page)
    click_head(page, "3")
    url_has(page, "head", "3")
    shared = page.url
    fresh = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = fresh.new_page()
    other.on("console", lambda message: message.type == "error" and errors.append(message.text))
    other.goto(shared)
    wait_for_explore(other)
    reopened = canvas(other)
    assert (reopened.get_attribute("data-kind"), reopened.get_attribute("data-layer"),
            reopened.get_attribute("data-head")) == ("encoder", "2", "3"), shared
    expect(reopened.locator(".aec-title")).to_have_text(
        re.compile(r"^Encoder self-attention · layer 2 · head 3 · "))
    fresh.close()
    assert errors == []


def test_typed_markup_is_text_not_html(page, errors):
    wait_for_explore(page)
    box = page.get_by_label("Text", exact=True)
    box.fill(PAYLOAD)
    box.press("Enter")
    # the canvas's first key label (an encoder token: "token position") becomes the literal "<"
    labels = canvas(page).locator(".aec-xlabels span")
    expect(labels.first).to_have_text("< 0", timeout=60_000)
    wait_for_explore(page)
    assert page.evaluate("window.__pwned") is None
    # locators pierce the canvas's shadow root: no element came out of the tokens there either
    assert page.locator('img[src="x"]').count() == 0
    assert canvas(page).locator(".aec-xlabels span *, .aec-ylabels span *").count() == 0, \
        "a label holds an element, not only text"
    assert box.input_value() == PAYLOAD
    # every key label is "token position", the token as typed: the whole payload, char by char
    from viz.labels import VISIBLE
    want = [f"{VISIBLE.get(c, c)} {i}" for i, c in enumerate(list(PAYLOAD) + ["<eos>"])]
    assert labels.all_text_contents() == want
    ticks = [text.rsplit(" ", 1)[0] for text in labels.all_text_contents()]
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
    wait_for_explore(page)
    assert page.evaluate("window.__pwned") is None
    assert page.locator('img[src="x"]').count() == 0          # pierces the canvas's shadow root too
    assert canvas(page).locator("script, img").count() == 0
    assert "<script>" not in canvas(page).inner_text()
    context.close()
    assert errors == []


# Opened at a page's own path (/anatomy), Streamlit's frontend first looks for its server there
# (/anatomy/_stcore/health, .../host-config: 404), then at the root: streamlit/streamlit#7074.
PAGE_PATH_PROBE = re.compile(r"/[a-z-]+/_stcore/(health|host-config)$")


def watch(page, errors: list) -> None:
    """Console errors and uncaught exceptions of `page` into `errors`, less those probes."""
    def console(message):
        if message.type == "error" and not PAGE_PATH_PROBE.search(message.location.get("url", "")):
            errors.append(message.text)
    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))


PAGE_CHARTS = {  # page -> (query beyond the page, the least number of charts it paints)
    "explore": ("model=toy-gpt", 0), "anatomy": ("model=toy-seq2seq", 2),
    "generation": ("model=toy-seq2seq", 1), "worked-example": ("model=toy-seq2seq", 1),
    "aggregates": ("model=toy-bert", 2),
    # Intervene draws nothing until something is switched off: switch off one head.
    "intervene": ("model=toy-gpt&heads_off=decoder.0.1", 1),
}
PAGE_CANVASES = {"explore", "anatomy", "intervene", "generation"}    # pages that paint an attention canvas besides their charts


@pytest.mark.parametrize("name", list(PAGE_CHARTS))
def test_every_page_paints(server, browser, errors, name):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    watch(page, errors)
    query, charts = PAGE_CHARTS[name]
    page.goto(f"{server}{path_of(name)}?{query}")
    wait_for_charts(page, charts)
    if name in PAGE_CANVASES:     # (Generation has two: the target's, and the step's)
        expect(canvas(page).first).not_to_have_attribute("data-paint", "0", timeout=120_000)
        assert canvas_colours(page) > 20, "the canvas's matrix is blank"
    assert page.locator("[data-testid=stException]").count() == 0
    screenshot(page, f"page-{name}")
    context.close()
    assert errors == []


def test_downloads_give_png_html_and_the_trace(page, errors, tmp_path):
    """The canvas's PNG button gives a PNG of the head (made in the browser); the page's buttons
    give the canvas as a standalone HTML page and the trace as .npz."""
    wait_for_explore(page)
    detail = canvas(page)
    matrix = detail.locator(".aec-matrix").bounding_box()
    with page.expect_download(timeout=60_000) as export:
        detail.locator(".aec-png").click()
    assert export.value.suggested_filename == "attention-cross-L2-1-weights.png"
    png = tmp_path / "head.png"
    export.value.save_as(png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    picture = Image.open(png)
    width, height = picture.size
    # the matrix as on screen, with its labels beside and under it and the colour bar
    assert width > matrix["width"] + 100 and height > matrix["height"] + 20, (width, height, matrix)
    assert width > 600 and height > 400, (width, height)
    colours = picture.convert("RGB").getcolors(maxcolors=width * height)
    assert len(colours) > 20, "the matrix's colours, not a blank picture"

    # the canvas as a page of its own (tests/browser/test_canvas.py opens it offline)
    with page.expect_download(timeout=60_000) as html:
        page.get_by_text("⬇ HTML", exact=False).click()
    assert html.value.suggested_filename == "attention-cross-layer2.html"
    text = html.value.path().read_text(encoding="utf-8")
    # everything inside: no script or style fetched from the server or elsewhere
    assert "<html" in text and "<script src=" not in text and "_stcore" not in text and '<link rel="stylesheet"' not in text

    with page.expect_download(timeout=60_000) as npz:
        page.get_by_role("button", name="Download the trace (.npz: every record of this input)").click()
    import model
    trace = model.Trace.load(npz.value.path())
    assert trace.text == "reverse: hello world" and trace.output_text == "dlrow olleh"
    assert trace.get("cross", 2).weights.shape == (4, len(trace.decoder_tokens), len(trace.encoder_tokens))
    assert errors == []


# ---- pages as routes: the page list, Back and Forward, old links ------------------------------

def page_markers(lang: str = "en") -> dict:
    """page id -> (its title in the page list, a text only that page shows)."""
    from ui import registry
    for entry in registry.PAGES:
        entry.render                    # the page's module registers its strings on import
    from ui.i18n import TEXTS
    t = TEXTS[lang]
    only = {"explore": "canvas.download.html", "anatomy": "anatomy.pipeline.title", "block": "block.control.kind",
            "generation": "generation.mode",
            "worked-example": "worked.seed", "aggregates": "agg.pick", "intervene": "int.heads"}
    return {entry.id: (t[entry.title_key], t[only[entry.id]][:16]) for entry in registry.PAGES}


def path_of(name: str) -> str:
    """The URL path of a page: the default page is the root."""
    from ui.registry import DEFAULT
    return "/" if name == DEFAULT else f"/{name}"


def nav(page):
    """The page list (Streamlit's navigation, in the sidebar)."""
    return page.locator("[data-testid=stSidebarNav]")


def assert_shown(page, server: str, name: str, lang: str = "en", timeout_s: float = 120) -> None:
    """`name` is the page shown: the address bar's path, the page list's current entry and the
    page's own content agree; nothing is still running."""
    title, only = page_markers(lang)[name]
    page.wait_for_function(f"window.location.pathname === {path_of(name)!r}", timeout=timeout_s * 1000)
    page.locator("[data-testid=stMain]").get_by_text(only).first.wait_for(timeout=timeout_s * 1000)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=timeout_s * 1000)
    assert nav(page).locator("[aria-current=page]").inner_text().strip() == title
    for other, (_, text) in page_markers(lang).items():
        if other != name and text != only:
            assert page.locator("[data-testid=stMain]").get_by_text(text).count() == 0, (name, other)


def checked(page, label: str) -> str:
    """The chosen option of the main area's radio group with this label."""
    return radio(page, label).locator("label:has(input:checked)").inner_text().strip()


def assert_view_kept(page, model: str, text: str, **params) -> None:
    """The model and text (and any other values) are in the sidebar, the text box and the URL."""
    from urllib.parse import parse_qs, urlparse
    query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert "page" not in query, page.url               # the path names the page
    assert query["model"] == model and query["text"] == text, page.url
    for name, value in params.items():
        assert query.get(name) == value, (name, page.url)
    assert page.locator("[data-testid=stSidebar] [data-testid=stSelectbox] input").first.input_value() == model
    box = page.get_by_label("Text", exact=True)
    if box.count():                                    # the worked example has no text box
        assert box.input_value() == text


def watched_page(browser, errors):
    """A fresh 1400×1000 context and page whose console errors land in `errors`."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    watch(page, errors)
    return context, page


def test_back_and_forward_step_between_pages(server, browser, errors):
    """Four pages opened from the page list; Back three times shows each of them again, in
    reverse, with the model and text kept; Forward once moves on again."""
    context, page = watched_page(browser, errors)
    text = "the cat sat on the mat"
    page.goto(f"{server}/?model=toy-gpt&text={quote(text)}&layer=1&head=2")
    wait_for_explore(page)
    assert_shown(page, server, "explore")
    visited = ["explore", "anatomy", "generation", "aggregates"]
    for name in visited[1:]:
        nav(page).get_by_text(page_markers()[name][0], exact=True).click()
        assert_shown(page, server, name)
        assert_view_kept(page, "toy-gpt", text, layer="1", head="2")
    for name in reversed(visited[:-1]):
        page.go_back()
        assert_shown(page, server, name)
        assert_view_kept(page, "toy-gpt", text, layer="1", head="2")
    # Explore's own pickers came back on the view's layer and head, not on their defaults: the
    # Layer radio, and the canvas's head (its layer too)
    wait_for_explore(page)
    assert checked(page, "Layer") == "1"
    expect(canvas(page)).to_have_attribute("data-head", "2")
    expect(canvas(page)).to_have_attribute("data-layer", "1")
    expect(canvas(page).locator(".aec-heads button[data-head='2']")).to_have_attribute("aria-pressed", "true")
    page.go_forward()
    assert_shown(page, server, "anatomy")
    assert_view_kept(page, "toy-gpt", text, layer="1", head="2")
    assert checked(page, "Layer") == "1"                   # and Head anatomy's canvas on head 2
    expect(canvas(page)).to_have_attribute("data-head", "2", timeout=60_000)
    expect(canvas(page)).to_have_attribute("data-layer", "1")
    screenshot(page, "navigation-forward")
    context.close()
    assert errors == []


def test_the_page_list_follows_the_language_and_keeps_the_view(server, browser, errors):
    """In Chinese the page list reads in Chinese; a click in it opens the page, view kept."""
    context, page = watched_page(browser, errors)
    text = "reverse: abc"
    page.goto(f"{server}/?model=toy-seq2seq&text={quote(text)}&lang=zh&kind=cross")
    wait_for_explore(page)
    zh = page_markers("zh")
    assert nav(page).locator("a").all_inner_texts() == [title for title, _ in zh.values()]
    nav(page).get_by_text(zh["intervene"][0], exact=True).click()
    assert_shown(page, server, "intervene", lang="zh")
    from urllib.parse import parse_qs, urlparse
    query = {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}
    assert (query["model"], query["text"], query["lang"], query["kind"]) == ("toy-seq2seq", text, "zh", "cross")
    # back to English from the sidebar: the page list follows, the page stays
    page.locator("[data-testid=stSidebar]").get_by_text("English", exact=True).click()
    page.wait_for_function("!window.location.search.includes('lang=zh')", timeout=60_000)
    assert_shown(page, server, "intervene")
    assert nav(page).locator("a").all_inner_texts() == [title for title, _ in page_markers().values()]
    context.close()
    assert errors == []


def test_an_old_link_opens_its_page_and_the_url_takes_the_new_form(server, browser, errors):
    """/?page=anatomy&... (a link in a lecturer's slides) opens Head anatomy with the same view;
    the address bar then says /anatomy?... without `page`."""
    context, page = watched_page(browser, errors)
    text = "the cat sat"
    page.goto(f"{server}/?page=anatomy&model=toy-gpt&text={quote(text)}&layer=1&head=2&query=3&key=1")
    wait_for_charts(page, 2)
    assert_shown(page, server, "anatomy")
    assert_view_kept(page, "toy-gpt", text, layer="1", head="2", query="3", key="1")
    assert checked(page, "Layer") == "1"                  # the page's own picker, and its canvas:
    expect(canvas(page)).to_have_attribute("data-head", "2", timeout=60_000)
    derivation = page.locator("[data-testid=cell-derivation]")
    assert (derivation.get_attribute("data-row"), derivation.get_attribute("data-col")) == ("3", "1")
    context.close()
    assert errors == []
