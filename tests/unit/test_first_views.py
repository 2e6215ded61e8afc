"""Each model's first view (ui/first_views.py): the model succeeds at its text, and the head and
cell shown are the ones the measurement picks, measured again here on the stored weights."""
import numpy as np
import pytest

import model
from model.training import evaluate
from model.training.tasks import TASKS, task_prefix
from ui import first_views as fv
from ui.runs import NEW_TOKENS

NAMES = [name for name in fv.FIRST_VIEWS if name in model.available()]
BERT_SENTENCE = "This method returns the value of the attribute."     # the first view, unmasked


def first_trace(network, name):
    """The first view's trace as the app runs it (a decoder-only model continues the text)."""
    generates_after = network.arch.generates and not network.arch.has_encoder
    return network.trace(fv.FIRST_VIEWS[name].text, max_new_tokens=NEW_TOKENS if generates_after else 0)


def test_toy_gpt_completes_the_repeated_span(loaded):
    first = fv.FIRST_VIEWS["toy-gpt"]
    text = first.text
    period = fv.period_of(text)
    assert period == len("qkvSoftmax42") and len(text) > 2 * period      # typed twice, then its start
    trace = first_trace(loaded("toy-gpt"), "toy-gpt")
    expected = "".join(text[(len(text) + i) % period] for i in range(NEW_TOKENS))
    assert trace.output_text == expected == "Softmax42qkvSoftmax42qkv"


def test_toy_bert_fills_every_mask_with_the_original_character(loaded):
    text = fv.FIRST_VIEWS["toy-bert"].text
    assert text.count("[MASK]") == 3
    trace = first_trace(loaded("toy-bert"), "toy-bert")
    masks = fv.mask_positions(trace)
    assert len(masks) == 3
    # without [MASK] tokens the positions are the sentence's characters
    assert [c for c in trace.encoder_tokens if c != "[MASK]"] == [c for i, c in enumerate(BERT_SENTENCE)
                                                                  if i not in set(masks)]
    for position in masks:
        best, probability = trace.predictions[position][0]
        assert best == BERT_SENTENCE[position] and probability > 0.5
    assert trace.output_text == BERT_SENTENCE


def test_toy_seq2seq_gives_the_exact_answer_of_its_task(loaded):
    text = fv.FIRST_VIEWS["toy-seq2seq"].text
    task = next(task for task in TASKS if text.startswith(task_prefix(task)))
    assert task == "reverse"
    source = text[len(task_prefix(task)):]
    assert first_trace(loaded("toy-seq2seq"), "toy-seq2seq").output_text == TASKS[task](source) == "dlrow olleh"


@pytest.mark.parametrize("name", NAMES)
def test_the_chosen_head_is_the_measured_best(loaded, name):
    first = fv.FIRST_VIEWS[name]
    trace = first_trace(loaded(name), name)
    scores = fv.MEASURES[first.pattern](trace)
    assert scores.shape == (loaded(name).n_layers, loaded(name).n_heads)
    layer, head, score = fv.best_head(scores)
    assert (first.kind, first.layer, first.head) == (first.kind, layer, head)
    assert first.score == pytest.approx(score, abs=0.005)
    # clearly the best: the runner-up head scores lower
    assert np.sort(scores, axis=None)[-2] < score


@pytest.mark.parametrize("name", NAMES)
def test_the_cell_shown_is_the_pattern_not_a_special_token(loaded, name):
    first = fv.FIRST_VIEWS[name]
    trace = first_trace(loaded(name), name)
    record = trace.get(first.kind, first.layer)
    queries, keys = fv.PAIRS[first.pattern](trace)
    assert (first.query, first.key) in set(zip(queries.tolist(), keys.tolist()))
    assert (first.query, first.key) != (0, 0)
    query_special = trace.encoder_special if first.kind == "encoder" else trace.decoder_special
    key_special = trace.decoder_special if first.kind == "decoder" else trace.encoder_special
    assert not query_special[first.query] and not key_special[first.key]
    row = record.weights[first.head, first.query]
    assert int(row.argmax()) == first.key            # the head's largest weight in that row


def test_toy_gpt_cell_is_the_last_typed_character_and_what_it_copies(loaded):
    first = fv.FIRST_VIEWS["toy-gpt"]
    trace = first_trace(loaded("toy-gpt"), "toy-gpt")
    record = trace.get("decoder", first.layer)
    assert first.query == len(first.text)                         # after <bos>: the last typed "v"
    assert record.query_tokens[first.query] == first.text[-1] == "v"
    assert record.key_tokens[first.key] == trace.output_text[0] == "S"   # the character it writes next


def test_the_heads_agree_with_the_held_out_measurements(loaded):
    """The first views' heads are the heads evaluate.py finds on held-out data."""
    gpt = evaluate.induction_scores(loaded("toy-gpt"), n=50)["head_scores"]
    assert fv.best_head(gpt)[:2] == (fv.FIRST_VIEWS["toy-gpt"].layer, fv.FIRST_VIEWS["toy-gpt"].head)
    seq2seq = evaluate.reverse_alignment(loaded("toy-seq2seq"), n=100)
    assert fv.best_head(seq2seq)[:2] == (fv.FIRST_VIEWS["toy-seq2seq"].layer, fv.FIRST_VIEWS["toy-seq2seq"].head)


def test_measures_on_a_made_up_trace():
    """The induction measure reads the weights it says it reads (a record of known weights)."""
    from model.trace import AttentionRecord, Trace

    tokens = ["<bos>", *"abab"]                    # the second "a" and "b" repeat the first ones
    n = len(tokens)
    weights = np.zeros((2, n, n), np.float32)
    weights[0, :, 0] = 1                           # head 0: everything on <bos>
    weights[1, :, 0] = 1
    weights[1, 3] = np.eye(n)[2]                   # head 1: 2nd "a" (3) -> the "b" after the 1st "a" (2)
    weights[1, 4] = np.eye(n)[3]                   #         2nd "b" (4) -> the "a" after the 1st "b" (3)
    zeros = np.zeros((2, n, 2), np.float32)
    record = AttentionRecord("decoder", 0, tokens, tokens, zeros, zeros, zeros, np.zeros_like(weights), 1.0, None,
                             np.tril(np.ones((n, n), bool)), weights, zeros)
    trace = Trace(model_name="x", architecture="decoder-only", records=[record], decoder_tokens=tokens,
                  decoder_special=[True] + [False] * 4, decoder_unknown=[False] * n, text="abab")
    assert fv.period_of("abab") == 2 and fv.period_of("abc") == 3
    queries, keys = fv.induction_positions(trace)
    assert queries.tolist() == [3, 4] and keys.tolist() == [2, 3]
    np.testing.assert_allclose(fv.induction(trace), [[0.0, 1.0]])


def test_a_link_s_values_win_over_the_first_view():
    first = fv.FIRST_VIEWS["toy-gpt"]
    assert fv.unlinked_values("toy-gpt", []) == {f: getattr(first, f) for f in fv.FIELDS}
    # the link's layer stays; the rest is the first view's
    assert fv.unlinked_values("toy-gpt", ["model", "layer"]) == {f: getattr(first, f) for f in fv.FIELDS
                                                                if f != "layer"}
    # another text: the first view's cell would index tokens it does not have
    assert fv.unlinked_values("toy-gpt", ["text"]) == {"kind": "decoder", "layer": first.layer, "head": first.head}
    assert fv.unlinked_values("a/folder/of/mine", []) == {"text": fv.FALLBACK_TEXT}
    assert fv.unlinked_values("a/folder/of/mine", ["text"]) == {}
