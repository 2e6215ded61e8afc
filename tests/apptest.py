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


# Pictures painted: plotly charts, and attention canvases (in shadow roots) whose first picture is
# on screen (their data-paint counter has moved).
PICTURES = ("document.querySelectorAll('.js-plotly-plot .svg-container').length + [...document.querySelectorAll('*')]"
            ".filter(e => e.shadowRoot).map(e => e.shadowRoot.querySelector('[data-testid=attention-canvas]'))"
            ".filter(c => c && c.dataset.paint && c.dataset.paint !== '0').length")


def wait_for_pictures(page, count: int, timeout_s: float = 120) -> None:
    """Browser: until `count` pictures (plotly charts and attention canvases) have painted and
    Streamlit no longer runs the script."""
    page.wait_for_function(f"({PICTURES}) >= {count}", timeout=timeout_s * 1000)
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


def canvases(at) -> dict[str, tuple[dict, dict]]:
    """Every attention canvas on the page by its key (ui/canvas.attention_canvas(..., key)), as
    the (header, arrays) its payload decodes to (viz.canvas.unpack): what the browser receives."""
    from viz.canvas import unpack
    found = {}
    for element in at.get("bidi_component"):
        if not element.proto.component_name.endswith("attention_canvas"):
            continue
        key = element.proto.id.split("-", 2)[2] if element.proto.id.count("-") >= 2 else element.proto.id
        found[key] = unpack(element.proto.bytes)
    return found


def pictures(at) -> int:
    """How many pictures the page drew: plotly charts and attention canvases."""
    return len(at.get("plotly_chart")) + len(canvases(at))


def canvas(at, key: str) -> tuple[dict, dict]:
    """The one canvas mounted with `key`; fails naming the canvases the page did mount."""
    found = canvases(at)
    assert key in found, f"no canvas {key!r} on the page; it shows {list(found)}"
    return found[key]


def canvas_values(header: dict, arrays: dict, stage: str = None, head=None) -> np.ndarray:
    """[rows, cols] float64: the matrix the canvas paints for one head (an index or "mean"; the
    header's head when None) at one stage (the header's when None), computed in numpy from the
    payload alone by the equations of viz/canvas.py, as attention_canvas.js computes it:
    scores = q·kᵀ, scaled = scores × scale, biased = scaled + bias, mask = allowed,
    masked = biased where allowed, weights = softmax(masked) per row. NaN where the query may not
    attend to the key (as viz.stages.head_matrix); "mean" averages the heads' allowed cells.
    A comparison (viz.canvas.compare_payload) has "before" (the first run's weights, from its
    before_* arrays) and "change" (after − before, NaN where neither run allows the cell)."""
    stage = header["stage"] if stage is None else stage
    head = header["head"] if head is None else head
    values, allowed = _stage_values(header, arrays, stage)
    if head == "mean":
        return np.where(allowed, np.where(allowed[None], values, 0.0).mean(axis=0), np.nan)
    return np.where(allowed, values[int(head)], np.nan)


def _stage_values(header: dict, arrays: dict, stage: str) -> tuple[np.ndarray, np.ndarray]:
    """([head, rows, cols] values of every head at one stage, [rows, cols] cells that have one)."""
    if stage in ("before", "change"):
        first = {name[len("before_"):]: array for name, array in arrays.items() if name.startswith("before_")}
        before, allowed_before = _stage_values(header, first, "weights")
        if stage == "before":
            return before, allowed_before
        after, allowed_after = _stage_values(header, arrays, "weights")
        either = allowed_before | allowed_after
        return np.where(allowed_after, after, 0.0) - np.where(allowed_before, before, 0.0), either
    allowed = arrays["allowed"].astype(bool)
    scores = np.einsum("hid,hjd->hij", arrays["q"].astype(np.float64), arrays["k"].astype(np.float64))
    biased = scores * header["scale"] + (arrays["bias"].astype(np.float64) if "bias" in arrays else 0.0)
    if stage == "scores":
        values = scores
    elif stage == "scaled":
        values = scores * header["scale"]
    elif stage in ("biased", "masked"):
        values = biased
    elif stage == "mask":
        values = np.broadcast_to(allowed, scores.shape).astype(np.float64)
    elif stage == "weights":
        logits = np.where(allowed[None], biased, -np.inf)
        top = logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits - np.where(np.isfinite(top), top, 0.0))       # exp(-inf) = 0
        total = exp.sum(axis=-1, keepdims=True)
        values = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)   # 0 on a row with no key
    else:
        raise ValueError(f"unknown stage {stage!r}")
    return values, allowed


def overview_values(header: dict, arrays: dict, stage: str = "weights") -> np.ndarray:
    """[layer, head, rows, cols] float64: the canvas overview's tiles at "scores" or "weights",
    decoded from their uint8 codes (viz.canvas.overview_payload_part): value = lo + code / 254 ×
    (hi − lo), NaN where the code is 255 (masked)."""
    from viz.canvas import CODES, NO_VALUE
    codes = arrays[f"ov_{stage}"]
    lo, hi = header["overview"]["ranges"][stage]
    return np.where(codes == NO_VALUE, np.nan, lo + codes.astype(np.float64) / CODES * (hi - lo))


def assert_canvas_is_record(header: dict, arrays: dict, record) -> None:
    """The canvas carries exactly this record (model.trace.AttentionRecord): its kind, layer,
    shape, scale, raw tokens, and q, k, v, allowed and bias bit for bit."""
    n_heads, n_rows, d_head = record.q.shape
    assert (header["kind"], header["layer"]) == (record.kind, record.layer)
    assert (header["heads"], header["rows"], header["cols"], header["d_head"]) == \
        (n_heads, n_rows, record.k.shape[1], d_head)
    assert header["scale"] == float(record.scale)
    assert header["query_tokens"] == list(record.query_tokens) and header["key_tokens"] == list(record.key_tokens)
    for name in ("q", "k", "v"):
        assert arrays[name].dtype == np.float32
        np.testing.assert_array_equal(arrays[name], getattr(record, name), err_msg=name)
    np.testing.assert_array_equal(arrays["allowed"].astype(bool), record.allowed)
    if record.bias is None:
        assert "bias" not in arrays
    else:
        np.testing.assert_array_equal(arrays["bias"], record.bias)


def choose_in_canvas(at, key: str = "explore.canvas", **choices) -> AppTest:
    """As choices made in the attention canvas mounted with `key` (head=, stage=, query=, key_=):
    the JavaScript paints them at once and, after a pause, sends them to Python as the
    component's "choice" state (attention_canvas.js: changed/choice), which starts a run.

    AppTest cannot drive the JavaScript, and its tree has no widget for a components-v2
    component, so this sends what the browser sends: the page's widget states plus the
    component's state, {"choice": {head, stage, query, key}} as JSON, under the component's
    element id. The choice holds all four, as the JavaScript's does: those not given stay as the
    canvas shows them (its header). The address bar is left alone, as the frontend sends its
    own copy of the query with a rerun (ui/canvas.py), not the one the JavaScript rewrote."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    elements = [e for e in at.get("bidi_component") if e.proto.component_name.endswith("attention_canvas")
                and e.proto.id.endswith(f"-{key}")]
    assert len(elements) == 1, f"no canvas {key!r} on the page; it shows {list(canvases(at))}"
    header, _ = canvas(at, key)
    cell = header["cell"]
    choice = {"head": header["head"], "stage": header["stage"],
              "query": cell[0] if cell else None, "key": cell[1] if cell else None}
    if "key_" in choices:
        choices["key"] = choices.pop("key_")
    unknown = set(choices) - set(choice)
    assert not unknown, f"the canvas chooses only {sorted(choice)}, not {sorted(unknown)}"
    choice.update(choices)
    states = at._tree.get_widget_states()
    states.widgets.append(WidgetState(id=elements[0].proto.id, json_value=json.dumps({"choice": choice})))
    return at._run(states)

