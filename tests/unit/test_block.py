"""The block view (model/block.py): every step of a layer at a position, recomputed from the
weights, equals what the model itself computed in the same forward pass.

The truth each view is checked against is taken here, independently of block.py's table: forward
hooks on the module the model really runs next (the next layer, or the stack's final norm; the
last layer's own output where a post-norm stack has none), and the trace's records.
"""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import model
from model.block import FAMILIES, STEPS, block_view, family_of
from tests import ROOT
from tests.tiny_hf import TARGET, TEXT

# Each stack's layers and what follows its last layer (a final norm, or None: the last layer's
# output is the stack's output), as paths from the network's base model.
STACKS = {
    "builtin": {"encoder": ("encoder", "encoder_norm"), "decoder": ("decoder", "decoder_norm")},
    "bert": {"encoder": ("encoder.layer", None)},
    "roberta": {"encoder": ("encoder.layer", None)},
    "distilbert": {"encoder": ("transformer.layer", None)},
    "gpt2": {"decoder": ("h", "ln_f")},
    "llama": {"decoder": ("layers", "norm")},
    "qwen2": {"decoder": ("layers", "norm")},
    "bart": {"encoder": ("encoder.layers", None), "decoder": ("decoder.layers", None)},
    "marian": {"encoder": ("encoder.layers", None), "decoder": ("decoder.layers", None)},
    "t5": {"encoder": ("encoder.block", "encoder.final_layer_norm"),
           "decoder": ("decoder.block", "decoder.final_layer_norm")},
}
HF_FAMILIES = [f for f in STACKS if f != "builtin"]
BUILTIN_TEXT = {"toy-seq2seq": ("reverse: hello", "olleh"), "toy-gpt": ("the cat sat", None),
                "toy-bert": ("the c[MASK]t sat", None)}


def _path(root, path):
    for part in path.split("."):
        root = getattr(root, part)
    return root


def _base(runner):
    return getattr(runner.net, "base_model", runner.net)


def stack_truth(runner, family, kind, text, target=None, max_new_tokens=0):
    """(the input of each layer [pos, d_model], what the stack passes on after each layer) from
    hooks on the model's own modules during a trace of the same input."""
    layers_path, final_path = STACKS[family][kind]
    layers = _path(_base(runner), layers_path)
    inputs, outputs = {}, {}

    def pre(i):
        def keep(module, args, kwargs):
            first = args[0] if args else kwargs["hidden_states"]
            inputs[i] = first[0].detach().float().cpu().numpy()   # [pos, d_model]; the last pass wins
        return keep

    def post(module, args, output):
        output = output[0] if isinstance(output, tuple) else output
        outputs["last"] = output[0].detach().float().cpu().numpy()  # [pos, d_model]

    handles = [layer.register_forward_pre_hook(pre(i), with_kwargs=True) for i, layer in enumerate(layers)]
    if final_path:
        handles.append(_path(_base(runner), final_path).register_forward_pre_hook(pre(len(layers)), with_kwargs=True))
    else:
        handles.append(layers[-1].register_forward_hook(post))
    try:
        trace = runner.trace(text, target=target, max_new_tokens=max_new_tokens)
    finally:
        for handle in handles:
            handle.remove()
    if not final_path:
        inputs[len(layers)] = outputs["last"]
    return trace, inputs


def _close(ours, truth, what):
    """float32 agreement, relative to the numbers' scale."""
    scale = max(1.0, float(np.abs(truth).max()))
    np.testing.assert_allclose(ours, truth, rtol=0, atol=1e-5 * scale, err_msg=what)


def expected_names(view):
    pre = view.order == "pre-norm"
    names = ["input"]
    for _ in view.sublayers[:-1]:
        names += (["norm"] if pre else []) + ["heads", "concat", "W_O", "residual"] + ([] if pre else ["norm"])
    names += (["norm"] if pre else []) + ["ffn_in", "activation"] + (["ffn_up", "gated"] if view.gated else [])
    return names + ["ffn_out", "residual"] + ([] if pre else ["norm"]) + ["output"]


def check_view(view, trace, inputs, kind, layer, position):
    """Every promise of a view, against the trace's records and the model's next input."""
    where = f"{view.model_name} {kind} layer {layer} position {position}"
    assert (view.kind, view.layer, view.position) == (kind, layer, position)
    tokens = trace.encoder_tokens if kind == "encoder" else trace.decoder_tokens
    assert view.tokens == tokens and view.token == tokens[position]
    assert [s.name for s in view.steps] == expected_names(view), where
    assert all(s.name in STEPS for s in view.steps)
    # The block's input is the residual stream the layer received; its output is the next
    # layer's input (or what the stack passes to its final norm).
    _close(view.get("input").value, inputs[layer][position], f"{where}: input")
    _close(view.output, inputs[layer + 1][position], f"{where}: output != next layer's input")
    x = view.get("input").value
    pre = view.order == "pre-norm"
    for sub in view.sublayers[:-1]:
        record = trace.get(view.record_kinds[sub], layer)
        heads = view.get("heads", sub)
        assert heads.shape == (view.n_heads, view.d_head)
        np.testing.assert_array_equal(heads.value, record.context[:, position], err_msg=f"{where}: z_h")
        concat = view.get("concat", sub)
        np.testing.assert_array_equal(concat.value, record.context[:, position].reshape(-1))
        # Concat(z) is exactly what W^O read, and Concat(z) W^O + b^O what it wrote.
        _close(concat.value, concat.model, f"{where}: concat != W^O's input")
        W_O = view.get("W_O", sub)
        assert W_O.weight_shape == (view.n_heads * view.d_head, view.d_model) and W_O.shape == (view.d_model,)
        _close(W_O.value, W_O.model, f"{where}: Concat(z) W^O + b != the attention sublayer's output")
        residual = view.get("residual", sub)
        _close(residual.value, x + W_O.value, f"{where}: residual")
        x = residual.value if pre else view.steps[view.steps.index(residual) + 1].value
    for step in view.steps:
        if step.model is not None:
            _close(step.value, step.model, f"{where}: {step.sublayer} {step.name} != the model's own")
        if step.norm is not None:
            check_norm(step, view.norm, f"{where}: {step.sublayer} norm")
    assert view.max_difference() < 1e-4
    ffn = view.steps_of("ffn")
    assert ffn[-1].name == ("residual" if pre else "norm")
    assert view.get("ffn_in").shape == (view.d_ff,) and view.get("ffn_out").shape == (view.d_model,)


def check_norm(step, kind, where):
    """The norm's numbers reproduce its output: γ ⊙ (x − μ)/√(σ² + ε) + β (RMSNorm: no μ, no β)."""
    n = step.norm
    assert n.kind == kind and step.shape == n.input.shape == n.gamma.shape
    x = n.input.astype(np.float64)
    if kind == "LayerNorm":
        assert n.mean == pytest.approx(x.mean(), abs=1e-5 * max(1, abs(x).max()))
        assert n.variance == pytest.approx(x.var(), rel=1e-4)
        normalised = (x - n.mean) / np.sqrt(n.variance + n.eps)
        out = normalised * n.gamma + n.beta
    else:
        assert n.mean is None and n.beta is None
        assert n.variance == pytest.approx((x ** 2).mean(), rel=1e-4)
        normalised = x / np.sqrt(n.variance + n.eps)
        out = normalised * n.gamma
    _close(n.normalised, normalised, where + " normalised")
    _close(step.value, out, where)
    _close(step.value, step.model, where + " != the model's norm")


def check_stack(runner, family, kind, text, target, layers, positions, max_new_tokens=0):
    trace, inputs = stack_truth(runner, family, kind, text, target, max_new_tokens)
    n = len(trace.encoder_tokens if kind == "encoder" else trace.decoder_tokens)
    views = []
    for layer in layers:
        for position in sorted({p % n for p in positions}):
            view = block_view(runner, text, kind, layer, position, target=target, max_new_tokens=max_new_tokens)
            check_view(view, trace, inputs, kind, layer, position)
            views.append(view)
    return views


# ---- the built-in models: pre-LN, ReLU; toy-seq2seq's decoder has encoder–decoder attention ------

@pytest.fixture(scope="module")
def builtins():
    return {name: model.load(name, device="cpu") for name in BUILTIN_TEXT}


@pytest.mark.parametrize("name", list(BUILTIN_TEXT))
def test_builtin_blocks_equal_the_model(name, builtins):
    m = builtins[name]
    text, target = BUILTIN_TEXT[name]
    for kind in m.arch.kinds:
        if kind == "cross":
            continue
        views = check_stack(m, "builtin", kind, text, target, range(m.n_layers), [0, 2, -1])
        view = views[0]
        assert (view.order, view.norm, view.activation, view.family) == ("pre-norm", "LayerNorm", "ReLU", "built-in")
        assert view.final_norm and not view.gated and view.d_ff == m.config.d_ff
        assert view.n_heads == m.n_heads and view.d_model == m.config.d_model
        assert view.sublayers == (("self", "cross", "ffn") if kind == "decoder" and m.arch.has_cross
                                  else ("self", "ffn"))
        assert view.get("W_O", "self").equation.endswith("+ b^O")
        assert any(d.startswith("pre-norm") for d in view.differences)
        assert not any("ReLU" in d for d in view.differences)


def test_generated_positions_are_the_traces(builtins):
    """Without a target the decoder reads the model's own greedy output, and a decoder-only model
    may continue its prompt: the view's positions are those of the same trace."""
    seq2seq = builtins["toy-seq2seq"]
    views = check_stack(seq2seq, "builtin", "decoder", "reverse: abc", None, [2], [1, -1])
    assert views[0].tokens == seq2seq.trace("reverse: abc").decoder_tokens and len(views[0].tokens) > 2
    gpt = builtins["toy-gpt"]
    views = check_stack(gpt, "builtin", "decoder", "the cat", None, [1], [-1], max_new_tokens=3)
    assert len(views[0].tokens) == len(gpt.trace("the cat").decoder_tokens) + 3


def test_cross_attention_reads_the_cross_record(builtins):
    m = builtins["toy-seq2seq"]
    view = block_view(m, "reverse: hello", "decoder", 0, 2, target="olleh")
    assert view.record_kinds == {"self": "decoder", "cross": "cross"}
    trace = m.trace("reverse: hello", target="olleh")
    np.testing.assert_array_equal(view.get("heads", "cross").value, trace.get("cross", 0).context[:, 2])
    assert not np.allclose(view.get("heads", "cross").value, view.get("heads", "self").value)
    assert "encoder–decoder" in view.description


def test_refusals_name_what_is_supported(builtins):
    bert, gpt = builtins["toy-bert"], builtins["toy-gpt"]
    with pytest.raises(ValueError, match=r"no 'decoder' stack.*\['encoder'\]"):
        block_view(bert, "the cat", "decoder", 0, 0)
    with pytest.raises(ValueError, match="encoder–decoder attention is a sublayer"):
        block_view(builtins["toy-seq2seq"], "reverse: hi", "cross", 0, 0, target="ih")
    with pytest.raises(ValueError, match="layer 9 is out of range"):
        block_view(gpt, "the cat", "decoder", 9, 0)
    with pytest.raises(ValueError, match="position 40 is out of range: the decoder input has 8 tokens"):
        block_view(gpt, "the cat", "decoder", 0, 40)
    # The hooks are gone even after a refusal that came after the forward pass.
    assert not any(module._forward_hooks for module in gpt.net.modules())
    opt = SimpleNamespace(hf_config=SimpleNamespace(model_type="opt"))
    fake = SimpleNamespace(net=torch.nn.Linear(2, 2), backend=opt)
    with pytest.raises(ValueError, match=r"'opt'.*supports the built-in models and .*bert.*gpt2.*llama"):
        family_of(fake)


def test_names_import_without_torch():
    code = "import sys; import model.block as b; assert b.STEPS[0] == 'input'; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


# ---- Hugging Face families: tiny seeded models, and the real all-MiniLM-L6-v2 ---------------------

# family -> (order, norm, activation, gated)
EXPECTED = {
    "bert": ("post-norm", "LayerNorm", "GELU", False),
    "roberta": ("post-norm", "LayerNorm", "GELU", False),
    "distilbert": ("post-norm", "LayerNorm", "GELU", False),
    "gpt2": ("pre-norm", "LayerNorm", "GELU (tanh approximation)", False),
    "llama": ("pre-norm", "RMSNorm", "SwiGLU (SiLU gate)", True),
    "qwen2": ("pre-norm", "RMSNorm", "SwiGLU (SiLU gate)", True),
    "bart": ("post-norm", "LayerNorm", "GELU", False),
    "marian": ("post-norm", "LayerNorm", "GELU", False),
    "t5": ("pre-norm", "RMSNorm", "ReLU", False),
}


@pytest.mark.parametrize("family", HF_FAMILIES)
def test_hf_blocks_equal_the_model(family, hf_model):
    m = hf_model(family)
    target = TARGET if m.arch.has_cross else None
    for kind in STACKS[family]:
        views = check_stack(m, family, kind, TEXT, target, range(m.n_layers), [0, 3, -1])
        view = views[0]
        assert (view.order, view.norm, view.activation, view.gated) == EXPECTED[family]
        assert view.family == FAMILIES[family].name
        assert view.sublayers[-1] == "ffn" and ("cross" in view.sublayers) == (kind == "decoder" and m.arch.has_cross)
        assert view.final_norm == (STACKS[family][kind][1] is not None)


def test_gpt2_conv1d_weights_are_read_as_x_W(hf_model):
    view = block_view(hf_model("gpt2"), TEXT, "decoder", 1, 2)
    # Conv1D keeps [in, out]; GPT-2's inner width is 4 · d_model when the config names none.
    assert view.get("ffn_in").weight_shape == (32, 128) and view.get("ffn_out").weight_shape == (128, 32)
    assert view.get("W_O").weight_shape == (32, 32)
    assert "GELU (tanh approximation) instead of ReLU" in view.differences


def test_llama_gate_and_rms_norm(hf_model):
    view = block_view(hf_model("llama"), TEXT, "decoder", 0, 3)
    gated = view.get("gated").value
    np.testing.assert_allclose(gated, view.get("activation").value * view.get("ffn_up").value, rtol=1e-6)
    silu = view.get("ffn_in").value / (1 + np.exp(-view.get("ffn_in").value))
    np.testing.assert_allclose(view.get("activation").value, silu, rtol=1e-5, atol=1e-6)
    assert view.get("norm", "self").norm.mean is None
    assert any(d.startswith("RMSNorm") for d in view.differences)
    assert any(d.startswith("a gated network") for d in view.differences)
    assert any(d.startswith("no bias") for d in view.differences)


def test_bert_is_the_source_texts_order(hf_model):
    view = block_view(hf_model("bert"), TEXT, "encoder", 1, 1)
    assert view.description.startswith("post-norm (as the source text)")
    assert view.differences == ["GELU instead of ReLU"]
    post = view.steps_of("self")
    assert [s.name for s in post] == ["heads", "concat", "W_O", "residual", "norm"]
    assert post[-1].norm.input is not None
    np.testing.assert_array_equal(post[-1].norm.input, post[-2].value)


def test_minilm_blocks_equal_the_model():
    m = model.load("minilm", device="cpu")
    views = check_stack(m, "bert", "encoder", "The cat sat on the mat.", None, [0, 3, 5], [0, 4, -1])
    view = views[-1]
    assert (view.n_heads, view.d_head, view.d_model, view.d_ff) == (12, 32, 384, 1536)
    assert (view.order, view.norm, view.activation) == ("post-norm", "LayerNorm", "GELU")
    assert view.token == "[SEP]" and view.tokens[2] == "cat"
