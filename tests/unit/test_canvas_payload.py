"""The attention canvas's payload (viz/canvas.py): it decodes to the record's arrays exactly, it
carries what the browser needs to recompute every stage (checked here by recomputing them the
way attention_canvas.js does), and it stays within the byte budgets of issue 12."""
import numpy as np
import pytest

from tests.tiny_hf import FAMILIES, TEXT
from viz.canvas import (GENERATED, PADDING, SPECIAL, TOY_BUDGET_BYTES, UNKNOWN, BUDGET_BYTES, overview_payload_part, pack,
                        record_payload, token_flags, trace_flags, unpack)

BUILTIN = ["toy-seq2seq", "toy-gpt", "toy-bert"]
TEXTS = {"toy-seq2seq": "reverse: Hello, World.", "toy-gpt": "The cat sat on the mat. <b>x</b>",
         "toy-bert": "This m[MASK]thod retu[MASK]ns the value."}


def browser_stages(header: dict, arrays: dict, head: int) -> dict[str, np.ndarray]:
    """Every stage as the canvas computes it from the payload alone (attention_canvas.js, Numbers)."""
    q = arrays["q"][head].astype(np.float64)
    k = arrays["k"][head].astype(np.float64)
    allowed = arrays["allowed"].astype(bool)
    scores = (q @ k.T).astype(np.float32)
    logits = scores.astype(np.float64) * header["scale"]
    if "bias" in arrays:
        logits = logits + arrays["bias"][head]
    masked = np.where(allowed, logits, -np.inf)
    top = masked.max(axis=1, keepdims=True)
    exp = np.where(allowed, np.exp(masked - np.where(np.isfinite(top), top, 0)), 0.0)
    total = exp.sum(axis=1, keepdims=True)
    weights = np.divide(exp, total, out=np.zeros_like(exp), where=total > 0)
    return {"scores": scores, "logits": masked, "weights": weights,
            "context": weights @ arrays["v"][head].astype(np.float64)}


def check_record(record, payload: bytes) -> None:
    header, arrays = unpack(payload)
    # the round trip is exact: the browser reads the record's own float32 numbers
    for name in ("q", "k", "v"):
        assert arrays[name].dtype == np.float32
        np.testing.assert_array_equal(arrays[name], getattr(record, name))
    np.testing.assert_array_equal(arrays["allowed"].astype(bool), record.allowed)
    if record.bias is None:
        assert "bias" not in arrays
    else:
        np.testing.assert_array_equal(arrays["bias"], record.bias)
    assert header["query_tokens"] == record.query_tokens and header["key_tokens"] == record.key_tokens
    assert (header["rows"], header["cols"], header["heads"]) == (*record.allowed.shape, record.n_heads)
    assert header["scale"] == pytest.approx(record.scale, rel=0, abs=0)
    # ... and from it every stage equals the record's, to 1e-5
    for head in range(record.n_heads):
        stages = browser_stages(header, arrays, head)
        np.testing.assert_allclose(stages["scores"], record.scores[head], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(stages["weights"], record.weights[head], rtol=0, atol=1e-5)
        np.testing.assert_allclose(stages["context"], record.context[head], rtol=0, atol=1e-5)
        finite = record.allowed
        np.testing.assert_allclose(stages["logits"][finite], record.logits()[head][finite], rtol=1e-5, atol=1e-4)
        assert np.all(np.isneginf(stages["logits"][~finite]))


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_payloads_decode_to_the_record_and_give_its_stages(name, loaded):
    trace = loaded(name).trace(TEXTS[name])
    for record in trace.records:
        check_record(record, record_payload(record, 0, "weights"))


@pytest.mark.parametrize("family", FAMILIES)
def test_hf_payloads_give_the_record_s_stages_rope_and_t5_bias_included(family, hf_model):
    network = hf_model(family)
    target = "hello world" if network.architecture == "encoder-decoder" else None
    trace = network.trace(TEXT, target, pad_to=12)      # padded: the mask and the padding flags show
    for record in trace.records:
        check_record(record, record_payload(record, "mean", "scores"))
    if family == "t5":
        assert any(r.bias is not None for r in trace.records)


def test_flags_mark_unknown_special_generated_and_padding(loaded):
    network = loaded("toy-gpt")
    trace = network.trace("ab\u4e2dc", max_new_tokens=3, pad_to=0)
    record = trace.records_of("decoder")[0]
    rows, cols = trace_flags(trace, "decoder", *record.allowed.shape, record.allowed)
    assert rows.dtype == np.uint8 and len(rows) == len(record.query_tokens)
    labels = record.query_tokens
    assert rows[labels.index("\u4e2d")] & UNKNOWN          # a character toy-gpt never saw
    assert rows[trace.generated_from] & GENERATED and not rows[trace.generated_from - 1] & GENERATED
    assert not rows[1] & UNKNOWN
    padded = loaded("toy-bert").trace("abc", pad_to=8)
    record = padded.records[0]
    rows, cols = trace_flags(padded, "encoder", *record.allowed.shape, record.allowed)
    assert [bool(f & PADDING) for f in cols] == [not a for a in record.allowed.any(axis=0)]
    assert any(f & PADDING for f in cols)
    assert rows[-1] & SPECIAL and rows[-1] & PADDING and not rows[0] & (SPECIAL | PADDING)   # a padding position
    assert list(token_flags(3, unknown=[True], special=[False, True], generated_from=2)) == [
        UNKNOWN, SPECIAL, GENERATED]


def test_markup_and_any_unicode_travel_as_text(loaded):
    record = loaded("toy-gpt").trace('<img src=x onerror="alert(1)">\u202e\u4e2d').records[0]
    header, _ = unpack(record_payload(record, 0, "weights", text={"x": "<b>label</b>"}))
    assert "".join(header["query_tokens"]) == '<bos><img src=x onerror="alert(1)">\u202e\u4e2d'
    assert header["text"]["x"] == "<b>label</b>"           # the JavaScript sets it as text, never HTML


def test_pack_aligns_every_array_and_refuses_other_types():
    arrays = {"a": np.arange(3, dtype=np.uint8), "b": np.arange(5, dtype=np.float32)}
    payload = pack({"name": "é"}, arrays)
    header, back = unpack(payload)
    assert header["name"] == "é"
    assert all(place["offset"] % 8 == 0 for place in header["arrays"])
    for name in arrays:
        np.testing.assert_array_equal(back[name], arrays[name])
    with pytest.raises(TypeError):
        pack({}, {"c": np.arange(3, dtype=np.float64)})
    with pytest.raises(ValueError):
        unpack(b"nope" + payload[4:])


@pytest.mark.parametrize("name", BUILTIN)
def test_a_toy_model_s_canvas_stays_within_its_budget_at_its_longest_input(name, loaded):
    network = loaded(name)
    text = ("reverse: " if name == "toy-seq2seq" else "") + "the quick brown fox " * 40
    trace = network.trace(text)
    assert trace.truncated > 0                           # the longest input the model takes
    # as Explore mounts it: one layer in full, and the overview of every layer of its kind
    sizes = [len(record_payload(r, 0, "weights", overview=overview_payload_part(trace.records_of(r.kind))))
             for r in trace.records]
    assert max(sizes) <= TOY_BUDGET_BYTES, sizes


def test_minilm_at_512_tokens_stays_within_the_budget(loaded):
    network = loaded("minilm")
    text = " ".join(["attention"] * 600)
    trace = network.trace(text)
    record = trace.records[-1]
    assert record.allowed.shape == (512, 512)
    payload = record_payload(record, 0, "weights", overview=overview_payload_part(trace.records_of(record.kind)))   # as Explore mounts it
    assert len(payload) <= BUDGET_BYTES, len(payload)
    check_record(record, payload)


def test_the_overview_of_a_trace_is_pooled_once_while_it_lives(loaded, monkeypatch):
    """ui.canvas.overview_of: every rerun mounts the canvas with the same cached trace; its
    overview (0.3-0.6 s of pooling at 512 MiniLM tokens) is computed once, another trace's anew."""
    from ui import canvas
    calls = []
    real = canvas.overview_payload_part
    monkeypatch.setattr(canvas, "overview_payload_part", lambda records: calls.append(1) or real(records))
    network = loaded("toy-gpt")
    first, second = network.trace("abcabc"), network.trace("xyzxyz")
    a = canvas.overview_of(tuple(first.records_of("decoder")))
    assert canvas.overview_of(tuple(first.records_of("decoder"))) is a and len(calls) == 1
    b = canvas.overview_of(tuple(second.records_of("decoder")))
    assert b is not a and len(calls) == 2
    np.testing.assert_array_equal(a[1]["ov_weights"], real(first.records_of("decoder"))[1]["ov_weights"])
