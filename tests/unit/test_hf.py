"""Hugging Face models through the same records: tiny seeded models of each family, built offline
with tokenizers trained in memory, saved as safetensors and loaded with model.load(folder)."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"

import numpy as np
import pytest
import torch
import transformers

import model
from tests.invariants import assert_record_invariants
from tests.tiny_hf import ARCHITECTURES, FAMILIES, KINDS, TARGET, TEXT, TINY, build


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    built = {}

    def get(family):
        if family not in built:
            built[family] = tmp_path_factory.mktemp(family)
            build(family, built[family])
        return built[family]
    return get


@pytest.fixture(scope="module")
def loaded(folders):
    models = {}

    def get(family):
        if family not in models:
            models[family] = model.load(str(folders(family)))
        return models[family]
    return get


def _reference(folder, architecture):
    auto = {"encoder-only": transformers.AutoModelForMaskedLM, "decoder-only": transformers.AutoModelForCausalLM,
            "encoder-decoder": transformers.AutoModelForSeq2SeqLM}[architecture]
    return auto.from_pretrained(folder, attn_implementation="eager").eval()


def _eager_attentions(output, kind):
    """The model's own output_attentions=True weights of one kind, per layer."""
    if "encoder_last_hidden_state" not in output:     # a single stack: encoder-only or decoder-only
        return output.attentions
    return {"encoder": output.encoder_attentions, "decoder": output.decoder_attentions,
            "cross": output.cross_attentions}[kind]


# ---- every family: records equal the model's own attention, invariants, outputs unchanged ------

@pytest.mark.parametrize("family", FAMILIES)
def test_records_equal_eager_attention(family, folders, loaded):
    m = loaded(family)
    assert m.architecture == ARCHITECTURES[family] and m.snapshot == "final"
    assert (m.n_layers, m.n_heads) == (TINY["layers"], TINY["heads"])
    target = TARGET if m.architecture == "encoder-decoder" else None
    trace = m.trace(TEXT, target=target)
    assert trace.kinds() == KINDS[m.architecture]
    inputs = m.backend.inputs_for(TEXT, target)
    reference = _reference(folders(family), m.architecture)
    with torch.no_grad():
        eager = reference(**inputs, output_attentions=True)
        plain = m.net(**inputs)   # the recording implementation, outside a trace
    for kind in trace.kinds():
        assert trace.layers(kind) == list(range(TINY["layers"]))
        for layer, expected in enumerate(_eager_attentions(eager, kind)):
            record = trace.get(kind, layer)
            assert_record_invariants(record)
            assert record.n_heads == TINY["heads"] == record.k.shape[0] == record.v.shape[0]
            np.testing.assert_allclose(record.weights, expected[0].numpy(), atol=1e-5)
    # Recording changes nothing: the same logits, and the trace's predictions are eager's top-5.
    np.testing.assert_allclose(plain.logits.numpy(), eager.logits.numpy(), atol=1e-5)
    probs = torch.softmax(eager.logits[0], -1)
    for row, predicted in zip(probs, trace.predictions):
        assert predicted[0][1] == pytest.approx(float(row.max()), abs=1e-5)
    assert len(trace.predictions) == len(trace.decoder_tokens or trace.encoder_tokens)


def test_t5_records_its_relative_position_bias(loaded):
    trace = loaded("t5").trace(TEXT, target=TARGET)
    encoder, decoder, cross = trace.get("encoder", 1), trace.get("decoder", 0), trace.get("cross", 0)
    assert encoder.scale == 1.0 and encoder.bias is not None and encoder.bias.shape == encoder.weights.shape
    assert encoder.allowed.all(), "the bias must not leak into allowed"
    assert decoder.bias is not None and not np.triu(decoder.allowed, 1).any()
    assert cross.bias is None   # T5's cross attention has no position bias
    # The bias depends on the distance only: equal along every diagonal.
    assert np.allclose(np.diagonal(encoder.bias, 1, 1, 2), encoder.bias[:, 0, 1][:, None])


def test_grouped_query_heads_share_keys(loaded):
    """Qwen2 here has 1 key/value head for 4 query heads: every head sees the same k and v."""
    record = loaded("qwen2").trace(TEXT).get("decoder", 0)
    assert record.k.shape[0] == 4 and loaded("qwen2").config.n_kv_heads == 1
    np.testing.assert_array_equal(record.k[0], record.k[3])
    assert not np.allclose(record.q[0], record.q[3])
    llama = loaded("llama")
    assert llama.config.n_kv_heads == 2 and llama.trace(TEXT).get("decoder", 1).v.shape[0] == 4


# ---- padding, truncation, empty input ----------------------------------------------------------

@pytest.mark.parametrize("family", ["bert", "gpt2", "t5"])
def test_pad_to_shows_padding_as_hidden_keys(family, loaded):
    m = loaded(family)
    target = TARGET if m.architecture == "encoder-decoder" else None
    alone = m.trace(TEXT, target=target)
    padded = m.trace(TEXT, target=target, pad_to=30)
    n = len(alone.decoder_tokens if m.architecture == "decoder-only" else alone.encoder_tokens)
    tokens = padded.decoder_tokens if m.architecture == "decoder-only" else padded.encoder_tokens
    specials = padded.decoder_special if m.architecture == "decoder-only" else padded.encoder_special
    assert len(tokens) == 30 and tokens[n:] == ["<pad>"] * (30 - n) and all(specials[n:])
    for record, single in zip(padded.records, alone.records):
        assert_record_invariants(record)
        if record.kind != "decoder" or m.architecture == "decoder-only":
            assert record.weights.shape[-1] == 30 and record.key_tokens[-1] == "<pad>"
            assert not record.allowed[:, n:].any(), "a query attends to padding"
        nq, nk = single.weights.shape[1:]
        np.testing.assert_allclose(record.weights[:, :nq, :nk], single.weights, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_padded_query_rows_are_masked_and_real_rows_equal_eager(family, folders, loaded):
    """One padding rule for both backends: a padding position is neither a key nor a query (its
    row is all zeros, as in the built-in models), and the real rows are exactly transformers'
    eager attention over the same padded batch."""
    m = loaded(family)
    target = TARGET if m.architecture == "encoder-decoder" else None
    trace = m.trace(TEXT, target=target, pad_to=24)
    padded_side = "decoder" if m.architecture == "decoder-only" else "encoder"
    tokens = trace.decoder_tokens if padded_side == "decoder" else trace.encoder_tokens
    n = tokens.index("<pad>")
    reference = _reference(folders(family), m.architecture)
    with torch.no_grad():
        eager = reference(**m.backend.inputs_for(TEXT, target, pad_to=24), output_attentions=True)
    for kind in trace.kinds():
        for layer, expected in enumerate(_eager_attentions(eager, kind)):
            record = trace.get(kind, layer)
            assert_record_invariants(record)
            if kind == padded_side:
                assert not record.allowed[n:].any(), f"{kind} {layer}: a padding query attends"
                assert not record.weights[:, n:].any() and not record.context[:, n:].any()
            real_q = n if kind == padded_side else record.weights.shape[1]
            np.testing.assert_allclose(record.weights[:, :real_q], expected[0, :, :real_q].numpy(), atol=1e-5)


def test_batch_of_two_pads_the_shorter(loaded):
    m = loaded("roberta")
    short, long = m.trace_batch(["hello", TEXT])
    n = len(m.trace("hello").encoder_tokens)
    assert len(short.encoder_tokens) == len(long.encoder_tokens) > n
    for record in short.records:
        assert_record_invariants(record)
        assert not record.allowed[:, n:].any()


def test_long_text_is_truncated_and_says_so(loaded):
    m = loaded("bert")
    text = "the cat sat " * 30
    trace = m.trace(text)
    assert m.max_len == TINY["positions"] and len(trace.encoder_tokens) == m.max_len
    words = len(m.tokenizer(text, add_special_tokens=False)["input_ids"])
    assert trace.encoder_tokens[-1] == "[SEP]" and trace.truncated == words + 2 - m.max_len
    assert m.trace(TEXT).truncated == 0


def test_empty_text_is_refused(loaded):
    for family in ("bert", "gpt2"):
        with pytest.raises(ValueError, match="type some text"):
            loaded(family).trace("  \n")


# ---- generation -----------------------------------------------------------------------------

@pytest.mark.parametrize("family", ["gpt2", "llama", "bart", "t5"])
def test_generation_steps_equal_teacher_forcing(family, loaded):
    m = loaded(family)
    steps = m.generate_steps(TEXT, max_new_tokens=4)
    assert steps and all(step.top[0][1] >= step.top[-1][1] for step in steps)
    full = m.trace(TEXT, max_new_tokens=len(steps))
    start = full.generated_from if m.architecture == "decoder-only" else 1
    ids = [s.token_id for s in steps if s.token_id not in m.backend.eos_ids]
    assert full.decoder_tokens[start:start + len(ids)] == [m.backend.label(i) for i in ids]
    assert m.generate(TEXT, max_new_tokens=len(steps)) == full.output_text
    for step in steps:
        row = start - 1 + step.index       # the query row that chose this step's token
        assert step.top[0][0] == full.predictions[row][0][0]
        assert step.top[0][1] == pytest.approx(full.predictions[row][0][1], abs=1e-5)
        assert [r.kind for r in step.records] == [r.kind for r in full.records if r.kind != "encoder"]
        for record in step.records:
            assert_record_invariants(record)
            whole = full.get(record.kind, record.layer)
            nk = record.weights.shape[2]
            assert record.weights.shape[1] == row + 1
            np.testing.assert_allclose(record.weights[:, row], whole.weights[:, row, :nk], atol=1e-5)
            np.testing.assert_allclose(record.context[:, row], whole.context[:, row], atol=1e-5)


def test_encoder_only_does_not_generate(loaded):
    with pytest.raises(ValueError, match="does not generate"):
        loaded("bert").generate_steps(TEXT)


# ---- interventions ---------------------------------------------------------------------------

def test_heads_off_changes_the_outputs(loaded):
    m = loaded("gpt2")
    base = m.trace(TEXT)
    off = m.trace(TEXT, intervention=model.Intervention(heads_off=frozenset({("decoder", 0, 1), ("decoder", 0, 2)})))
    # The switched-off heads still attend (their record is unchanged); what they write is gone.
    np.testing.assert_allclose(off.get("decoder", 0).weights, base.get("decoder", 0).weights, atol=1e-6)
    assert not np.allclose(off.get("decoder", 1).weights, base.get("decoder", 1).weights, atol=1e-4)
    assert [p[0][1] for p in off.predictions] != [p[0][1] for p in base.predictions]


def test_masked_source_is_hidden_from_encoder_and_cross(loaded):
    m = loaded("t5")
    trace = m.trace(TEXT, target=TARGET, intervention=model.Intervention(hidden_encoder_keys=frozenset({2})))
    for record in trace.records:
        assert_record_invariants(record)
        if record.kind in ("encoder", "cross"):
            assert not record.allowed[:, 2].any() and not record.weights[:, :, 2].any()
        else:
            assert record.allowed[2:, 2].all()
    plain = m.trace(TEXT, target=TARGET)
    assert not np.allclose(trace.get("cross", 1).weights, plain.get("cross", 1).weights)


# ---- labels and special tokens -----------------------------------------------------------------

def test_special_tokens_are_flagged_and_saved(loaded, tmp_path):
    bert = loaded("bert").trace(TEXT)
    assert bert.encoder_tokens[0] == "[CLS]" and bert.encoder_tokens[-1] == "[SEP]"
    assert bert.encoder_special == [True] + [False] * (len(bert.encoder_tokens) - 2) + [True]
    t5 = loaded("t5").trace(TEXT, target=TARGET)
    assert t5.encoder_special[-1] and t5.encoder_tokens[-1] == "</s>" and not any(t5.encoder_special[:-1])
    assert t5.decoder_special[0] and t5.decoder_tokens[0] == "<pad>" and not any(t5.decoder_special[1:])
    gpt2 = loaded("gpt2").trace(TEXT)
    assert not any(gpt2.decoder_special) and len(gpt2.decoder_special) == len(gpt2.decoder_tokens)
    path = tmp_path / "t5.npz"
    t5.save(path)
    back = model.Trace.load(path)
    assert (back.encoder_special, back.decoder_special) == (t5.encoder_special, t5.decoder_special)


def test_labels_show_spaces_and_unknown_text(loaded):
    gpt2 = loaded("gpt2").trace("the cat sat")
    assert "␣cat" in gpt2.decoder_tokens and not any("Ġ" in t for t in gpt2.decoder_tokens)
    assert "".join(gpt2.decoder_tokens).replace("␣", " ") == "the cat sat"
    llama = loaded("llama").trace("the cat sat")
    assert llama.decoder_tokens[0] == "<s>"
    assert "".join(llama.decoder_tokens[1:]).replace("␣", " ").strip() == "the cat sat"
    assert not any("▁" in t for t in llama.decoder_tokens)
    bert = loaded("bert").trace("the 猫 sat")
    i = bert.encoder_tokens.index("猫")
    assert bert.encoder_unknown[i] and sum(bert.encoder_unknown) == 1


# ---- refusals ----------------------------------------------------------------------------------

def test_pickle_only_folder_is_refused(tmp_path, folders):
    (tmp_path / "config.json").write_text((folders("bert") / "config.json").read_text())
    torch.save({"never": torch.zeros(1)}, tmp_path / "pytorch_model.bin")
    with pytest.raises(model.ModelLoadError, match=r"only pickle weights \(pytorch_model\.bin\).*safetensors"):
        model.load(str(tmp_path))


def test_missing_folder_and_unknown_names(tmp_path):
    with pytest.raises(model.ModelLoadError, match=r"model folder not found: .*no-such-folder"):
        model.load(str(tmp_path / "no-such-folder"))
    with pytest.raises(model.ModelLoadError, match="not in the local Hugging Face cache; downloading is off"):
        model.load("someone/not-cached-here")
    with pytest.raises(model.ModelLoadError, match="HF_HUB_OFFLINE"):
        model.load("someone/not-cached-here", allow_download=True)
    with pytest.raises(model.ModelLoadError, match="no config.json"):
        model.load(str(tmp_path))


def test_a_name_in_the_local_hub_cache_loads_offline(tmp_path, folders, monkeypatch):
    import shutil
    from huggingface_hub import constants
    repo = tmp_path / "models--tiny--gpt2"
    shutil.copytree(folders("gpt2"), repo / "snapshots" / "0123abc")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    m = model.load("tiny/gpt2")
    assert m.name == "tiny/gpt2" and m.backend.folder == repo / "snapshots" / "0123abc"
    assert m.trace(TEXT).kinds() == ["decoder"]


def test_unknown_architecture_is_refused(tmp_path, folders):
    (tmp_path / "config.json").write_text('{"model_type": "no-such-architecture"}')
    (tmp_path / "model.safetensors").write_bytes((folders("bert") / "model.safetensors").read_bytes())
    with pytest.raises(model.ModelLoadError, match="unknown architecture"):
        model.load(str(tmp_path))


def test_hf_models_have_no_training_snapshots(folders):
    with pytest.raises(model.ModelLoadError, match="only its final weights"):
        model.load(str(folders("bert")), snapshot="middle")
    assert model.weights_version(str(folders("bert"))) > 0 and model.weights_version("minilm") > 0


# ---- the real all-MiniLM-L6-v2 -------------------------------------------------------------------

def test_minilm_is_listed_after_the_builtins():
    names = model.available()
    assert names[-1] == "minilm" and names.index("minilm") > max(names.index(n) for n in model.BUILTIN_NAMES
                                                                  if n in names)


def test_minilm_traces_with_its_real_weights():
    m = model.load("minilm")
    assert (m.architecture, m.n_layers, m.n_heads, m.config.d_model) == ("encoder-only", 6, 12, 384)
    trace = m.trace("The cat sat on the mat.")
    assert trace.encoder_tokens == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", ".", "[SEP]"]
    assert trace.layers("encoder") == list(range(6))
    assert trace.predictions == [] and trace.output_text == ""   # a sentence encoder has no masked-LM head
    reference = transformers.AutoModel.from_pretrained(m.backend.folder, attn_implementation="eager").eval()
    with torch.no_grad():
        eager = reference(**m.backend.inputs_for("The cat sat on the mat."), output_attentions=True)
    for layer, expected in enumerate(eager.attentions):
        record = trace.get("encoder", layer)
        assert record.weights.shape == (12, 9, 9)
        assert_record_invariants(record)
        np.testing.assert_allclose(record.weights, expected[0].numpy(), atol=1e-5)
