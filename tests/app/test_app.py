"""app.py through streamlit.testing.v1.AppTest: views, URL state, bad input, no needless reruns."""
import json
import re

import numpy as np
import pytest

import app
import model
from ui.state import PAGES
from viz.labels import token_labels
from tests.apptest import assert_clean, chart, charts, start



def detail(at) -> dict:
    """The Explore page's interactive heatmap of one head."""
    return chart(at, "explore.detail")


def shape(fig) -> tuple[int, ...]:
    z = fig["data"][0]["z"]
    return tuple(int(n) for n in re.split(r",\s*", str(z["shape"])))


def z_values(fig) -> np.ndarray:
    import base64
    z = fig["data"][0]["z"]
    return np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape(fig))


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
        figs = charts(at)
        assert {key: f["data"][0]["type"] for key, f in figs.items()} == {"explore.overview": "image",
                                                                          "explore.detail": "heatmap"}
        fig = detail(at)
        trace = network.trace(text, max_new_tokens=app.NEW_TOKENS if network.architecture == "decoder-only" else 0)
        record = trace.get(kind, network.n_layers - 1)
        assert shape(fig) == record.weights.shape[1:]
        np.testing.assert_allclose(z_values(fig)[record.allowed], record.weights[1][record.allowed], atol=1e-6)
        assert fig["layout"]["yaxis"]["ticktext"] == token_labels(record.query_tokens)
        assert fig["layout"]["xaxis"]["ticktext"] == token_labels(record.key_tokens)
        assert fig["layout"]["yaxis"]["range"][0] > fig["layout"]["yaxis"]["range"][1]   # row 0 on top


def test_text_and_target_change_the_drawing():
    at = start(model="toy-seq2seq", kind="encoder")
    at.text_input(key="w.text").set_value("abc").run()
    assert_clean(at)
    assert shape(detail(at)) == (4, 4)
    assert detail(at)["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "&lt;eos&gt;"]
    at.radio(key="w.kind").set_value("cross").run()
    at.text_input(key="w.target").set_value("cba").run()       # teacher forcing
    assert_clean(at)
    cross = detail(at)
    assert shape(cross) == (4, 4)
    assert cross["layout"]["yaxis"]["ticktext"] == ["&lt;bos&gt;", "c", "b", "a"]
    assert at.query_params["target"] == ["cba"] or at.query_params["target"] == "cba"


def test_query_parameters_restore_a_view():
    at = start(page="explore", model="toy-seq2seq", text="reverse: abc", kind="cross", layer=2, head=1,
               stage="scores")
    assert_clean(at)
    assert at.radio(key="w.kind").value == "cross" and at.radio(key="w.layer").value == 2
    assert at.radio(key="w.head").value == 1 and at.radio(key="w.stage").value == "scores"
    title = detail(at)["layout"]["title"]["text"]
    assert title.startswith("cross attention · layer 2 · head 1 · raw scores")
    record = model.load("toy-seq2seq").trace("reverse: abc").get("cross", 2)
    np.testing.assert_allclose(z_values(detail(at)), record.scores[1], rtol=1e-5, atol=1e-5)


def test_widget_changes_land_in_the_url():
    at = start(model="toy-gpt", text="abcabc")
    at.radio(key="w.head").set_value(3).run()
    at.radio(key="w.stage").set_value("masked").run()
    params = {k: at.query_params[k] for k in at.query_params}
    flat = {k: (v[0] if isinstance(v, list) else v) for k, v in params.items()}
    assert flat["head"] == "3" and flat["stage"] == "masked" and flat["model"] == "toy-gpt"
    assert flat["text"] == "abcabc"


@pytest.mark.parametrize("old,new", [("logits", "masked"), ("bias", "biased")])
def test_links_with_old_stage_names_open_the_same_view(old, new):
    at = start(model="toy-gpt", text="abcabc", stage=old, layer=0, head=0)   # not toy-gpt's first view's head
    assert_clean(at)
    assert at.radio(key="w.stage").value == new
    assert not any("stage" in c.value for c in at.code), "an old name is no bad value"
    stage = at.query_params["stage"]
    assert (stage[0] if isinstance(stage, list) else stage) == new      # the address bar says the new name
    if new == "masked":
        record = model.load("toy-gpt").trace("abcabc", max_new_tokens=app.NEW_TOKENS).get("decoder", 0)
        z = z_values(detail(at))
        np.testing.assert_allclose(z[record.allowed], (record.scores[0] * record.scale)[record.allowed],
                                   rtol=1e-4, atol=1e-4)
        assert np.isnan(z[~record.allowed]).all()


@pytest.mark.parametrize("params", [
    {"model": "no-such-model"}, {"layer": "99"}, {"head": "-4"}, {"kind": "cross", "model": "toy-bert"},
    {"stage": "<script>alert(1)</script>"}, {"page": "admin"}, {"pad_to": "1e99"}, {"lang": "xx"},
])
def test_bad_url_values_fall_back_with_a_note(params):
    at = start(**params)
    assert_clean(at)
    notes = [w.value for w in at.warning] + [c.value for c in at.caption]
    assert any("default" in n or "does not exist" in n or "has no" in n for n in notes + [c.value for c in at.code])
    assert list(charts(at)) == ["explore.overview", "explore.detail"]


def test_pad_to_shows_the_padding_mask():
    at = start(model="toy-bert", text="abc", pad_to=10, stage="mask")
    assert_clean(at)
    z = z_values(detail(at))
    assert z.shape == (10, 10)
    assert np.isnan(z[:, 3:]).all() and np.isnan(z[3:, :]).all() and (z[:3, :3] == 1).all()


def test_empty_text_asks_for_text():
    for text in ("", "   "):
        at = start(model="toy-bert", text=text)
        assert_clean(at)
        assert any("type some text" in info.value for info in at.info)
        assert not at.get("plotly_chart")


def test_markup_is_shown_literally():
    payload = '<script>alert(1)</script><img src=x onerror="window.__pwned=1">'
    at = start(model="toy-bert", text=payload)
    assert_clean(at)
    spec = json.dumps(detail(at), ensure_ascii=False)
    assert "&lt;" in spec and "<script" not in spec and "<img" not in spec
    for element in at.markdown:   # nothing typed reaches Markdown, which would interpret it
        assert "script" not in element.value and "onerror" not in element.value


def test_long_input_says_how_much_was_cut():
    limit = model.load("toy-bert").max_len
    at = start(model="toy-bert", text="a" * 150)
    assert_clean(at)
    assert any(f"{150 - limit} tokens were cut" in w.value for w in at.warning)
    assert shape(detail(at)) == (limit, limit)


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
    at.radio(key="w.head").set_value(2).run()
    at.radio(key="w.layer").set_value(1).run()
    at.radio(key="w.stage").set_value("scores").run()
    at.radio(key="w.kind").set_value("cross").run()
    assert_clean(at)
    assert detail(at)["layout"]["title"]["text"].startswith("cross attention · layer 1 · head 2 · raw")
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
    assert len(normal.get("download_button")) == 5 and len(lecture.get("download_button")) == 0
    assert normal.number_input(key="w.pad_to") is not None
    assert not [n for n in lecture.number_input if n.key == "w.pad_to"]
    assert shape(detail(lecture)) == (80, 80)
    # projector-sized text in every figure
    for fig in charts(lecture).values():
        layout = fig["layout"]
        assert layout["font"]["size"] >= 18 and layout["title"]["font"]["size"] >= 24
        axes = [v for k, v in layout.items() if k.startswith(("xaxis", "yaxis"))]
        assert axes and all(axis["tickfont"]["size"] >= 18 for axis in axes)
    assert detail(normal)["layout"]["xaxis"]["tickfont"]["size"] == 12


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
    ticks = detail(at)["layout"]["xaxis"]["ticktext"]
    marked = [t for t in ticks if "<sup>?</sup>" in t]
    assert [re.sub(r"<[^>]+>", "", t)[:-1] for t in marked] == ["é", "中", "文"]
    assert "c" in ticks and "a" in ticks                      # known characters stay plain
    assert "outside the vocabulary" in detail(at)["layout"]["title"]["subtitle"]["text"]
    at = start(model="toy-seq2seq", kind="cross", text="copy: cafe")
    assert not any("<sup>" in t for t in detail(at)["layout"]["xaxis"]["ticktext"])


def test_special_tokens_can_be_hidden_and_rows_renormalised():
    shown = start(model="toy-seq2seq", kind="cross", text="reverse: abc")
    hidden = start(model="toy-seq2seq", kind="cross", text="reverse: abc", hide_special=1)
    for at in (shown, hidden):
        assert_clean(at)
    assert hidden.toggle(key="w.hide_special").value is True
    assert shown.toggle(key="w.hide_special").value is False
    assert detail(shown)["layout"]["xaxis"]["ticktext"][-1] == "&lt;eos&gt;"
    assert detail(shown)["layout"]["yaxis"]["ticktext"][0] == "&lt;bos&gt;"
    assert detail(hidden)["layout"]["xaxis"]["ticktext"] == list("reverse:") + ["␣"] + list("abc")
    assert detail(hidden)["layout"]["yaxis"]["ticktext"] == list("cba")
    z = z_values(detail(hidden))
    np.testing.assert_allclose(z.sum(-1), 1, atol=1e-5)
    assert "renormalised" in " ".join(c.value for c in hidden.caption)
    # the choice is part of the shared link
    assert hidden.query_params["hide_special"] == ["1"] or hidden.query_params["hide_special"] == "1"
