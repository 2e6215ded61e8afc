"""app.py through streamlit.testing.v1.AppTest: views, URL state, bad input, no needless reruns."""
import json

import numpy as np
import pytest

import app
import model
from ui.state import PAGES
from viz.canvas import PADDING, SPECIAL, UNKNOWN
from tests.apptest import (assert_canvas_is_record, assert_clean, canvas, canvas_values, canvases, charts,
                           choose_in_canvas, overview_values, pictures, start)


def detail(at) -> tuple[dict, dict]:
    """The Explore page's attention canvas of one layer (every head), as (header, arrays)."""
    return canvas(at, "explore.canvas")


def shape(at) -> tuple[int, int]:
    """(rows, cols) of the matrix the canvas paints."""
    header, arrays = detail(at)
    assert arrays["allowed"].shape == (header["rows"], header["cols"])
    return header["rows"], header["cols"]


def z_values(at) -> np.ndarray:
    """The matrix the canvas paints (its head and stage), computed from its payload."""
    return canvas_values(*detail(at))


KINDS = {"encoder-decoder": ["encoder", "decoder", "cross"], "decoder-only": ["decoder"],
         "encoder-only": ["encoder"]}


@pytest.mark.parametrize("name", model.available())
def test_explore_draws_every_kind_of_every_model(name):
    network = model.load(name)
    text = app.DEFAULT_TEXTS[name]
    for kind in KINDS[network.architecture]:
        at = start(model=name, kind=kind, layer=network.n_layers - 1, head=1)
        assert_clean(at)
        assert at.text_input(key="w.text").value == text
        assert not charts(at) and list(canvases(at)) == ["explore.canvas"]     # one canvas draws it all
        header, arrays = detail(at)
        trace = network.trace(text, max_new_tokens=app.NEW_TOKENS if network.architecture == "decoder-only" else 0)
        record = trace.get(kind, network.n_layers - 1)
        # the overview: every layer × head of the kind, its tiles the records' weights (uint8
        # codes: to half a step of 1/254 of the range; these inputs are short, so unpooled)
        records = trace.records_of(kind)
        overview = header["overview"]
        assert overview["layers"] == [r.layer for r in records]
        tiles = overview_values(header, arrays, "weights")
        step = overview["ranges"]["weights"][1] / 254
        for index, r in enumerate(records):
            if overview["factor"] == 1:        # short enough to be unpooled: every tile cell is one weight
                np.testing.assert_allclose(tiles[index][:, r.allowed], r.weights[:, r.allowed], atol=step / 2 + 1e-6)
                assert np.isnan(tiles[index][:, ~r.allowed]).all()
            else:                              # pooled: each cell the largest weight of its block
                f = overview["factor"]
                assert tiles.shape[2:] == (-(-r.allowed.shape[0] // f), -(-r.allowed.shape[1] // f))
                assert abs(np.nanmax(tiles[index]) - r.weights[:, r.allowed].max()) <= step
        assert (header["head"], header["stage"]) == (1, "weights")
        # the record itself, bit for bit (its raw tokens label the axes: the browser shows them
        # with textContent), and the weights the browser derives from it are the model's
        assert_canvas_is_record(header, arrays, record)
        assert shape(at) == record.weights.shape[1:]
        np.testing.assert_allclose(z_values(at)[record.allowed], record.weights[1][record.allowed], atol=1e-6)
        # (row 0 on top is the browser's drawing: the cell drawn top left opens row 0 in
        # tests/browser/test_canvas.py::test_clicking_cells_opens_their_derivation_with_the_record_s_numbers)


def test_text_and_target_change_the_drawing():
    at = start(model="toy-seq2seq", kind="encoder")
    at.text_input(key="w.text").set_value("abc").run()
    assert_clean(at)
    assert shape(at) == (4, 4)
    assert detail(at)[0]["key_tokens"] == ["a", "b", "c", "<eos>"]
    at.radio(key="w.kind").set_value("cross").run()
    at.text_input(key="w.target").set_value("cba").run()       # teacher forcing
    assert_clean(at)
    assert shape(at) == (4, 4)
    assert detail(at)[0]["kind"] == "cross"
    assert detail(at)[0]["query_tokens"] == ["<bos>", "c", "b", "a"]
    assert at.query_params["target"] == ["cba"] or at.query_params["target"] == "cba"


def test_query_parameters_restore_a_view():
    at = start(page="explore", model="toy-seq2seq", text="reverse: abc", kind="cross", layer=2, head=1,
               stage="scores")
    assert_clean(at)
    assert at.radio(key="w.kind").value == "cross" and at.radio(key="w.layer").value == 2
    header, arrays = detail(at)
    assert (header["kind"], header["layer"], header["head"], header["stage"]) == ("cross", 2, 1, "scores")
    record = model.load("toy-seq2seq").trace("reverse: abc").get("cross", 2)
    assert_canvas_is_record(header, arrays, record)
    np.testing.assert_allclose(z_values(at), record.scores[1], rtol=1e-5, atol=1e-5)


def test_widget_changes_land_in_the_url():
    at = start(model="toy-gpt", text="abcabc", head=0)
    choose_in_canvas(at, head=3)          # head 3 clicked in the canvas
    choose_in_canvas(at, stage="masked")  # then a stage
    assert at.session_state["view"].head == 3 and detail(at)[0]["head"] == 3
    params = {k: at.query_params[k] for k in at.query_params}
    flat = {k: (v[0] if isinstance(v, list) else v) for k, v in params.items()}
    assert flat["head"] == "3" and flat["stage"] == "masked" and flat["model"] == "toy-gpt"
    assert flat["text"] == "abcabc"


@pytest.mark.parametrize("old,new", [("logits", "masked"), ("bias", "biased")])
def test_links_with_old_stage_names_open_the_same_view(old, new):
    at = start(model="toy-gpt", text="abcabc", stage=old, layer=0, head=0)   # not toy-gpt's first view's head
    assert_clean(at)
    assert detail(at)[0]["stage"] == new
    assert not any("stage" in c.value for c in at.code), "an old name is no bad value"
    stage = at.query_params["stage"]
    assert (stage[0] if isinstance(stage, list) else stage) == new      # the address bar says the new name
    if new == "masked":
        record = model.load("toy-gpt").trace("abcabc", max_new_tokens=app.NEW_TOKENS).get("decoder", 0)
        header, arrays = detail(at)
        assert (header["head"], header["stage"]) == (0, "masked")
        assert_canvas_is_record(header, arrays, record)     # allowed too: the masked cells
        z = z_values(at)
        np.testing.assert_allclose(z[record.allowed], (record.scores[0] * record.scale)[record.allowed],
                                   rtol=1e-4, atol=1e-4)
        assert np.isnan(z[~record.allowed]).all() and (~record.allowed).any()


@pytest.mark.parametrize("params", [
    {"model": "no-such-model"}, {"layer": "99"}, {"head": "-4"}, {"kind": "cross", "model": "toy-bert"},
    {"stage": "<script>alert(1)</script>"}, {"page": "admin"}, {"pad_to": "1e99"}, {"lang": "xx"},
])
def test_bad_url_values_fall_back_with_a_note(params):
    at = start(**params)
    assert_clean(at)
    notes = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert any("default" in n or "does not exist" in n or "has no" in n for n in notes + [c.value for c in at.code])
    assert not charts(at) and list(canvases(at)) == ["explore.canvas"]


def test_pad_to_shows_the_padding_mask():
    at = start(model="toy-bert", text="abc", pad_to=10, stage="mask")
    assert_clean(at)
    header, arrays = detail(at)
    assert header["stage"] == "mask" and shape(at) == (10, 10)
    allowed = arrays["allowed"]
    assert (allowed[:, 3:] == 0).all() and (allowed[3:, :] == 0).all() and (allowed[:3, :3] == 1).all()
    z = z_values(at)
    assert np.isnan(z[:, 3:]).all() and np.isnan(z[3:, :]).all() and (z[:3, :3] == 1).all()
    # the padding positions are flagged as such on both axes, the text's are not
    for flags in (arrays["query_flags"], arrays["key_flags"]):
        assert [bool(f & PADDING) for f in flags] == [False] * 3 + [True] * 7


def test_empty_text_asks_for_text():
    for text in ("", "   "):
        at = start(model="toy-bert", text=text)
        assert_clean(at)
        assert any("type some text" in info.value for info in at.info)
        assert not pictures(at)


def test_markup_is_shown_literally():
    payload = '<script>alert(1)</script><img src=x onerror="window.__pwned=1">'
    at = start(model="toy-bert", text=payload)
    assert_clean(at)
    # The canvas gets the raw tokens and sets them with textContent (attention_canvas.js): the
    # markup shows literally, so it must arrive as typed, not escaped (which would show "&lt;").
    header, _ = detail(at)
    for tokens in (header["query_tokens"], header["key_tokens"]):
        assert payload in "".join(tokens)
        assert not any("&lt;" in token or "&gt;" in token or "&quot;" in token for token in tokens)
    for element in at.markdown:   # nothing typed reaches Markdown, which would interpret it
        assert "script" not in element.value and "onerror" not in element.value
    for element in at.get("html"):   # nor st.html
        assert "script" not in element.value and "onerror" not in element.value
    spec = json.dumps(charts(at), ensure_ascii=False)          # nor a plotly figure, which renders HTML
    assert "<script" not in spec and "<img" not in spec


def test_long_input_says_how_much_was_cut():
    limit = model.load("toy-bert").max_len
    at = start(model="toy-bert", text="a" * 150)
    assert_clean(at)
    assert any(f"{150 - limit} tokens were cut" in w.value for w in at.warning)
    assert shape(at) == (limit, limit)
    assert len(detail(at)[0]["query_tokens"]) == len(detail(at)[0]["key_tokens"]) == limit


def test_unknown_characters_are_listed():
    at = start(model="toy-seq2seq", text="copy: 你好")
    assert_clean(at)
    assert any(w.value.endswith("unknown token: 你, 好") for w in at.warning)    # as typed


def test_changing_head_layer_stage_or_kind_does_not_rerun_the_model(monkeypatch):
    calls = []
    original = model.Runner.trace

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model.Runner, "trace", counting)
    at = start(model="toy-seq2seq", text="reverse: a text only this test uses")
    assert len(calls) == 1
    choose_in_canvas(at, head=2)        # switched in the browser, which tells Python with a rerun
    assert detail(at)[0]["head"] == 2
    at.radio(key="w.layer").set_value(1).run()
    choose_in_canvas(at, stage="scores")
    at.radio(key="w.kind").set_value("cross").run()
    assert_clean(at)
    header = detail(at)[0]
    assert (header["kind"], header["layer"], header["head"], header["stage"]) == ("cross", 1, 2, "scores")
    assert len(calls) == 1


def test_switching_model_swaps_the_example_but_keeps_typed_text():
    at = start()
    at.selectbox(key="w.model").set_value("toy-bert").run()
    assert at.text_input(key="w.text").value == app.DEFAULT_TEXTS["toy-bert"]
    at.text_input(key="w.text").set_value("my own words").run()
    at.selectbox(key="w.model").set_value("toy-gpt").run()
    assert_clean(at)
    assert at.text_input(key="w.text").value == "my own words"


def test_chinese_interface():
    at = start(lang="zh", model="toy-seq2seq")
    assert_clean(at)
    assert at.title[0].value == "注意力探索器"
    assert at.text_input(key="w.text").label == "文本"


def test_lecture_mode_enlarges_figures_and_drops_controls():
    normal, lecture = start(model="toy-gpt"), start(lecture=1, model="toy-gpt", pad_to=80)
    for at in (normal, lecture):
        assert_clean(at)
    assert lecture.toggle(key="w.lecture").value is True
    # fewer controls: no downloads, no padding input (a prepared link's padding still applies)
    # (the trace and the canvas as a page of its own; its PNG is made in the browser)
    assert [b.key for b in normal.get("download_button")] == ["explore.download_trace", "explore.canvas.html"]
    assert len(lecture.get("download_button")) == 0
    assert normal.number_input(key="w.pad_to") is not None
    assert not [n for n in lecture.number_input if n.key == "w.pad_to"]
    assert shape(lecture) == (80, 80)
    # the canvas is told, and draws projector-sized text itself (tests/browser/test_canvas.py)
    assert detail(lecture)[0]["lecture"] is True and detail(normal)[0]["lecture"] is False
    # projector-sized text in every figure
    for fig in charts(lecture).values():
        layout = fig["layout"]
        assert layout["font"]["size"] >= 18 and layout["title"]["font"]["size"] >= 24
        axes = [v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(axis["tickfont"]["size"] >= 18 for axis in axes)


def test_model_load_error_is_a_message_not_a_traceback(monkeypatch):
    monkeypatch.setattr(model, "available", lambda: ["toy-missing"])
    at = start()
    assert not at.exception
    assert len(at.error) == 1 and "unknown model 'toy-missing'" in at.error[0].value


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("name", model.BUILTIN_NAMES)
def test_every_page_runs_with_every_model(page, name):
    at = start(page=page, model=name)
    assert_clean(at)


def test_download_buttons_for_the_trace_and_the_figure():
    at = start(model="toy-gpt", text="abc")
    assert_clean(at)
    labels = [b.label for b in at.download_button]
    assert any(".npz" in label for label in labels) and any("HTML" in label for label in labels)


def test_trace_bytes_round_trip(tmp_path):
    trace = model.load("toy-gpt").trace("abc")
    path = tmp_path / "t.npz"
    path.write_bytes(trace.to_bytes())
    back = model.Trace.load(path)
    np.testing.assert_array_equal(back.records[0].weights, trace.records[0].weights)


def test_unknown_characters_are_marked_in_the_labels():
    at = start(model="toy-seq2seq", kind="encoder", text="copy: café 中文")
    assert_clean(at)
    header, arrays = detail(at)
    # the browser marks a token whose UNKNOWN bit is set (attention_canvas.js: labelText adds "?")
    for tokens, flags in ((header["key_tokens"], arrays["key_flags"]), (header["query_tokens"], arrays["query_flags"])):
        marked = [token for token, flag in zip(tokens, flags) if flag & UNKNOWN]
        assert marked == ["é", "中", "文"]                              # as typed
        plain = {token for token, flag in zip(tokens, flags) if not flag & UNKNOWN}
        assert {"c", "a"} <= plain                                  # known characters stay plain
    assert any(w.value.endswith("unknown token: é, 中, 文") for w in at.warning)   # and the page says why
    at = start(model="toy-seq2seq", kind="cross", text="copy: cafe")
    assert_clean(at)
    header, arrays = detail(at)
    assert header["kind"] == "cross"
    assert not any(f & UNKNOWN for f in arrays["key_flags"]) and not any(f & UNKNOWN for f in arrays["query_flags"])


def test_special_tokens_can_be_hidden_and_rows_renormalised():
    shown = start(model="toy-seq2seq", kind="cross", text="reverse: abc")
    hidden = start(model="toy-seq2seq", kind="cross", text="reverse: abc", hide_special=1)
    for at in (shown, hidden):
        assert_clean(at)
    assert hidden.toggle(key="w.hide_special").value is True
    assert shown.toggle(key="w.hide_special").value is False
    header, arrays = detail(shown)
    assert header["key_tokens"][-1] == "<eos>" and header["query_tokens"][0] == "<bos>"
    assert arrays["key_flags"][-1] & SPECIAL and arrays["query_flags"][0] & SPECIAL
    header, arrays = detail(hidden)
    assert header["key_tokens"] == list("reverse: abc")
    assert header["query_tokens"] == list("cba")
    assert not any(f & SPECIAL for f in arrays["key_flags"]) and not any(f & SPECIAL for f in arrays["query_flags"])
    # the weights the browser derives from the payload: each row sums to 1 over the kept keys, and
    # they are the full run's weights with the special rows and columns dropped, rows renormalised
    z = z_values(hidden)
    np.testing.assert_allclose(np.nansum(z, axis=-1), 1, atol=1e-5)
    trace = model.load("toy-seq2seq").trace("reverse: abc")
    full = trace.get("cross", header["layer"])
    rows = [i for i, special in enumerate(trace.decoder_special[:full.weights.shape[1]]) if not special]
    cols = [j for j, special in enumerate(trace.encoder_special[:full.weights.shape[2]]) if not special]
    kept = full.weights[header["head"]][np.ix_(rows, cols)]
    np.testing.assert_allclose(z, kept / kept.sum(-1, keepdims=True), atol=1e-5)
    assert "renormalised" in " ".join(c.value for c in hidden.caption)
    # the choice is part of the shared link
    assert hidden.query_params["hide_special"] == ["1"] or hidden.query_params["hide_special"] == "1"
