"""Shared by the app's tests: open the app as a shared link would, and read what it drew."""
import base64
import json
import re

import numpy as np
from streamlit.testing.v1 import AppTest

from tests import ROOT
from ui.context import VIEW_KEY
from ui.registry import DEFAULT as DEFAULT_PAGE

APP = str(ROOT / "app.py")
TIMEOUT = 180   # the first run imports torch and loads a checkpoint


def start(**params) -> AppTest:
    """The app opened with these URL query parameters, as a shared link would open it; with
    `page`, as a link made before pages had paths (/?page=anatomy): the app switches to it."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = str(value)
    return at.run()


def navigate(at, page: str) -> AppTest:
    """As a click on `page` in the page list: the next run opens it, the session goes on.

    AppTest.switch_page only finds pages that are files; these pages are functions (st.Page of a
    callable), so the run is asked for the page's hash directly, as switch_page does for a file.
    """
    registered = {info.get("url_pathname") or DEFAULT_PAGE: page_hash
                  for page_hash, info in at._registered_pages.items()}
    at._page_hash = registered[page]
    try:
        return at.run()
    finally:
        at._page_hash = ""     # later runs stay where the app is (a page may switch by itself)


def shown_page(at) -> str:
    """The page the last run showed (the URL's path names it; its query no longer does)."""
    return at.session_state[VIEW_KEY].page


def assert_clean(at) -> None:
    """No exception and no error message on the page."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at) -> dict[str, dict]:
    """Every plotly chart on the page by the key its page drew it with (ctx.chart(figure, key),
    e.g. "explore.detail"), as the figure JSON the browser receives, in the page's order.

    This is the one way tests find a chart: by what the page calls it, not by the type of its
    first trace or its position, which change when a figure is redrawn.
    """
    found = {}
    for element in at.get("plotly_chart"):
        # Streamlit's element id is "$$ID-<hash>-<key>" (elements/lib/utils.py).
        key = element.proto.id.split("-", 2)[2]
        assert key != "None", "every chart is drawn through ctx.chart with a key"
        found[key] = json.loads(element.proto.spec)
    return found


def chart(at, key: str) -> dict:
    """The one chart drawn with `key`; fails naming the charts the page did draw."""
    found = charts(at)
    assert key in found, f"no chart {key!r} on the page; it shows {list(found)}"
    return found[key]


def spec(fig) -> dict:
    """A figure built in the test, as the JSON the browser would receive."""
    return json.loads(fig.to_json())


def array(value) -> np.ndarray:
    """A plotly JSON array as numpy: binary ({dtype, bdata, shape}) or a list (None -> NaN)."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        if "shape" in value:
            return flat.reshape([int(n) for n in re.split(r",\s*", str(value["shape"]))])
        return flat
    return np.array(value, dtype=float)


def param(at, name: str):
    """One URL query parameter's value (AppTest gives a list or a string)."""
    value = at.query_params[name]
    return value[0] if isinstance(value, list) else value


def wait_for_charts(page, count: int, timeout_s: float = 120) -> None:
    """Browser: until `count` plotly charts have painted and Streamlit no longer runs the script."""
    page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .svg-container').length >= {count}",
                           timeout=timeout_s * 1000)
    page.wait_for_function("!document.querySelector('[data-testid=stStatusWidget]')", timeout=60_000)


def wait_until_idle(page, quiet_s: float = 1.5, timeout_s: float = 90) -> None:
    """Browser: until Streamlit has shown no running script for `quiet_s` in a row. A click's run
    may start a moment after the click and the address bar changes early in a run, so neither
    "the status is gone" nor "the URL changed" alone says the page is drawn."""
    import time
    deadline, quiet_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        busy = page.evaluate("!!document.querySelector('[data-testid=stStatusWidget]')")
        now = time.monotonic()
        quiet_since = None if busy else (quiet_since or now)
        if quiet_since is not None and now - quiet_since >= quiet_s:
            return
        page.wait_for_timeout(200)
    raise TimeoutError(f"the app still ran a script after {timeout_s} s")
