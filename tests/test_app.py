"""app.py through streamlit.testing.v1.AppTest: every model runs, figures hold the right matrices."""
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import app
import model
from viz.labels import token_labels

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120   # the first run imports torch and loads a checkpoint


def start(name=None, text=None, target=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if name is not None:
        at.session_state["model"] = name
    if text is not None:
        at.session_state["text"] = text
    if target is not None:
        at.session_state["target"] = target
    return at.run()


def figures(at) -> list[dict]:
    """Every plotly chart on the page, as the figure JSON the browser receives."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def detail(at, kind) -> dict:
    """The interactive heatmap of one attention kind."""
    found = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"
             and f["layout"]["title"]["text"].startswith(f"{kind} attention")]
    assert len(found) == 1, f"expected one {kind} heatmap"
    return found[0]


def shape(fig) -> tuple[int, ...]:
    z = fig["data"][0]["z"]
    return tuple(int(n) for n in re.split(r",\s*", str(z["shape"])))


def assert_clean(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


EXPECTED_KINDS = {"encoder-decoder": ["encoder", "decoder", "cross"], "decoder-only": ["decoder"],
                  "encoder-only": ["encoder"]}


@pytest.mark.parametrize("name", model.available())
def test_each_model_draws_every_kind(name):
    at = start(name)
    assert_clean(at)
    assert at.text_input(key="text").value == app.DEFAULT_TEXTS[name]
    kinds = EXPECTED_KINDS[model.load(name).architecture]
    figs = figures(at)
    assert [f["data"][0]["type"] for f in figs] == ["image", "heatmap"] * len(kinds)
    for kind in kinds:
        fig = detail(at, kind)
        rows, cols = shape(fig)
        assert len(fig["layout"]["yaxis"]["ticktext"]) == rows
        assert len(fig["layout"]["xaxis"]["ticktext"]) == cols
        assert fig["layout"]["yaxis"]["range"][0] > fig["layout"]["yaxis"]["range"][1]
    text = app.DEFAULT_TEXTS[name]
    if "encoder" in kinds:
        labels = detail(at, "encoder")["layout"]["xaxis"]["ticktext"]
        tokens = model.load(name).tokenizer.encode(text).tokens
        assert labels[:len(tokens)] == token_labels(tokens)
    if kinds == ["decoder"]:
        labels = detail(at, "decoder")["layout"]["yaxis"]["ticktext"]
        assert labels[:len(text) + 1] == token_labels(["<bos>", *text])
    assert len(at.code) == 1 or any("produced no text" in c.value for c in at.caption), "output shown"


def test_text_and_target_change_the_drawing():
    at = start("toy-seq2seq")
    at.text_input(key="text").set_value("abc").run()
    assert_clean(at)
    encoder = detail(at, "encoder")
    assert shape(encoder) == (4, 4)
    assert encoder["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "&lt;eos&gt;"]

    at.text_input(key="target").set_value("cba").run()       # teacher forcing
    assert_clean(at)
    assert shape(detail(at, "decoder")) == (4, 4)
    cross = detail(at, "cross")
    assert shape(cross) == (4, 4)
    assert cross["layout"]["yaxis"]["ticktext"] == ["&lt;bos&gt;", "c", "b", "a"]
    assert cross["layout"]["xaxis"]["ticktext"] == ["a", "b", "c", "&lt;eos&gt;"]


def test_empty_text_asks_for_text():
    for text in ("", "   "):
        at = start("toy-bert", text=text)
        assert_clean(at)
        assert any("type some text" in info.value for info in at.info)
        assert not at.get("plotly_chart")


def test_markup_is_shown_literally():
    payload = '<script>alert(1)</script><img src=x onerror="window.__pwned=1">'
    at = start("toy-bert", text=payload)
    assert_clean(at)
    spec = json.dumps(detail(at, "encoder"), ensure_ascii=False)
    assert "&lt;" in spec and "&gt;" in spec
    assert "<script" not in spec and "<img" not in spec
    # nothing the user typed reaches Markdown (which would interpret it)
    for element in at.markdown:
        assert "script" not in element.value and "onerror" not in element.value


def test_long_input_says_how_much_was_cut():
    at = start("toy-bert", text="a" * 150)
    assert_clean(at)
    limit = model.load("toy-bert").max_len
    assert any(f"{150 - limit} tokens were cut" in w.value for w in at.warning)
    assert shape(detail(at, "encoder")) == (limit, limit)


def test_changing_head_or_stage_does_not_rerun_the_model(monkeypatch):
    calls = []
    original = model.BuiltinModel.trace

    def counting(self, *args, **kwargs):
        calls.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(model.BuiltinModel, "trace", counting)
    at = start("toy-gpt", text="a fresh text only this test uses")
    assert len(calls) == 1
    at.radio(key="toy-gpt.decoder.head").set_value(2).run()
    at.radio(key="toy-gpt.decoder.layer").set_value(1).run()
    at.radio(key="toy-gpt.decoder.stage").set_value("scores").run()
    assert_clean(at)
    assert detail(at, "decoder")["layout"]["title"]["text"].startswith("decoder attention · layer 1 · head 2 · raw")
    assert len(calls) == 1


def test_switching_model_swaps_the_example_but_keeps_typed_text():
    at = start("toy-seq2seq")
    at.selectbox(key="model").set_value("toy-bert").run()
    assert at.text_input(key="text").value == app.DEFAULT_TEXTS["toy-bert"]
    at.text_input(key="text").set_value("my own words").run()
    at.selectbox(key="model").set_value("toy-gpt").run()
    assert_clean(at)
    assert at.text_input(key="text").value == "my own words"


def test_model_load_error_is_a_message_not_a_traceback(monkeypatch):
    monkeypatch.setattr(model, "available", lambda: ["toy-missing"])
    at = start()
    assert not at.exception
    assert len(at.error) == 1 and "unknown model 'toy-missing'" in at.error[0].value
