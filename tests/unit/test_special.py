"""Hiding special tokens: flags on every built-in trace, and a filtered trace that still holds
the record invariant (softmax over the kept keys of the same logits)."""
import numpy as np
import pytest

import model
from model.special import has_special, without_special
from tests.invariants import assert_record_invariants


@pytest.fixture(scope="module")
def seq2seq():
    return model.load("toy-seq2seq", device="cpu")


def test_builtin_traces_flag_bos_eos_and_padding(seq2seq):
    trace = seq2seq.trace("copy: abc", pad_to=14)
    assert trace.encoder_special == [False] * 9 + [True] + [True] * 4          # <eos>, then 4 <pad>
    assert trace.encoder_tokens[9] == "<eos>"
    assert trace.decoder_special[0] and trace.decoder_tokens[0] == "<bos>"
    gpt = model.load("toy-gpt", device="cpu").trace("abc")
    assert gpt.decoder_special == [True, False, False, False]
    bert = model.load("toy-bert", device="cpu").trace("a[MASK]c")
    assert not any(bert.encoder_special[1:-1]), "[MASK] is what the model fills, not a special token"


def test_without_special_drops_rows_and_columns_and_renormalises(seq2seq):
    trace = seq2seq.trace("reverse: hello", pad_to=20)
    hidden = without_special(trace)
    assert hidden.encoder_tokens == list("reverse: hello")
    assert "<bos>" not in hidden.decoder_tokens and "<eos>" not in hidden.decoder_tokens
    assert not has_special(hidden)
    for before, after in zip(trace.records, hidden.records):
        assert_record_invariants(after)
        rows_alive = after.allowed.any(-1)
        np.testing.assert_allclose(after.weights.sum(-1)[:, rows_alive], 1, atol=1e-5)
    # the kept weights are the original ones, renormalised over the kept keys
    enc = trace.get("encoder", 1)
    keep = np.flatnonzero(~np.array(trace.encoder_special))
    original = enc.weights[:, keep][:, :, keep]
    np.testing.assert_allclose(hidden.get("encoder", 1).weights,
                               original / original.sum(-1, keepdims=True), rtol=1e-5)
    assert hidden.get("cross", 0).weights.shape[1:] == (len(hidden.decoder_tokens), len(hidden.encoder_tokens))


def test_a_trace_without_special_tokens_is_returned_as_it_is(seq2seq):
    trace = seq2seq.trace("copy: ab")
    trace.encoder_special, trace.decoder_special = [], []
    assert without_special(trace) is trace
