"""The app opened with no link: each model on its first view (ui/first_views.py), showing the
model doing what it was trained for, at the head and cell where it shows."""
import pytest

import model
from tests.apptest import assert_clean, canvas, navigate, start
from ui import first_views as fv
from ui.i18n import translator
from ui.model_guide import markdown_escaped

NAMES = [name for name in fv.FIRST_VIEWS if name in model.available()]
EN = translator("en")
# What each model's first view outputs (tests/unit/test_first_views.py checks that it is right).
OUTPUTS = {"toy-gpt": "Softmax42qkvSoftmax42qkv", "toy-bert": "This method returns the value of the attribute.",
           "toy-seq2seq": "dlrow olleh"}


def view_of(at):
    return at.session_state["view"]


def assert_first_view(at, name):
    first, shown = fv.FIRST_VIEWS[name], view_of(at)
    for field in fv.FIELDS:
        assert getattr(shown, field) == getattr(first, field), field


@pytest.mark.parametrize("name", NAMES)
def test_a_model_opens_on_its_first_view(name):
    first = fv.FIRST_VIEWS[name]
    at = start(model=name)
    assert_clean(at)
    assert_first_view(at, name)
    assert at.text_input(key="w.text").value == first.text
    # Explore shows the chosen kind, layer and head: the radios, and the canvas (which picks the head)
    assert (at.radio(key="w.kind").value, at.radio(key="w.layer").value) == (first.kind, first.layer)
    header, _ = canvas(at, "explore.canvas")
    assert (header["kind"], header["layer"], header["head"]) == (first.kind, first.layer, first.head)
    assert header["cell"] == [first.query, first.key]        # the telling cell's derivation is open
    # what the model did, and what the view shows, said under the text box; no warning
    assert not at.warning, [w.value for w in at.warning]
    assert fv.shows(name, EN) in [c.value for c in at.caption]
    if name in OUTPUTS:
        assert OUTPUTS[name] in [c.value for c in at.code]
    else:
        assert EN("output.no_head") in [c.value for c in at.caption]


@pytest.mark.parametrize("name", NAMES)
def test_head_anatomy_opens_on_the_telling_cell(name):
    first = fv.FIRST_VIEWS[name]
    at = navigate(start(model=name), "anatomy")
    assert_clean(at)
    header, _ = canvas(at, "anatomy.canvas")              # its derivation opens on that cell
    assert header["cell"] == [first.query, first.key]
    assert (first.query, first.key) != (0, 0)             # not <bos> -> <bos> (α = 1, the least telling)
    assert header["head"] == first.head and at.radio(key="w.layer").value == first.layer == header["layer"]


def test_toy_bert_shows_its_five_guesses_at_each_mask():
    at = start(model="toy-bert")
    assert_clean(at)
    network = model.load("toy-bert")
    trace = network.trace(fv.FIRST_VIEWS["toy-bert"].text)
    table = at.table[0].value
    masks = [i for i, token in enumerate(trace.encoder_tokens) if token == "[MASK]"]
    assert [int(p) for p in table[EN("output.top5.position")]] == masks
    for (_, row), position in zip(table.iterrows(), masks):
        guesses = [row[str(rank)] for rank in range(1, 6)]
        assert guesses == [f"{markdown_escaped(token)}  {p:.0%}" for token, p in trace.predictions[position]]
    assert [g.split()[0] for g in table["1"]] == ["e", "r", "u"]    # m(e)thod, retu(r)ns, val(u)e
    assert table[EN("output.top5.mask")].tolist() == [markdown_escaped(context) for context in
                                                      ("is m[MASK]thod", "retu[MASK]ns t", " val[MASK]e of")]


def test_a_link_s_own_values_win():
    at = start(model="toy-gpt", layer=0, head=1)
    assert_clean(at)
    first = fv.FIRST_VIEWS["toy-gpt"]
    assert (view_of(at).layer, view_of(at).head) == (0, 1)
    assert (view_of(at).text, view_of(at).query, view_of(at).key) == (first.text, first.query, first.key)
    at = start(model="toy-gpt", text="the cat sat")
    assert_clean(at)
    assert view_of(at).text == "the cat sat"
    assert (view_of(at).layer, view_of(at).head) == (first.layer, first.head)
    assert (view_of(at).query, view_of(at).key) == (None, None)   # the first view's cell is not this text's
    assert canvas(at, "explore.canvas")[0]["cell"] is None           # no cell chosen


def test_picking_another_model_opens_its_first_view():
    at = start(model="toy-seq2seq")
    at.selectbox(key="w.model").set_value("toy-gpt").run()
    assert_clean(at)
    assert_first_view(at, "toy-gpt")
    assert at.text_input(key="w.text").value == fv.FIRST_VIEWS["toy-gpt"].text
    assert at.radio(key="w.layer").value == 1 and canvas(at, "explore.canvas")[0]["head"] == 3
    # typed text stays; the head follows the model
    at.text_input(key="w.text").set_value("my own words").run()
    at.selectbox(key="w.model").set_value("toy-bert").run()
    assert_clean(at)
    assert at.text_input(key="w.text").value == "my own words"
    first = fv.FIRST_VIEWS["toy-bert"]
    assert (view_of(at).kind, view_of(at).layer, view_of(at).head) == (first.kind, first.layer, first.head)


def test_an_example_is_one_click_away():
    at = start(model="toy-seq2seq")
    buttons = [b for b in at.button if b.key.startswith("guide.example.toy-seq2seq.")]
    assert [b.label.replace("\\", "") for b in buttons] == ["reverse: hello world", "copy: attention 2017", "sort: query key value",
                                                             "swap: attention is all"]  # Markdown-escaped labels
    assert [b.proto.type for b in buttons] == ["primary", "secondary", "secondary", "secondary"]  # shown: lit
    at.button(key="guide.example.toy-seq2seq.3").click().run()
    assert_clean(at)
    assert at.text_input(key="w.text").value == "swap: attention is all"
    assert "all is attention" in [c.value for c in at.code]
    assert at.button(key="guide.example.toy-seq2seq.3").proto.type == "primary"
    at.button(key="guide.example.toy-seq2seq.0").click().run()             # back to the first view
    assert_first_view(at, "toy-seq2seq")


def test_chinese_interface_says_which_model_reads_chinese_and_switches_to_it():
    at = start(model="toy-seq2seq", lang="zh")
    assert_clean(at)
    captions = [c.value for c in at.caption]
    assert any(c.startswith("toy-seq2seq 用四个任务训练") for c in captions)
    if "minilm" in model.available():
        assert any("各模型词表中的汉字数：toy-seq2seq 0、toy-gpt 0、toy-bert 0、minilm " in c for c in captions)
        at.button(key="guide.switch").click().run()
        assert_clean(at)
        assert at.selectbox(key="w.model").value == "minilm"
        assert_first_view(at, "minilm")
