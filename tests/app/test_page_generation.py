"""The Generation page: viz/generation.py on hand-made records and steps, and the page in AppTest."""

import numpy as np

import model
from model.trace import AttentionRecord, Trace
from viz import generation as gen
from viz.canvas import GENERATED
from viz.labels import token_label, token_labels
from tests import apptest
from tests.apptest import array, assert_clean, chart, spec



# ---- helpers ----------------------------------------------------------------------------------

def make_record(kind, query_tokens, key_tokens, n_heads=3, causal=False, seed=0, layer=0, blocked=()):
    """A record whose weights are a softmax by hand (rows sum to 1 over the allowed keys)."""
    nq, nk = len(query_tokens), len(key_tokens)
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal((n_heads, nq, nk)).astype(np.float32)
    allowed = np.tril(np.ones((nq, nk), bool), k=nk - nq) if causal else np.ones((nq, nk), bool)
    for row, col in blocked:
        allowed[row, col] = False
    exp = np.where(allowed, np.exp(scores), 0)
    weights = (exp / exp.sum(-1, keepdims=True)).astype(np.float32)
    d = 2
    return AttentionRecord(kind=kind, layer=layer, query_tokens=list(query_tokens), key_tokens=list(key_tokens),
                           q=np.zeros((n_heads, nq, d), np.float32), k=np.zeros((n_heads, nk, d), np.float32),
                           v=np.zeros((n_heads, nk, d), np.float32), scores=scores, scale=1.0, bias=None,
                           allowed=allowed, weights=weights, context=np.zeros((n_heads, nq, d), np.float32))


def make_step(prefix, source=None, token="<b>", n_heads=3, layers=1, index=2):
    """A GenerationStep by hand: decoder (and cross) records whose query rows are the prefix."""
    records = []
    for layer in range(layers):
        records.append(make_record("decoder", prefix, prefix, n_heads, causal=True, seed=layer, layer=layer))
        if source is not None:
            records.append(make_record("cross", prefix, source, n_heads, seed=10 + layer, layer=layer))
    top = [(token, 0.6), ("a", 0.2), ("<script>", 0.1), ("1", 0.05), (" ", 0.01)]
    return model.GenerationStep(index=index, token=token, token_id=7, top=top, records=records)


# ---- viz/generation.py: one step --------------------------------------------------------------

def test_step_prediction_figure_highlights_the_new_token_and_escapes_labels():
    step = make_step(["<bos>", "x", " "], source=list("ab"), token="<b>")
    fig = gen.step_prediction_figure(step)
    strip, bars = fig.data
    assert list(strip.text) == ["&lt;bos&gt;", "x", "␣", "&lt;b&gt;"]
    colours = list(strip.marker.color)
    assert colours[-1] == gen.HIGHLIGHT and set(colours[:-1]) == {gen.NEUTRAL}
    assert list(bars.y) == ["&lt;b&gt;", "a", "&lt;script&gt;", "1", "␣"]
    np.testing.assert_allclose(array(spec(fig)["data"][1]["x"]), [0.6, 0.2, 0.1, 0.05, 0.01], rtol=1e-6)
    assert list(bars.marker.color) == [gen.HIGHLIGHT] + [gen.OTHER_BAR] * 4
    assert spec(fig)["layout"]["yaxis2"]["type"] == "category"   # "1" stays a token, not a number
    assert "&lt;b&gt;" in fig.layout.title.text and "<b>" not in fig.layout.title.text


def test_step_prediction_figure_wraps_a_long_prefix():
    prefix = ["<bos>"] + list("abcdefghij" * 5)
    step = make_step(prefix, token="z")
    strip = gen.step_prediction_figure(step).data[0]
    n = len(prefix) + 1
    assert list(strip.x) == [i % gen.TOKENS_PER_LINE for i in range(n)]
    assert list(strip.y) == [i // gen.TOKENS_PER_LINE for i in range(n)]


def test_a_step_shows_its_cross_attention_or_else_its_masked_self_attention():
    step = make_step(["<bos>", "c", "b"], source=["a", "<i>", "c", "<eos>"], n_heads=3, layers=2)
    record = gen.step_record(step, 1)
    assert (record.kind, record.layer) == ("cross", 1)
    only_self = make_step(["<bos>", "t", "h", "e"], token="n", n_heads=2)
    assert (gen.step_record(only_self, 0).kind, gen.step_record(only_self, 0).layer) == ("decoder", 0)


def assert_step_canvas(at, step, kind: str, layer: int) -> None:
    """The step's canvas: that pass's record, opened at the new token's row on the key it
    attends most (mean over heads)."""
    header, arrays = apptest.canvas(at, "generation.step.canvas")
    record = next(r for r in step.records if r.kind == kind and r.layer == layer)
    apptest.assert_canvas_is_record(header, arrays, record)
    last = record.allowed.shape[0] - 1
    assert header["cell"] == [last, int(record.weights[:, last].mean(axis=0).argmax())]


# ---- viz/generation.py: teacher forcing -------------------------------------------------------

def fake_trace(architecture, tokens, predicted, generated_from=None, target=None):
    predictions = [[(p, 0.9), ("?", 0.1)] for p in predicted]
    return Trace(model_name="fake", architecture=architecture, records=[], decoder_tokens=tokens + ["<pad>"],
                 predictions=predictions, generated_from=generated_from, target=target)


def test_teacher_forcing_rows_shift_the_target_by_one():
    trace = fake_trace("encoder-decoder", ["<bos>", "c", "b", "x"], ["c", "b", "a", "<eos>"], target="cbx")
    inputs, given, top = gen.teacher_forcing_rows(trace)
    assert inputs == ["<bos>", "c", "b", "x"] and given == ["c", "b", "x", "<eos>"]
    assert [t[0][0] for t in top] == ["c", "b", "a", "<eos>"]
    # Decoder-only: the prompt is given; its last position predicts a token nobody gave.
    trace = fake_trace("decoder-only", ["<bos>", "a", "b", "c", "Z"], list("abcZq"), generated_from=4)
    inputs, given, top = gen.teacher_forcing_rows(trace)
    assert inputs == ["<bos>", "a", "b"] and given == ["a", "b", "c"] and len(top) == 3


def test_teacher_forcing_figure_marks_where_prediction_and_given_differ():
    fig = gen.teacher_forcing_figure(["<bos>", "c", "<b>"], ["c", "<b>", "<eos>"],
                                     [[("c", 0.9)], [("a", 0.7)], [("<eos>", 0.99)]])
    heat = fig.data[0]
    text = [list(row) for row in heat.text]
    assert text[0] == ["&lt;bos&gt;", "c", "&lt;b&gt;"]
    assert text[1] == ["c", "&lt;b&gt;", "&lt;eos&gt;"] and text[2] == ["c", "a", "&lt;eos&gt;"]
    assert text[3] == ["✓", "✗", "✓"]
    z = np.asarray(heat.z)
    assert z.shape == (4, 3) and list(z[2]) == [1, 2, 1] and list(z[3]) == [1, 2, 1] and not z[:2].any()
    assert "1 of 3" in fig.layout.title.text


# ---- the page in AppTest ----------------------------------------------------------------------

def start(**params):
    """The app opened on the generation page with these URL query parameters."""
    return apptest.start(**{"page": "generation", **params})


def test_encoder_only_model_says_it_does_not_generate():
    at = start(model="toy-bert")
    assert_clean(at)
    assert any("does not generate" in info.value for info in at.info)
    assert not apptest.pictures(at)


def test_decoder_only_steps_continue_the_typed_text():
    text = "the cat sat"
    at = start(model="toy-gpt", text=text)
    assert_clean(at)
    assert at.radio(key="w.decoder_input").value == "free"
    at.number_input(key="w.new_tokens").set_value(3).run()
    assert_clean(at)
    steps = model.load("toy-gpt").generate_steps(text, 3)
    assert at.slider(key="w.step").max == len(steps) - 1 == 2
    at.slider(key="w.step").set_value(2).run()
    figs = apptest.charts(at)
    assert set(figs) == {"generation.step_prediction"}
    assert list(apptest.canvases(at)) == ["generation.step.canvas"]    # no cross-attention in a decoder-only model
    strip = figs["generation.step_prediction"]["data"][0]
    assert strip["text"] == token_labels(["<bos>", *text, steps[0].token, steps[1].token, steps[2].token])
    assert_step_canvas(at, steps[2], "decoder", 1)     # layer 1: toy-gpt's first view (its induction head)
    # Teacher forcing for a decoder-only model: the typed text is the given sequence.
    at.radio(key="w.decoder_input").set_value("teacher").run()
    assert_clean(at)
    teacher = chart(at, "generation.teacher")["data"][0]
    trace = model.load("toy-gpt").trace(text)
    assert teacher["text"][1] == token_labels(list(text))
    assert teacher["text"][2] == token_labels([p[0][0] for p in trace.predictions[:len(text)]])


def test_seq2seq_steps_show_the_model_token_top5_and_attention_rows():
    text = "reverse: abc"
    network = model.load("toy-seq2seq")
    steps = network.generate_steps(text, network.max_len)
    at = start(model="toy-seq2seq", text=text, layer=2)
    assert_clean(at)
    assert at.radio(key="w.decoder_input").value == "free"
    slider = at.slider(key="w.step")
    assert slider.value == 0 and slider.max == len(steps) - 1
    for t in (0, 2):
        at.slider(key="w.step").set_value(t).run()
        assert_clean(at)
        figs = apptest.charts(at)
        step = steps[t]
        strip, bars = figs["generation.step_prediction"]["data"]
        assert strip["text"][-1] == token_label(step.token)
        assert strip["text"] == token_labels(step.records[0].query_tokens + [step.token])
        assert bars["y"] == [token_label(tok) for tok, _ in step.top]
        np.testing.assert_allclose(array(bars["x"]), [p for _, p in step.top], rtol=1e-4, atol=1e-6)
        assert_step_canvas(at, step, "cross", 2)
        header, _ = apptest.canvas(at, "generation.step.canvas")
        assert header["rows"] == t + 1                   # the prefix grows by one per step
    # Section 1: the cross-attention of the generated target, every layer × head, the generated
    # rows flagged (bold, under a dashed line in the browser)
    trace = network.trace(text)
    header, arrays = apptest.canvas(at, "generation.canvas")
    apptest.assert_canvas_is_record(header, arrays, trace.get("cross", 2))
    assert header["overview"]["layers"] == [0, 1, 2]
    generated = [bool(f & GENERATED) for f in arrays["query_flags"]]
    assert generated == [i >= trace.generated_from for i in range(len(trace.decoder_tokens))]


def test_teacher_forcing_shows_predictions_beside_the_given_target():
    text, target = "reverse: abc", "cbx"
    network = model.load("toy-seq2seq")
    at = start(model="toy-seq2seq", text=text, target=target)
    assert_clean(at)
    assert at.radio(key="w.decoder_input").value == "teacher"      # a typed target asks for it
    figs = apptest.charts(at)
    assert set(figs) == {"generation.teacher"} and list(apptest.canvases(at)) == ["generation.canvas"]
    trace = network.trace(text, target)
    heat = figs["generation.teacher"]["data"][0]
    assert heat["text"][0] == ["&lt;bos&gt;", "c", "b", "x"]
    assert heat["text"][1] == ["c", "b", "x", "&lt;eos&gt;"]
    predicted = [p[0][0] for p in trace.predictions]
    assert heat["text"][2] == token_labels(predicted)
    differs = [p != g for p, g in zip(predicted, ["c", "b", "x", "<eos>"])]
    assert differs[2]                                   # the model reverses "abc": it predicts "a", not "x"
    assert list(array(heat["z"])[2]) == [2 if d else 1 for d in differs]
    # The given target is drawn, unmarked (nothing was generated).
    header, arrays = apptest.canvas(at, "generation.canvas")
    assert header["query_tokens"] == ["<bos>", *target] and not any(f & GENERATED for f in arrays["query_flags"])
    # Free generation ignores the typed target: the model's own output, marked, and the steps.
    at.radio(key="w.decoder_input").set_value("free").run()
    assert_clean(at)
    assert set(apptest.charts(at)) == {"generation.step_prediction"}
    assert list(apptest.canvases(at)) == ["generation.canvas", "generation.step.canvas"]
    header, arrays = apptest.canvas(at, "generation.canvas")
    assert header["query_tokens"] == network.trace(text).decoder_tokens and any(f & GENERATED for f in arrays["query_flags"])


def test_chinese_interface_explains_both_modes():
    at = start(model="toy-seq2seq", text="reverse: abc", target="cba", lang="zh")
    assert_clean(at)
    assert any("教师强制" in c.value for c in at.caption)
    at.radio(key="w.decoder_input").set_value("free").run()
    assert any("自由生成" in c.value for c in at.caption)
