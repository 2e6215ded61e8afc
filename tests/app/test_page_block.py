"""The encoder block page: every step of one layer at one position, drawn from model/block.py's
numbers, beside the model's own, for every built-in model and minilm; links reopen the same
block; Chinese names; the decoder's note on where the mask acts; refusals as messages."""
import dataclasses

import numpy as np
import pytest

import model
import model.block
from model.block import block_view
from tests.apptest import array, assert_clean, chart, charts, param, start
from ui.i18n import TEXTS
from ui.pages.block import chart_key
from ui.runs import NEW_TOKENS, cached_block

# (model, kind, layer, position): both stacks of the encoder-decoder, the decoder-only and
# encoder-only built-ins, and the real post-norm GELU model.
CASES = [("toy-seq2seq", "encoder", 1, 2), ("toy-seq2seq", "decoder", 1, 3), ("toy-gpt", "decoder", 0, 5),
         ("toy-bert", "encoder", 2, 4), ("minilm", "encoder", 3, 4)]


@pytest.fixture(scope="module")
def runners():
    loaded = {}

    def get(name):
        if name not in loaded:
            loaded[name] = model.load(name, device="cpu")
        return loaded[name]
    return get


def expected_view(at, runner, kind, layer, position):
    """block_view of the text and target the page ran, computed here, apart from the app's cache."""
    state = at.session_state["view"]
    new_tokens = NEW_TOKENS if runner.arch.generates and not runner.arch.has_encoder else 0
    target = state.target if runner.arch.reads_target and state.target else None
    return block_view(runner, state.text, kind, layer, position, target=target, max_new_tokens=new_tokens)


def linked(at, name: str) -> str:
    """A number in the link; the URL leaves out a default (0)."""
    return param(at, name) if name in at.query_params else "0"


def rows(figure) -> dict:
    """A strip figure's rows by what they are (the trace's meta): "ours", "model", "gamma", "head0"..."""
    return {trace["meta"]: array(trace["z"]).reshape(-1) for trace in figure["data"]}


def close(drawn, truth, what):
    scale = max(1.0, float(np.abs(truth).max()))
    np.testing.assert_allclose(drawn, truth, rtol=0, atol=1e-5 * scale, err_msg=what)


def assert_drawn_equals(at, view):
    """Every step's chart, in forward order, holds the view's numbers (and the model's own)."""
    keys = [key for key in charts(at) if key.startswith("block.")]
    assert keys == [chart_key(step) for step in view.steps]
    for step in view.steps:
        drawn = rows(chart(at, chart_key(step)))
        where = f"{view.model_name} {view.kind} {view.layer} {chart_key(step)}"
        if step.name == "heads":
            assert len(drawn) == view.n_heads
            for h in range(view.n_heads):
                close(drawn[f"head{h}"], step.value[h], f"{where} head {h}")
            continue
        close(drawn["ours"], step.value, where)
        if step.model is not None:
            close(drawn["model"], step.model, f"{where} (the model's own)")
        else:
            assert "model" not in drawn
        if step.norm is not None:
            close(drawn["input"], step.norm.input, where + " x")
            close(drawn["normalised"], step.norm.normalised, where + " normalised")
            close(drawn["gamma"], step.norm.gamma, where + " gamma")
            assert ("beta" in drawn) == (step.norm.beta is not None)


@pytest.mark.parametrize("name,kind,layer,position", CASES)
def test_the_page_draws_the_blocks_numbers(runners, name, kind, layer, position):
    at = start(page="block", model=name, kind=kind, layer=layer, query=position)
    assert_clean(at)
    runner = runners(name)
    view = expected_view(at, runner, kind, layer, position)
    assert_drawn_equals(at, view)
    # The drawn output is the model's own next input: the number its layer passed on...
    output = rows(chart(at, "block.output"))
    close(output["ours"], output["model"], "output != the layer's own output")
    # ...and, below the last layer, what the next layer received in the model's forward pass.
    if layer + 1 < runner.n_layers:
        following = expected_view(at, runner, kind, layer + 1, position)
        close(output["ours"], following.get("input").model, "output != the next layer's input")
    # the link still says this block
    assert (param(at, "kind"), linked(at, "layer"), linked(at, "query")) == (kind, str(layer), str(position))
    assert at.radio(key="block.kind").value == kind
    shown = " ".join(m.value for m in at.caption)
    assert "float32" in shown


def test_choices_land_in_the_link_and_the_link_reopens_the_block():
    at = start(page="block", model="toy-seq2seq", kind="encoder")
    assert_clean(at)
    at.radio(key="block.kind").set_value("decoder").run()
    at.radio(key="w.layer").set_value(2).run()
    at.select_slider(key="w.query.decoder").set_value(4).run()
    assert_clean(at)
    link = {name: param(at, name) for name in ("model", "kind", "layer", "query")}
    assert link == {"model": "toy-seq2seq", "kind": "decoder", "layer": "2", "query": "4"}
    first = charts(at)
    assert "block.cross.heads" in first
    again = start(page="block", **link)
    assert_clean(again)
    assert charts(again) == first
    assert (again.radio(key="block.kind").value, again.radio(key="w.layer").value,
            again.select_slider(key="w.query.decoder").value) == ("decoder", 2, 4)


def test_a_cross_link_opens_the_decoder_block_and_keeps_its_kind():
    """kind=cross (a link from Explore) has no block of its own: encoder–decoder attention is a
    sublayer of the decoder block, which opens; the link keeps saying cross."""
    at = start(page="block", model="toy-seq2seq", kind="cross", layer=1, query=2)
    assert_clean(at)
    assert at.radio(key="block.kind").value == "decoder"
    assert "block.cross.W_O" in charts(at) and "block.self.W_O" in charts(at)
    assert param(at, "kind") == "cross" and at.session_state["view"].kind == "cross"


def test_a_position_the_text_lacks_falls_back_to_the_first():
    at = start(page="block", model="toy-bert", layer=2, query=999)
    assert_clean(at)
    assert at.select_slider(key="w.query.encoder").value == 0 and at.session_state["view"].query == 0
    # position 0: left out of the address, or written as 0 beside a chosen key (the cell's pair)
    assert at.query_params.get("query", "0") in ("0", ["0"]) and param(at, "layer") == "2"
    assert_drawn_equals(at, block_view(model.load("toy-bert", device="cpu"), at.session_state["view"].text,
                                       "encoder", 2, 0))


def _texts(at) -> str:
    return "\n".join(e.value for kind in ("markdown", "caption", "info", "subheader") for e in at.get(kind))


def test_the_chinese_page_uses_the_source_texts_terms():
    at = start(page="block", model="toy-seq2seq", kind="decoder", layer=1, query=3, lang="zh")
    assert_clean(at)
    shown = _texts(at)
    for term in ("残差连接", "层归一化", "前馈网络第一层", "前馈网络第二层", "掩码多头自注意力", "编码器-解码器注意力",
                 "每个头的输出 z_h", "拼接各头的输出", "乘以 W^O", "该层的输出：下一层的输入", "前归一化"):
        assert term in shown, term
    for english in ("Residual connection", "Feed-forward network", "Each head's output", "pre-norm: the norm"):
        assert english not in shown, english
    # the numbers do not depend on the language
    english = start(page="block", model="toy-seq2seq", kind="decoder", layer=1, query=3)
    assert rows(chart(at, "block.output")).keys() == rows(chart(english, "block.output")).keys()
    np.testing.assert_array_equal(rows(chart(at, "block.output"))["ours"],
                                  rows(chart(english, "block.output"))["ours"])


@pytest.mark.parametrize("name,kind,lang,departures", [
    ("toy-gpt", "decoder", "zh", ["前归一化：归一化放在每个子层之前", "没有编码器-解码器注意力"]),
    ("minilm", "encoder", "en", ["GELU instead of ReLU"]),
    ("minilm", "encoder", "zh", ["用 GELU 代替 ReLU"]),
])
def test_departures_from_the_source_text_are_said_in_the_language(runners, name, kind, lang, departures):
    """block.py's differences, each said in the page's language (none left in English)."""
    at = start(page="block", model=name, lang=lang)
    assert_clean(at)
    listed = next(m.value for m in at.markdown if m.value.startswith(TEXTS[lang]["block.model.departs"]))
    items = [line[2:] for line in listed.splitlines()[1:]]
    view = expected_view(at, runners(name), kind, 0, 0)
    assert len(items) == len(view.differences) == len(departures)
    for item, words in zip(items, departures):
        assert item.replace("\\", "").startswith(words), item


@pytest.mark.parametrize("name,kind", [("toy-seq2seq", "decoder"), ("toy-gpt", "decoder")])
@pytest.mark.parametrize("lang,words", [("en", ["applied to the scores before the softmax", "V are untouched",
                                               "on the masked decoder", "that is wrong"]),
                                        ("zh", ["作用于 softmax 之前的分数", "值向量 V 保持不变", "讲掩码解码器时", "这是错误的"])])
def test_the_decoder_block_corrects_the_source_text_on_masking_V(name, kind, lang, words):
    at = start(page="block", model=name, kind=kind, layer=0, query=2, lang=lang)
    assert_clean(at)
    notes = [i.value for i in at.info]
    assert len(notes) == 1 and all(w in notes[0] for w in words), notes
    # and this row's own numbers: every future key of query 2 has weight exactly 0 in every head
    n_tokens = len(at.select_slider(key="w.query.decoder").options)
    here = TEXTS[lang]["block.mask.here"].format(position=2, n=n_tokens - 3, weight=0.0)
    assert here in [c.value for c in at.caption]


def test_the_encoder_block_has_no_mask_note():
    at = start(page="block", model="toy-seq2seq", kind="encoder")
    assert_clean(at)
    assert not at.info


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_family_block_py_does_not_know_is_a_message(monkeypatch, lang):
    monkeypatch.delitem(model.block.FAMILIES, "bert")
    at = start(page="block", model="minilm", lang=lang)
    assert_clean(at)
    assert not charts(at)
    message = TEXTS[lang]["block.unsupported"].split("{")[0]
    assert len(at.info) == 1 and at.info[0].value.startswith(message) and "bert" in at.info[0].value


def test_a_layout_block_py_cannot_follow_is_a_warning(monkeypatch):
    bert = model.block.FAMILIES["bert"]
    broken = dataclasses.replace(bert, network=dataclasses.replace(bert.network, W_1="intermediate.nowhere"))
    monkeypatch.setitem(model.block.FAMILIES, "bert", broken)
    cached_block.clear()          # a block computed before would hide the refusal
    at = start(page="block", model="minilm", lang="zh")
    assert_clean(at)
    assert [w.value for w in at.warning] == [TEXTS["zh"]["block.refused"]]
    assert any("intermediate.nowhere" in c.value for c in at.code)
    cached_block.clear()


def test_reruns_do_not_run_the_model_again(monkeypatch):
    calls = []
    real = model.block.block_view

    def counted(*args, **kwargs):
        calls.append(args[1:5])
        return real(*args, **kwargs)

    monkeypatch.setattr(model.block, "block_view", counted)
    cached_block.clear()
    at = start(page="block", model="toy-gpt", layer=1, query=3)
    assert_clean(at)
    at.run()
    at.radio(key="w.lang").set_value("zh").run()
    assert len(calls) == 1
    at.select_slider(key="w.query.decoder").set_value(4).run()
    assert len(calls) == 2 and calls[-1][1:] == ("decoder", 1, 4)
    cached_block.clear()


def test_lecture_mode_enlarges_the_strips():
    normal = start(page="block", model="toy-gpt")
    lecture = start(page="block", model="toy-gpt", lecture=1)
    assert_clean(lecture)
    for key in ("block.self.heads", "block.ffn.norm", "block.output"):
        small, large = chart(normal, key)["layout"], chart(lecture, key)["layout"]
        assert large["font"]["size"] >= 18 > small.get("font", {}).get("size", 12)
        assert large["height"] > small["height"]


# ---- Hugging Face folders: what block.py supports, drawn as the model runs it -----------------

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from tests.tiny_hf import build
    built = {}

    def get(family):
        if family not in built:
            path = tmp_path_factory.mktemp(family)
            build(family, path)
            built[family] = str(path)
        return built[family]
    return get


@pytest.mark.parametrize("family,kind,steps", [
    # pre-norm, RMSNorm, SwiGLU: the gate's two extra steps, a norm without β
    ("llama", "decoder", {"ffn_up", "gated"}),
    # post-norm encoder–decoder: the decoder block with encoder–decoder attention
    ("bart", "decoder", {"heads"}),
    ("t5", "encoder", set()),
])
def test_a_hugging_face_folder_is_drawn_as_it_runs(folder, family, kind, steps):
    from tests.tiny_hf import TEXT
    path = folder(family)
    at = start(page="block", model=path, text=TEXT, kind=kind, layer=1, query=2, lang="zh")
    assert_clean(at)
    runner = model.load(path, device="cpu")
    view = expected_view(at, runner, kind, 1, 2)
    assert_drawn_equals(at, view)
    assert steps <= {s.name for s in view.steps}
    listed = next(m.value for m in at.markdown if m.value.startswith(TEXTS["zh"]["block.model.departs"]))
    items = [line for line in listed.splitlines()[1:]]
    assert len(items) == len(view.differences)
    assert not any(english in listed for english in ("instead", "pre-norm:", "gated network", "no bias"))
    if view.norm == "RMSNorm":
        assert "beta" not in rows(chart(at, "block.ffn.norm")) and "均方根归一化" in _texts(at)


@pytest.mark.parametrize("name,formulas,absent", [
    # post-norm with GELU: the source text's order, another activation
    ("minilm", [r"\mathrm{FFN}(x') = \mathrm{GELU}(x' W_1 + b_1)\, W_2 + b_2",
                r"\mathrm{out} = \mathrm{LayerNorm}\big(x' + \mathrm{FFN}(x')\big)"], [r"\mathrm{Norm}(x)"]),
    # pre-norm: the norm inside the residual branch; one more sublayer for encoder–decoder attention
    ("toy-seq2seq", [r"x' = x + \mathrm{MultiHead}\big(\mathrm{LayerNorm}(x)\big)",
                     r"x'' = x' + \mathrm{CrossAttention}\big(\mathrm{LayerNorm}(x'),\ \mathrm{enc}\big)",
                     r"x + \mathrm{MultiHead}(\mathrm{Norm}(x))"], [r"\mathrm{GELU}"]),
])
def test_the_models_order_is_written_as_it_runs(name, formulas, absent):
    at = start(page="block", model=name, kind="decoder" if name == "toy-seq2seq" else "encoder")
    assert_clean(at)
    shown = [element.value.strip().strip("$").strip() for element in at.latex]     # st.latex wraps in $$
    for formula in formulas:
        assert formula in shown, (formula, shown)
    for formula in absent:
        assert not any(formula in line for line in shown), formula


def test_switching_stack_keeps_the_position_the_view_holds():
    """Position 4 of the decoder, then the encoder block: the slider, the view and the heading all
    say position 4 (each stack has its own slider: the browser keeps a slider where it was when
    its options change under one key, and it showed 0 while the page drew 4)."""
    at = start(page="block", model="toy-seq2seq", kind="decoder", layer=2, query=4)
    at.radio(key="block.kind").set_value("encoder").run()
    assert_clean(at)
    assert at.select_slider(key="w.query.encoder").value == 4 == at.session_state["view"].query
    assert any("4" in h.value for h in at.subheader)
