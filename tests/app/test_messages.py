"""Messages that agree with each other and with what the user has: what a model does, what its
token labels mean, where the causal mask goes, what to do when a model cannot load; and warnings
before the output for input the model was not trained on."""
import pytest

import model
from tests.apptest import assert_clean, navigate, start
from ui.i18n import translator

EN, ZH = translator("en"), translator("zh")
HAS_MINILM = "minilm" in model.available()


def walk(node):
    """Every element of the page in the order it is drawn."""
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def drawn_order(at) -> list:
    return [(node.type, getattr(node, "value", None)) for node in walk(at.main)]


# ---- what a model does: the same on every page --------------------------------------------------

@pytest.mark.skipif(not HAS_MINILM, reason="the minilm package is not installed")
def test_minilm_is_said_to_predict_nothing_on_every_page():
    explore = start(model="minilm")
    assert EN("output.no_head") in [c.value for c in explore.caption]
    generation = start(model="minilm", page="generation")
    assert_clean(generation)
    said = " ".join(i.value for i in generation.info)
    assert "does not generate" in said and "without a head that predicts tokens" in said
    assert "it fills in [MASK]" not in said


def test_toy_bert_is_said_to_fill_in_masks():
    at = start(model="toy-bert", page="generation")
    assert_clean(at)
    said = " ".join(i.value for i in at.info)
    assert "fills in [MASK] tokens" in said and "does not generate" in said
    assert at.table, "its guesses at the masks are under the output"


# ---- token labels: the space/newline note only where a space or newline is a token ---------------

@pytest.mark.parametrize("name,shown", [("toy-seq2seq", True), ("toy-bert", True), ("minilm", False)])
def test_the_whitespace_note_only_for_character_tokens(name, shown):
    if name not in model.available():
        pytest.skip(f"{name} is not installed")
    at = start(model=name)
    assert_clean(at)
    assert (EN("model.whitespace") in [c.value for c in at.caption]) is shown
    assert all("␣ is a space" not in c.value for c in at.caption if c.value != EN("model.whitespace"))


# ---- section numbers, source-text references, load errors ---------------------------------------

@pytest.mark.parametrize("name,titles", [("toy-gpt", ["1 · Step-through of greedy generation"]),
                                         ("toy-seq2seq", ["1 · Encoder–decoder attention beside the target",
                                                          "2 · Step-through of greedy generation"])])
def test_generation_sections_count_from_one(name, titles):
    at = start(model=name, page="generation")
    assert_clean(at)
    assert [h.value for h in at.subheader] == titles


def test_the_worked_example_is_named_in_words_not_by_section_number():
    for lang, t in (("en", EN), ("zh", ZH)):
        at = start(page="worked-example", lang=lang)
        assert_clean(at)
        text = " ".join(str(value) for _, value in drawn_order(at) if isinstance(value, str))
        assert t("worked.title") in text
        assert "§" not in text and "4.2" not in text


def test_a_load_error_names_the_sidebar_checkbox_not_a_python_argument():
    at = start(model="toy-gpt")
    at.text_input(key="model_path").set_value("someone/not-cached-model")
    at.button(key="model_path.load").click()
    at.run()
    errors = [e.value for e in at.sidebar.error]
    assert errors and all("allow_download" not in e for e in errors)
    assert any(EN("control.model_path.download") in e and EN("control.model_path.title") in e for e in errors)
    assert at.checkbox(key="model_path.download").label == EN("control.model_path.download")


# ---- where the causal mask goes ------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["en", "zh"])
def test_explore_says_the_mask_is_on_the_scores_not_on_v(lang):
    t = translator(lang)
    at = start(model="toy-gpt", lang=lang)
    assert_clean(at)
    assert at.radio(key="w.kind").value == "decoder"
    assert t("kind.decoder.mask") in [c.value for c in at.caption]
    encoder = start(model="toy-seq2seq", kind="encoder", lang=lang)
    assert t("kind.decoder.mask") not in [c.value for c in encoder.caption]
    said = t("kind.decoder.mask")
    assert "−∞" in said and "softmax" in said and "V" in said


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_worked_example_s_causal_switch_says_where_the_mask_goes(lang):
    t = translator(lang)
    at = start(page="worked-example", lang=lang)
    assert t("worked.causal.where") not in [c.value for c in at.caption]
    at.toggle(key="w.causal").set_value(True).run()
    assert_clean(at)
    assert t("worked.causal.where") in [c.value for c in at.caption]
    assert "V" in t("worked.causal.help") and "V" in t("worked.causal.where")


# ---- warnings before the output ------------------------------------------------------------------

def test_warnings_come_before_the_output():
    at = start(model="toy-seq2seq", text="copy: Attention Is All You Need")
    assert_clean(at)
    order = drawn_order(at)
    warnings = [i for i, (kind, _) in enumerate(order) if kind == "alert" or kind == "warning"]
    output = next(i for i, (kind, value) in enumerate(order) if kind == "code")
    assert len(at.warning) == 2 and warnings and max(warnings) < output
    assert "it never saw these characters: A, I, Y, N" in at.warning[0].value


def test_a_long_text_for_toy_gpt_says_why_nothing_was_generated():
    at = start(model="toy-gpt", text="abcdefgh" * 16)
    assert_clean(at)
    assert [w.value for w in at.warning] == [EN("guide.warn.no_room", name="toy-gpt", room=128)]
    assert EN("output.none") in [c.value for c in at.caption]


def test_typed_chinese_is_warned_in_typed_order_and_a_reader_is_offered():
    at = start(model="toy-gpt", text="注意力 is all you need")
    assert_clean(at)
    assert [w.value for w in at.warning] == [
        "Not in toy-gpt's vocabulary, so it reads each of these as the same unknown token: 注, 意, 力"]
    if HAS_MINILM:
        assert at.button(key="guide.switch").label == "Switch to minilm"
        at.button(key="guide.switch").click().run()
        assert_clean(at)
        assert at.selectbox(key="w.model").value == "minilm"
        assert at.text_input(key="w.text").value == "注意力 is all you need"      # the typed text stays
        assert [w.value for w in at.warning] == [
            "Not in minilm's vocabulary, so it reads each of these as the same unknown token: 注, 意"]


def test_the_guide_is_not_offered_where_nothing_is_typed():
    at = navigate(start(model="toy-gpt"), "worked-example")
    assert_clean(at)
    assert not [b for b in at.button if b.key.startswith("guide.example")]
