"""The language switch clicked in the sidebar (not opened by link): every choice made before it
survives, the sidebar itself changes language in the same run, and later clicks stick. The
browser walk (tests/browser/test_language_switch.py) checks the same in Chromium."""
from tests.apptest import assert_clean, canvas, choose_in_canvas, navigate, start


def sidebar_labels(at) -> list[str]:
    return [w.label for w in (*at.sidebar.selectbox, *at.sidebar.radio, *at.sidebar.select_slider, *at.sidebar.toggle)]


def test_clicking_chinese_keeps_the_view_and_translates_the_sidebar():
    at = start(model="toy-seq2seq", text="reverse: hello world")
    at.radio(key="w.kind").set_value("cross").run()
    choose_in_canvas(at, head=2, stage="scaled")  # head and stage are picked in the attention canvas
    before = at.session_state["view"]
    output = [c.value for c in at.code][0]

    at.radio(key="w.lang").set_value("zh").run()
    assert_clean(at)
    assert "模型" in sidebar_labels(at) and "训练进度" in sidebar_labels(at), sidebar_labels(at)
    assert at.radio(key="w.kind").value == "cross"
    header, _ = canvas(at, "explore.canvas")
    assert (header["kind"], header["stage"], header["head"]) == ("cross", "scaled", 2)
    assert header["text"]["head"] == "头"                         # the canvas speaks Chinese too
    assert at.select_slider(key="w.snapshot").value == "final"

    # two more clicks: each sticks, the rest stays
    choose_in_canvas(at, stage="weights")
    at.radio(key="w.layer").set_value(1).run()
    view = at.session_state["view"]
    assert (view.kind, view.stage, view.layer, view.head, view.snapshot, view.lang) == \
        ("cross", "weights", 1, 2, "final", "zh")
    assert view.model == before.model and view.text == before.text
    assert [c.value for c in at.code][0] == output

    # another page, then back to English from there
    at = navigate(at, "generation")
    assert at.radio(key="w.decoder_input").value == "free"
    at.radio(key="w.lang").set_value("en").run()
    assert_clean(at)
    assert "Model" in sidebar_labels(at)
    assert at.radio(key="w.decoder_input").value == "free"
    view = at.session_state["view"]
    assert (view.kind, view.layer, view.head, view.snapshot, view.lang) == ("cross", 1, 2, "final", "en")
