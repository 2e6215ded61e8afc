"""Interventions: switching heads off and hiding key tokens change what they should, only that."""
import numpy as np

import model
from model import Intervention
from tests.invariants import assert_record_invariants


def test_no_intervention_is_the_plain_run():
    m = model.load("toy-gpt")
    plain, same = m.trace("abcabc"), m.trace("abcabc", intervention=Intervention())
    for a, b in zip(plain.records, same.records):
        np.testing.assert_array_equal(a.weights, b.weights)


def test_switching_off_a_head_changes_only_later_layers():
    m = model.load("toy-gpt")
    text = "the function returns the"
    plain = m.trace(text)
    off = m.trace(text, intervention=Intervention(heads_off=frozenset({("decoder", 0, h) for h in range(m.n_heads)})))
    np.testing.assert_array_equal(plain.get("decoder", 0).weights, off.get("decoder", 0).weights)
    assert not np.allclose(plain.get("decoder", 1).weights, off.get("decoder", 1).weights, atol=1e-4)
    assert plain.predictions != off.predictions
    for record in off.records:
        assert_record_invariants(record)


def test_switching_off_every_cross_head_breaks_the_task():
    m = model.load("toy-seq2seq")
    every = frozenset(("cross", layer, h) for layer in range(m.n_layers) for h in range(m.n_heads))
    assert m.trace("reverse: abcdef").output_text == "fedcba"
    assert m.trace("reverse: abcdef", intervention=Intervention(heads_off=every)).output_text != "fedcba"


def test_masked_key_tokens_are_hidden_everywhere():
    m = model.load("toy-seq2seq")
    trace = m.trace("copy: abc", target="abc", intervention=Intervention(hidden_encoder_keys=frozenset({6})))
    for record in trace.records:
        assert_record_invariants(record)
        if record.kind in ("encoder", "cross"):
            assert not record.allowed[:, 6].any()
            assert np.all(record.weights[:, :, 6] == 0)
    gpt = model.load("toy-gpt").trace("abcd", intervention=Intervention(hidden_decoder_keys=frozenset({2})))
    assert not gpt.get("decoder", 1).allowed[:, 2].any()


def test_interventions_reach_generation_steps():
    m = model.load("toy-seq2seq")
    every = frozenset(("cross", layer, h) for layer in range(m.n_layers) for h in range(m.n_heads))
    steps = m.generate_steps("reverse: abcdef", intervention=Intervention(heads_off=every))
    traced = m.trace("reverse: abcdef", intervention=Intervention(heads_off=every))
    assert "".join(s.token for s in steps if s.token != "<eos>") == traced.output_text
