"""The built-in models through the public API: records, invariants, generation, files."""
import shutil

import numpy as np
import pytest
import torch

import model
from model import catalog, recording
from tests.invariants import assert_record_invariants

INPUTS = {
    "toy-seq2seq": ["reverse: hello", "sort: 你好世界 abc", "copy: 🙂👍🏽 ok", "x", "swap: a <b> & c"],
    "toy-gpt": ["The quick brown fox", "中文也可以", "emoji 🎉🎉", "a", "<script>alert(1)</script>"],
    "toy-bert": ["the c[MASK]t sat", "你好 [MASK]", "🙂", "q", "[MASK][MASK]"],
}
EXPECTED_KINDS = {"toy-seq2seq": ["encoder", "decoder", "cross"], "toy-gpt": ["decoder"], "toy-bert": ["encoder"]}


@pytest.fixture(scope="module", params=model.BUILTIN_NAMES)
def loaded(request):
    return model.load(request.param)


def test_available_lists_the_builtins_then_the_packaged_models():
    assert model.available() == list(model.BUILTIN_NAMES) + ["minilm"]   # requirements.txt installs it


def test_model_attributes(loaded):
    assert loaded.architecture in ("encoder-only", "decoder-only", "encoder-decoder")
    assert loaded.n_layers >= 1 and loaded.n_heads >= 1
    assert loaded.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_invariants_on_many_inputs(loaded):
    for text in INPUTS[loaded.name]:
        trace = loaded.trace(text)
        assert trace.kinds() == EXPECTED_KINDS[loaded.name]
        per_kind = {kind: trace.layers(kind) for kind in trace.kinds()}
        assert all(layers == list(range(loaded.n_layers)) for layers in per_kind.values())
        for record in trace.records:
            assert record.n_heads == loaded.n_heads
            assert_record_invariants(record)


def test_tokens_keep_their_text(loaded):
    trace = loaded.trace(INPUTS[loaded.name][1])
    labels = trace.encoder_tokens or trace.decoder_tokens
    assert "你" in labels or "中" in labels
    if loaded.architecture == "encoder-decoder":
        assert trace.get("cross", 0).key_tokens == trace.encoder_tokens
        assert trace.get("cross", 0).query_tokens == trace.decoder_tokens
        assert trace.encoder_tokens[-1] == "<eos>" and trace.decoder_tokens[0] == "<bos>"


def test_padding_in_a_batch_of_two(loaded):
    short, long = INPUTS[loaded.name][3], INPUTS[loaded.name][0]
    a, b = loaded.trace_batch([short, long], [None, None] if loaded.architecture != "encoder-decoder" else ["x", "olleh"])
    for record in a.records:
        assert_record_invariants(record)
        assert "<pad>" in record.key_tokens + record.query_tokens
        padded_keys = np.array([t == "<pad>" for t in record.key_tokens])
        assert not record.allowed[:, padded_keys].any(), "a query attends to padding"
    for record in b.records:
        assert_record_invariants(record)
    # Padding changes nothing for the real positions.
    alone = loaded.trace(short, target="x" if loaded.architecture == "encoder-decoder" else None)
    for padded, single in zip(a.records, alone.records):
        nq, nk = single.weights.shape[1:]
        np.testing.assert_allclose(padded.weights[:, :nq, :nk], single.weights, atol=1e-5)


def test_pad_to_shows_the_padding_mask(loaded):
    trace = loaded.trace(INPUTS[loaded.name][0], pad_to=30)
    record = trace.records[0]
    assert record.weights.shape[-1] == 30 and record.key_tokens[-1] == "<pad>"
    assert not record.allowed[:, -1].any() and not record.allowed[-1].any()
    assert_record_invariants(record)


def test_recording_does_not_change_the_logits(loaded):
    src = torch.tensor([[10, 20, 30, 40, 2]], device=loaded.device)
    tgt = torch.tensor([[1, 50, 60]], device=loaded.device)
    with torch.no_grad():
        plain = loaded.net(src, tgt)
        with recording.recording() as recorder:
            recorded = loaded.net(src, tgt)
    assert recorder.calls and torch.equal(plain, recorded)


def test_empty_text_is_refused(loaded):
    for text in ["", "   \n\t"]:
        with pytest.raises(ValueError, match="type some text"):
            loaded.trace(text)


def test_long_text_is_truncated_and_says_so(loaded):
    text = "ab" * 300
    trace = loaded.trace(text)
    assert trace.truncated > 0
    kept = len(trace.encoder_tokens or trace.decoder_tokens)
    assert kept <= loaded.max_len
    room = loaded.max_len - (0 if loaded.architecture == "encoder-only" else 1)   # <bos> or <eos>
    assert trace.truncated == len(text) - room


def test_trace_round_trips_through_npz(loaded, tmp_path):
    trace = loaded.trace(INPUTS[loaded.name][0])
    path = tmp_path / "trace.npz"
    trace.save(path)
    back = model.Trace.load(path)
    assert back.encoder_tokens == trace.encoder_tokens and back.decoder_tokens == trace.decoder_tokens
    assert back.output_text == trace.output_text and back.predictions == [
        [(tok, p) for tok, p in row] for row in trace.predictions]
    assert len(back.records) == len(trace.records)
    for r1, r2 in zip(trace.records, back.records):
        for name in ("q", "k", "v", "scores", "allowed", "weights", "context"):
            np.testing.assert_array_equal(getattr(r1, name), getattr(r2, name))
        assert (r1.kind, r1.layer, r1.scale, r1.query_tokens, r1.key_tokens) == (
            r2.kind, r2.layer, r2.scale, r2.query_tokens, r2.key_tokens)


def test_predictions_are_top5_distributions(loaded):
    trace = loaded.trace(INPUTS[loaded.name][0])
    assert len(trace.predictions) == len(trace.decoder_tokens or [t for t in trace.encoder_tokens])
    for row in trace.predictions:
        probs = [p for _, p in row]
        assert len(row) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6


@pytest.mark.parametrize("name,text", [("toy-seq2seq", "reverse: abc12"), ("toy-gpt", "The function ")])
def test_generation_steps_equal_teacher_forcing(name, text):
    m = model.load(name)
    steps = m.generate_steps(text, max_new_tokens=8)
    assert steps
    generated = "".join(s.token for s in steps if not s.token.startswith("<"))
    if m.architecture == "encoder-decoder":
        full = m.trace(text, target=generated)
        assert full.output_text == generated
    else:
        full = m.trace(text, max_new_tokens=len(steps))
        assert full.output_text == generated
    for step in steps:
        for record in step.records:
            assert_record_invariants(record)
            whole = full.get(record.kind, record.layer)
            row = record.weights.shape[1] - 1                 # the new query: the step's last row
            nk = record.weights.shape[2]
            np.testing.assert_allclose(record.weights[:, row], whole.weights[:, row, :nk], atol=1e-5)
            np.testing.assert_allclose(record.scores[:, row], whole.scores[:, row, :nk], atol=1e-4)
            np.testing.assert_allclose(record.context[:, row], whole.context[:, row], atol=1e-5)
        # The step's top-5 is the teacher-forced pass's prediction at that position.
        position = len(full.decoder_tokens) - len(steps) + step.index - 1 if m.architecture == "decoder-only" else step.index
        assert step.top[0][0] == full.predictions[position][0][0]
        assert step.top[0][1] == pytest.approx(full.predictions[position][0][1], abs=1e-5)


def test_encoder_only_fills_masks():
    m = model.load("toy-bert")
    trace = m.trace("the c[MASK]t sat on the m[MASK]t")
    assert "[MASK]" not in trace.output_text and len(trace.output_text) == len("the cat sat on the mat")
    assert trace.output_text[:5] == "the c" and trace.output_text.endswith("t")


def test_unknown_model_name():
    with pytest.raises(model.ModelLoadError, match="unknown model 'no-such-model'"):
        model.load("no-such-model")


@pytest.fixture
def assets_copy(tmp_path, monkeypatch):
    shutil.copytree(catalog.ASSETS / "toy-gpt", tmp_path / "toy-gpt")
    monkeypatch.setattr(catalog, "ASSETS", tmp_path)
    return tmp_path / "toy-gpt"


def test_missing_checkpoint_names_the_file(assets_copy):
    (assets_copy / "final.safetensors").unlink()
    with pytest.raises(model.ModelLoadError, match=r"missing: .*toy-gpt[/\\]final\.safetensors"):
        model.load("toy-gpt")


def test_corrupted_checkpoint_names_the_file(assets_copy):
    path = assets_copy / "middle.safetensors"
    path.write_bytes(path.read_bytes()[: 300])
    with pytest.raises(model.ModelLoadError, match=r"corrupted: .*toy-gpt[/\\]middle\.safetensors"):
        model.load("toy-gpt", snapshot="middle")


def test_corrupted_config_names_the_file(assets_copy):
    (assets_copy / "config.json").write_text("{not json")
    with pytest.raises(model.ModelLoadError, match=r"corrupted: .*toy-gpt[/\\]config\.json"):
        model.load("toy-gpt")


def test_snapshots_load_and_differ():
    weights = {s: model.load("toy-gpt", snapshot=s).trace("abcabc").records[-1].weights for s in model.SNAPSHOTS}
    assert not np.allclose(weights["untrained"], weights["final"])
    with pytest.raises(ValueError, match="snapshot"):
        model.load("toy-gpt", snapshot="latest")


def test_trace_marks_generated_tokens_and_unknown_characters():
    gpt = model.load("toy-gpt")
    trace = gpt.trace("你a", max_new_tokens=3)
    assert trace.generated_from == 3 and len(trace.decoder_tokens) == 6
    assert trace.decoder_unknown[:3] == [False, True, False]
    assert trace.output_text == "".join(trace.decoder_tokens[3:])
    assert gpt.trace("abc").generated_from is None
    seq = model.load("toy-seq2seq")
    assert seq.trace("copy: ab").generated_from == 1
    assert seq.trace("copy: ab", target="ab").generated_from is None
    bert = model.load("toy-bert").trace("x🙂[MASK]")
    assert bert.encoder_unknown == [False, True, False] and bert.encoder_tokens[1] == "🙂"


def test_encoder_decoder_generation_respects_max_new_tokens():
    trace = model.load("toy-seq2seq").trace("copy: abcdefgh", max_new_tokens=3)
    assert len(trace.decoder_tokens) == 4 and trace.generated_from == 1
