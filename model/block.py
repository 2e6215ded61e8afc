"""The rest of the encoder (or decoder) block, as numbers: every step of one layer at one query
position, computed in float32 from the model's own weights.

The source text teaches one encoder layer as

    z_h      = softmax(q_h K_hᵀ / √d_k) V_h                     each head's output (the record's context)
    MultiHead = Concat(z_1, …, z_h) W^O (+ b^O)
    x'       = LayerNorm(x + MultiHead(x))                      residual connection, then the norm
    FFN(x')  = ReLU(x' W_1 + b_1) W_2 + b_2
    out      = LayerNorm(x' + FFN(x'))

and a decoder layer as masked self-attention, then encoder–decoder attention (queries from the
decoder, keys and values from the encoder's output), then the network, each with its residual
connection and norm. That is post-norm. Most later models put the norm *before* each sublayer
(pre-norm: x + Sublayer(Norm(x)), with one more norm after the last layer), some use RMSNorm
(no mean subtracted, no β) and GELU or a gated network (SwiGLU) instead of ReLU. block_view()
says which order the model uses, so a page can show where it departs from the text.

    view = block_view(runner, "reverse: hello", "decoder", layer=1, position=3, target="olleh")
    view.get("W_O", "cross").value        # [d_model] Concat(z_1..z_h) W^O + b^O at position 3
    view.order, view.norm, view.activation, view.differences

How the numbers are made: the runner traces the text once (the same trace the app shows, so
positions are the Trace's positions) while forward hooks keep, for the chosen layer only, the
layer's input (the residual stream) and what the model's own modules produced. z_h is taken from
that trace's record (context[h, position]): the attention call's own output, rotary embeddings
and position biases included. Every step after it (concat, W^O, residual, norm, network) is
recomputed here from the weights, and each step keeps the model's own number beside ours
(Step.model), so a test or a page can show that they agree.

Not supported: interventions (a switched-off head is zeroed after the record is kept, so z_h
would not be what W^O reads) and padding (pad_to); families other than those in FAMILIES are
refused with a ValueError that names the supported ones.

torch is imported inside the functions: a page may import the names (STEPS, BlockView) without
paying for torch (docs/ARCHITECTURE.md, "Layers").
"""
from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# The steps of a block, one vocabulary for the model, the page and its text, in forward order:
#   input       x, the residual stream entering the layer
#   norm        LayerNorm or RMSNorm (before a sublayer if pre-norm, after its residual if post-norm)
#   heads       z_h for every head: the attention call's context at the position   [head, d_head]
#   concat      Concat(z_1, …, z_h)                                               [head·d_head]
#   W_O         Concat(…) W^O + b^O: the attention sublayer's output              [d_model]
#   residual    x + sublayer output
#   ffn_in      x W_1 + b_1, the network's first layer before the activation        [d_ff]
#   activation  ReLU / GELU / SiLU of ffn_in                                        [d_ff]
#   ffn_up      gated networks only (SwiGLU): x W_up, the branch the activation multiplies
#   gated       gated networks only: activation ⊙ ffn_up                          [d_ff]
#   ffn_out     (…) W_2 + b_2, the network's output                                 [d_model]
#   output      the layer's output: the next layer's input
STEPS = ("input", "norm", "heads", "concat", "W_O", "residual", "ffn_in", "activation", "ffn_up", "gated",
         "ffn_out", "output")
# The sublayers a step belongs to: self-attention (bidirectional in an encoder, masked in a
# decoder), encoder–decoder attention, the feed-forward network; "" for the block's input/output.
SUBLAYERS = ("self", "cross", "ffn")

# The names transformers' configs give activations -> what the page says.
ACTIVATION_NAMES = {
    "relu": "ReLU", "gelu": "GELU", "gelu_new": "GELU (tanh approximation)",
    "gelu_pytorch_tanh": "GELU (tanh approximation)", "gelu_fast": "GELU (tanh approximation)",
    "quick_gelu": "GELU (sigmoid approximation)", "silu": "SiLU", "swish": "SiLU",
}
# A gated network's usual name, by the activation on its gate.
GATED_NAMES = {"SiLU": "SwiGLU", "GELU": "GeGLU", "ReLU": "ReGLU"}


# ---- where each family keeps its block's parts ---------------------------------------------------

@dataclass(frozen=True)
class Attention:
    """An attention sublayer of a layer: its norm and its output projection W^O. Paths are
    relative to the layer module; "a|b" tries a, then b."""

    norm: str
    W_O: str


@dataclass(frozen=True)
class Network:
    """The feed-forward network of a layer: its norm, W_1, the activation module, W_2, and (gated
    networks) the linear branch W_up that multiplies the activation. A trailing "?" marks a part
    a family has only in some configurations (T5's gated variant)."""

    norm: str
    W_1: str
    activation: str
    W_2: str
    up: Optional[str] = None


@dataclass(frozen=True)
class Family:
    """One family's layout: norm order, where the layers of each stack are (relative to the
    network's base model), the norm after each stack's last layer, and the sublayers."""

    name: str
    order: str                    # "pre" (x + Sublayer(Norm(x))) or "post" (Norm(x + Sublayer(x)))
    layers: dict                  # stack ("encoder", "decoder") -> path of its list of layers
    final_norm: dict              # stack -> path of the norm after its last layer (absent: none)
    self_attention: Attention
    cross_attention: Optional[Attention]
    network: Network


_BERT = Family("BERT", "post", {"encoder": "encoder.layer"}, {},
               Attention("attention.output.LayerNorm", "attention.output.dense"), None,
               Network("output.LayerNorm", "intermediate.dense", "intermediate.intermediate_act_fn", "output.dense"))
_LLAMA = Family("LLaMA", "pre", {"decoder": "layers"}, {"decoder": "norm"},
                Attention("input_layernorm", "self_attn.o_proj"), None,
                Network("post_attention_layernorm", "mlp.gate_proj", "mlp.act_fn", "mlp.down_proj", up="mlp.up_proj"))
_BART = Family("BART", "post", {"encoder": "encoder.layers", "decoder": "decoder.layers"}, {},
               Attention("self_attn_layer_norm", "self_attn.out_proj"),
               Attention("encoder_attn_layer_norm", "encoder_attn.out_proj"),
               Network("final_layer_norm", "fc1", "activation_fn", "fc2"))

# transformers' model_type -> its layout. Each is tested with a tiny model (tests/unit/test_block.py).
FAMILIES = {
    "builtin": Family(
        "built-in", "pre", {"encoder": "encoder", "decoder": "decoder"},
        {"encoder": "encoder_norm", "decoder": "decoder_norm"},
        Attention("norm_attention", "self_attention.W_O"), Attention("norm_cross", "cross_attention.W_O"),
        Network("norm_ffn", "feed_forward.net.0", "feed_forward.net.1", "feed_forward.net.2")),
    "bert": _BERT,
    "roberta": _BERT,
    "distilbert": Family(
        "DistilBERT", "post", {"encoder": "transformer.layer"}, {},
        Attention("sa_layer_norm", "attention.out_lin"), None,
        Network("output_layer_norm", "ffn.lin1", "ffn.activation", "ffn.lin2")),
    "gpt2": Family(
        "GPT-2", "pre", {"decoder": "h"}, {"decoder": "ln_f"}, Attention("ln_1", "attn.c_proj"), None,
        Network("ln_2", "mlp.c_fc", "mlp.act", "mlp.c_proj")),
    "llama": _LLAMA,
    "qwen2": _LLAMA,
    "bart": _BART,
    "marian": _BART,
    "t5": Family(
        "T5", "pre", {"encoder": "encoder.block", "decoder": "decoder.block"},
        {"encoder": "encoder.final_layer_norm", "decoder": "decoder.final_layer_norm"},
        Attention("layer.0.layer_norm", "layer.0.SelfAttention.o"),
        Attention("layer.1.layer_norm", "layer.1.EncDecAttention.o"),
        # The network is the last sublayer: layer.1 in an encoder block, layer.2 in a decoder block.
        Network("layer.-1.layer_norm", "layer.-1.DenseReluDense.wi|layer.-1.DenseReluDense.wi_0",
                "layer.-1.DenseReluDense.act", "layer.-1.DenseReluDense.wo", up="layer.-1.DenseReluDense.wi_1?")),
}


def _supported() -> str:
    return "the built-in models and the Hugging Face families " + ", ".join(k for k in FAMILIES if k != "builtin")


# ---- what a view holds (numpy only) --------------------------------------------------------------

@dataclass
class NormNumbers:
    """One norm at the position: LayerNorm(x) = γ ⊙ (x − μ)/√(σ² + ε) + β, or
    RMSNorm(x) = γ ⊙ x/√(mean(x²) + ε) (no mean subtracted, no β)."""

    kind: str                    # "LayerNorm" or "RMSNorm"
    input: np.ndarray            # [d_model] x, the vector normalised
    mean: Optional[float]        # μ; None for RMSNorm, which subtracts none
    variance: float              # σ² = mean((x − μ)²) for LayerNorm; mean(x²) for RMSNorm
    eps: float                   # ε, added under the square root
    normalised: np.ndarray       # [d_model] (x − μ)/√(σ² + ε), before γ and β
    gamma: np.ndarray            # [d_model] γ, the learned scale
    beta: Optional[np.ndarray]   # [d_model] β, the learned shift; None for RMSNorm


@dataclass
class Step:
    """One step of the block at the query position."""

    name: str                    # one of STEPS
    sublayer: str                # "self", "cross", "ffn", or "" for the block's input and output
    title: str                   # what it is, in words
    equation: str                # the source text's notation
    value: np.ndarray            # float32, our number at the position (shape: see `shape`)
    # The model's own number for this step in the same forward pass, where one of its modules
    # produced it (None for z_h, which is the record itself): value agrees with it to float32 precision.
    model: Optional[np.ndarray] = None
    weight_shape: Optional[tuple] = None  # (in, out) of the matrix this step multiplies by (x W)
    norm: Optional[NormNumbers] = None    # the norm's μ, σ², ε, γ, β (norm steps only)

    @property
    def shape(self) -> tuple:
        return tuple(self.value.shape)


@dataclass
class BlockView:
    """Every step of one layer of one stack at one query position, with the model's order."""

    model_name: str
    family: str                  # e.g. "built-in", "BERT", "GPT-2", "LLaMA"
    kind: str                    # the stack: "encoder" or "decoder"
    layer: int
    position: int
    token: str                   # the label of the query position
    tokens: list                 # the stack's input labels: the Trace's encoder_/decoder_tokens
    order: str                   # "post-norm" (as the source text) or "pre-norm"
    norm: str                    # "LayerNorm" or "RMSNorm"
    activation: str              # e.g. "ReLU", "GELU (tanh approximation)", "SwiGLU (SiLU gate)"
    activation_id: str           # the config's name for it ("relu", "gelu_new", "silu")
    gated: bool                  # a gated network: act(x W_1) ⊙ (x W_up), then W_2
    sublayers: tuple             # ("self", "ffn") or ("self", "cross", "ffn"), in forward order
    record_kinds: dict           # attention sublayer -> the Trace's record kind ("encoder", "decoder", "cross")
    n_heads: int
    d_head: int
    d_model: int
    d_ff: int
    final_norm: bool             # the stack ends with one more norm after its last layer (pre-norm models)
    description: str             # the order in words
    differences: list = field(default_factory=list)   # where the model departs from the source text
    steps: list = field(default_factory=list)         # Step, in forward order

    def get(self, name: str, sublayer: Optional[str] = None) -> Step:
        """The step of this name (in this sublayer, where a name repeats: norm, residual, W_O, ...)."""
        found = [s for s in self.steps if s.name == name and (sublayer is None or s.sublayer == sublayer)]
        if len(found) != 1:
            have = [(s.name, s.sublayer) for s in self.steps]
            raise KeyError(f"{'no' if not found else 'more than one'} step {name!r}"
                           f"{'' if sublayer is None else f' in {sublayer!r}'}; this block has {have}")
        return found[0]

    def steps_of(self, sublayer: str) -> list[Step]:
        return [s for s in self.steps if s.sublayer == sublayer]

    @property
    def output(self) -> np.ndarray:
        """[d_model] the block's output at the position: the next layer's input."""
        return self.get("output").value

    def max_difference(self) -> float:
        """The largest |ours − the model's| over every step the model's modules produced."""
        return max((float(np.abs(s.value - s.model).max()) for s in self.steps if s.model is not None), default=0.0)


# ---- capturing the layer's input and its modules' outputs during the real forward pass ---------

# The capture of the block_view() running in this thread. The hooks sit on a model that other
# Streamlit sessions may run at the same moment; a hook writes only into its own capture, and
# only while its own call is running in this context.
_ACTIVE: contextvars.ContextVar = contextvars.ContextVar("block_capture", default=None)


def _module(root, path: str, optional: bool = False):
    """The submodule at a dotted path ("layer.-1.wo": negative indices count from the end);
    "a|b" tries each; None for a missing optional part (path ending in "?")."""
    optional = optional or path.endswith("?")
    for alternative in path.rstrip("?").split("|"):
        module = root
        try:
            for part in alternative.split("."):
                module = module[int(part)] if part.lstrip("-").isdigit() else getattr(module, part)
        except (AttributeError, IndexError, TypeError):
            continue
        return module
    if optional:
        return None
    raise ValueError(f"{type(root).__name__} has no module {path!r}: its layout is not the one expected")


def _first_tensor(value):
    """A layer's output may be a tensor or a tuple whose first item is the hidden state."""
    return value[0] if isinstance(value, (tuple, list)) else value


def _keep(tensor):
    """[batch, pos, …] of the traced pass -> [pos, …] float32 on the CPU (batch is one sequence)."""
    return tensor[0].detach().float().cpu().clone()


def _run_with_hooks(runner, text, target, max_new_tokens, watched: dict):
    """runner.trace() with forward hooks on the watched modules. watched: key -> module;
    returns (trace, {key: (input [pos, …], output [pos, …])}) of the traced (last) pass."""
    capture: dict = {}
    owner = object()

    def hook(key):
        def keep(module, args, kwargs, output):
            if _ACTIVE.get() is not owner:
                return
            first = args[0] if args else kwargs.get("hidden_states", next(iter(kwargs.values()), None))
            # Greedy generation runs the model before the traced pass; the last pass wins.
            capture[key] = (_keep(first), _keep(_first_tensor(output)))
        return keep

    handles = [module.register_forward_hook(hook(key), with_kwargs=True) for key, module in watched.items()]
    token = _ACTIVE.set(owner)
    try:
        trace = runner.trace(text, target=target, max_new_tokens=max_new_tokens)
    finally:
        _ACTIVE.reset(token)
        for handle in handles:
            handle.remove()
    return trace, capture


# ---- the family of a runner --------------------------------------------------------------------

def family_of(runner) -> Family:
    """The layout of the runner's model; ValueError for a family without one."""
    from .transformer import Transformer
    if isinstance(runner.net, Transformer):
        return FAMILIES["builtin"]
    model_type = getattr(getattr(runner.backend, "hf_config", None), "model_type", None)
    if model_type not in FAMILIES or model_type == "builtin":
        raise ValueError(f"the block view does not know the layout of {model_type or type(runner.net).__name__!r} "
                         f"models; it supports {_supported()}")
    return FAMILIES[model_type]


def _base(runner):
    """Where a family's paths start: the bare network under a task head (BertForMaskedLM ->
    BertModel); the network itself for ours and for T5 (whose base_model is itself)."""
    return getattr(runner.net, "base_model", runner.net)


def _activation_id(runner) -> str:
    """The config's name of the network's activation ("relu" for the built-in models)."""
    config = getattr(runner.backend, "hf_config", None)
    if config is None:
        return "relu"
    for attribute in ("hidden_act", "activation_function", "activation", "dense_act_fn"):
        value = getattr(config, attribute, None)
        if isinstance(value, str):
            return value
    return "unknown"


# ---- the maths, one position -------------------------------------------------------------------

def _is_conv1d(module) -> bool:
    # GPT-2's Conv1D keeps its weight as [in, out] (x W + b); nn.Linear keeps [out, in].
    return type(module).__name__ == "Conv1D"


def _matrix_shape(module) -> tuple:
    """(in, out) of a linear layer, as the source text writes x W."""
    rows, cols = module.weight.shape
    return (int(rows), int(cols)) if _is_conv1d(module) else (int(cols), int(rows))


def _linear(module, x):
    """x W + b from the module's own weight and bias: x [in] -> [out]."""
    import torch
    weight = module.weight.detach().float()
    bias = None if getattr(module, "bias", None) is None else module.bias.detach().float()
    if _is_conv1d(module):
        y = x @ weight                                            # [out]
        return y if bias is None else y + bias
    return torch.nn.functional.linear(x, weight, bias)            # [out]


def _norm(module, x) -> tuple:
    """The norm of x [d_model] from the module's γ, β and ε, step by step -> (output, NormNumbers)."""
    import torch
    eps = float(getattr(module, "eps", None) or getattr(module, "variance_epsilon", None) or 0.0)
    weight = getattr(module, "weight", None)
    gamma = torch.ones_like(x) if weight is None else weight.detach().float()          # [d_model]
    if isinstance(module, torch.nn.LayerNorm):
        bias = getattr(module, "bias", None)
        beta = torch.zeros_like(x) if bias is None else bias.detach().float()       # [d_model]
        mean = x.mean()
        variance = ((x - mean) ** 2).mean()                       # biased, as LayerNorm divides by n
        normalised = (x - mean) / torch.sqrt(variance + eps)      # [d_model]
        out = normalised * gamma + beta                           # [d_model]
        numbers = NormNumbers("LayerNorm", _np(x), float(mean), float(variance), eps, _np(normalised),
                              _np(gamma), _np(beta))
    elif "RMSNorm" in type(module).__name__ or type(module).__name__ == "T5LayerNorm":
        variance = (x ** 2).mean()                                # mean square: what LLaMA and T5 call variance
        normalised = x * torch.rsqrt(variance + eps)              # [d_model]
        out = gamma * normalised                                  # [d_model]
        numbers = NormNumbers("RMSNorm", _np(x), None, float(variance), eps, _np(normalised), _np(gamma), None)
    else:
        raise ValueError(f"the block view does not know the norm {type(module).__name__}")
    return out, numbers


def _np(tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy().astype(np.float32)


# ---- the view ----------------------------------------------------------------------------------

def block_view(runner, text: str, kind: str, layer: int, position: int, target: Optional[str] = None,
               max_new_tokens: int = 0) -> BlockView:
    """Every step of layer `layer` of the `kind` stack ("encoder" or "decoder") at query position
    `position`, for runner.trace(text, target, max_new_tokens): the same text, target and
    generation as the app's trace, so that positions are the Trace's positions.

    Pre-norm (the built-in models, GPT-2, LLaMA, T5):
        x₁ = x + Concat(z_1..z_h) W^O,  z from attention over Norm(x)     (and cross: x₂ = x₁ + …)
        out = x₂ + FFN(Norm(x₂))
    Post-norm (the source text; BERT, DistilBERT, BART, Marian):
        x₁ = Norm(x + Concat(z_1..z_h) W^O + b^O)
        out = Norm(x₁ + FFN(x₁)),   FFN(x) = act(x W_1 + b_1) W_2 + b_2   (gated: (act(x W_1) ⊙ x W_up) W_2)
    """
    import torch

    family = family_of(runner)
    arch = runner.arch
    stacks = [s for s, has in (("encoder", arch.has_encoder), ("decoder", arch.has_decoder)) if has]
    if kind not in stacks:
        hint = " (encoder–decoder attention is a sublayer of each decoder layer)" if kind == "cross" else ""
        raise ValueError(f"{runner.name} has no {kind!r} stack{hint}; choose one of {stacks}")
    layers = _module(_base(runner), family.layers[kind])
    if not 0 <= layer < len(layers):
        raise ValueError(f"layer {layer} is out of range: the {kind} stack has {len(layers)} layers")
    block = layers[layer]
    attentions = [("self", family.self_attention)]
    if kind == "decoder" and arch.has_cross:
        if family.cross_attention is None:
            raise ValueError(f"the block view does not know where {family.name}'s encoder–decoder attention is")
        attentions.append(("cross", family.cross_attention))
    net = family.network
    # Every module whose input or output a step needs, keyed by what it is.
    watched = {"layer": block}
    for sub, parts in attentions:
        watched[f"{sub}.norm"] = _module(block, parts.norm)
        watched[f"{sub}.W_O"] = _module(block, parts.W_O)
    watched["ffn.norm"] = _module(block, net.norm)
    watched["ffn.W_1"] = _module(block, net.W_1)
    watched["ffn.act"] = _module(block, net.activation)
    watched["ffn.W_2"] = _module(block, net.W_2)
    up = _module(block, net.up) if net.up else None      # None: not gated (or "?": not in this configuration)
    if up is not None:
        watched["ffn.up"] = up

    trace, seen = _run_with_hooks(runner, text, target, max_new_tokens, watched)
    tokens = trace.encoder_tokens if kind == "encoder" else trace.decoder_tokens
    if not 0 <= position < len(tokens):
        raise ValueError(f"position {position} is out of range: the {kind} input has {len(tokens)} tokens")
    missing = sorted(key for key in watched if key not in seen)
    if missing:
        raise ValueError(f"the forward pass did not run {', '.join(missing)} of {kind} layer {layer}")

    def model_in(key):
        return _np(seen[key][0][position])

    def model_out(key):
        return _np(seen[key][1][position])

    pre = family.order == "pre"
    record_kinds = {"self": kind, "cross": "cross"}
    act_id = _activation_id(runner)
    act_name = ACTIVATION_NAMES.get(act_id, act_id)
    steps: list[Step] = []
    device = next(block.parameters()).device
    norm_kind = ""

    with torch.inference_mode():
        x = seen["layer"][0][position].to(device)                # [d_model] the residual stream entering the layer
        steps.append(Step("input", "", "the layer's input x: the residual stream at this position", "x",
                          _np(x), model=model_in("layer")))

        def add_norm(sub: str, vector, title: str, model_value):
            nonlocal norm_kind
            module = watched[f"{sub}.norm"]
            out, numbers = _norm(module, vector)                  # [d_model]
            norm_kind = numbers.kind
            formula = "γ ⊙ (x − μ)/√(σ² + ε) + β" if numbers.kind == "LayerNorm" else "γ ⊙ x/√(mean(x²) + ε)"
            steps.append(Step("norm", sub, f"{numbers.kind} {title}", f"{numbers.kind}(x) = {formula}", _np(out),
                              model=model_value, norm=numbers))
            return out

        names = {"self": "masked self-attention" if kind == "decoder" else "self-attention",
                 "cross": "encoder–decoder attention", "ffn": "the feed-forward network"}
        for i, (sub, parts) in enumerate(attentions):
            if pre:
                add_norm(sub, x, f"before {names[sub]}", model_out(f"{sub}.norm"))
            record = trace.get(record_kinds[sub], layer)
            z = torch.from_numpy(record.context[:, position]).to(device)   # [head, d_head] z_h, the call's own output
            steps.append(Step("heads", sub, f"each head's output z_h ({names[sub]})",
                              "z_h = softmax(q_h K_hᵀ / √d_k) V_h", _np(z)))
            concat = z.reshape(-1)                                # [head·d_head] head-major, as the models reshape
            steps.append(Step("concat", sub, "the heads' outputs side by side", "Concat(z_1, …, z_h)",
                              _np(concat), model=model_in(f"{sub}.W_O")))
            W_O = watched[f"{sub}.W_O"]
            attended = _linear(W_O, concat)                       # [d_model]
            has_bias = getattr(W_O, "bias", None) is not None
            steps.append(Step("W_O", sub, f"the output projection W^O{' plus its bias' if has_bias else ''}",
                              "Concat(z_1, …, z_h) W^O" + (" + b^O" if has_bias else ""), _np(attended),
                              model=model_out(f"{sub}.W_O"), weight_shape=_matrix_shape(W_O)))
            residual = x + attended                               # [d_model]
            # The model's own residual sum is the next norm's input: this sublayer's norm
            # (post-norm), or the next sublayer's (pre-norm).
            following = attentions[i + 1][0] if i + 1 < len(attentions) else "ffn"
            steps.append(Step("residual", sub, "the residual connection: x plus the sublayer's output",
                              "x + MultiHead(…)", _np(residual),
                              model=model_in(f"{following if pre else sub}.norm")))
            x = residual if pre else add_norm(sub, residual, f"after {names[sub]} (add & norm)",
                                              model_out(f"{sub}.norm"))

        h = add_norm("ffn", x, f"before {names['ffn']}", model_out("ffn.norm")) if pre else x   # [d_model]
        W_1, W_2, act = watched["ffn.W_1"], watched["ffn.W_2"], watched["ffn.act"]
        b = "" if getattr(W_1, "bias", None) is None else " + b_1"
        first = _linear(W_1, h)                                   # [d_ff] before the activation
        steps.append(Step("ffn_in", "ffn", "the network's first layer, before the activation"
                          + (" (the gate's branch)" if up is not None else ""),
                          f"x W_1{b}", _np(first), model=model_out("ffn.W_1"), weight_shape=_matrix_shape(W_1)))
        activated = act(first)                                    # [d_ff] the model's own activation function
        steps.append(Step("activation", "ffn", f"the activation: {act_name}", f"{act_name}(x W_1{b})",
                          _np(activated), model=model_out("ffn.act")))
        if up is not None:
            linear = _linear(up, h)                               # [d_ff] the branch the gate multiplies
            steps.append(Step("ffn_up", "ffn", "the network's linear branch", "x W_up", _np(linear),
                              model=model_out("ffn.up"), weight_shape=_matrix_shape(up)))
            activated = activated * linear                        # [d_ff]
            steps.append(Step("gated", "ffn", "the activation times the linear branch (the gate)",
                              f"{act_name}(x W_1) ⊙ x W_up", _np(activated), model=model_in("ffn.W_2")))
        second = _linear(W_2, activated)                          # [d_model]
        b2 = "" if getattr(W_2, "bias", None) is None else " + b_2"
        steps.append(Step("ffn_out", "ffn", "the network's second layer: its output",
                          f"(…) W_2{b2}", _np(second), model=model_out("ffn.W_2"), weight_shape=_matrix_shape(W_2)))
        residual = x + second                                     # [d_model]
        if pre:
            steps.append(Step("residual", "ffn", "the residual connection: x plus the network's output",
                              "x + FFN(Norm(x))", _np(residual), model=model_out("layer")))
            out = residual
        else:
            steps.append(Step("residual", "ffn", "the residual connection: x plus the network's output",
                              "x + FFN(x)", _np(residual), model=model_in("ffn.norm")))
            out = add_norm("ffn", residual, "after the feed-forward network (add & norm)", model_out("ffn.norm"))
        steps.append(Step("output", "", "the layer's output: the next layer's input", "out", _np(out),
                          model=model_out("layer")))

    gated = up is not None
    activation = f"{GATED_NAMES.get(act_name.split(' ')[0], 'gated')} ({act_name} gate)" if gated else act_name
    final = kind in family.final_norm
    linears = [watched[key] for key in watched if key.endswith(("W_O", "W_1", "W_2"))] + ([up] if gated else [])
    unbiased = any(getattr(module, "bias", None) is None for module in linears)
    sublayers = tuple(s for s, _ in attentions) + ("ffn",)
    d_ff = int(first.shape[-1])
    return BlockView(
        model_name=runner.name, family=family.name, kind=kind, layer=layer, position=position,
        token=tokens[position], tokens=list(tokens),
        order="pre-norm" if pre else "post-norm", norm=norm_kind, activation=activation, activation_id=act_id,
        gated=gated, sublayers=sublayers, record_kinds={s: record_kinds[s] for s, _ in attentions},
        n_heads=int(z.shape[0]), d_head=int(z.shape[1]), d_model=int(x.shape[-1]), d_ff=d_ff, final_norm=final,
        description=_description(pre, norm_kind, activation, sublayers, final, names),
        differences=_differences(pre, norm_kind, act_name, gated, unbiased, kind, arch, final), steps=steps)


def _description(pre: bool, norm: str, activation: str, sublayers: tuple, final: bool, names: dict) -> str:
    """The block's order in words."""
    parts = [names[s] for s in sublayers]
    if pre:
        order = (f"pre-norm: x + Sublayer({norm}(x)) for {', then '.join(parts)}; the {norm} comes before "
                 "each sublayer and the residual sum is not normalised")
        if final:
            order += f"; one more {norm} follows the stack's last layer"
    else:
        order = (f"post-norm (as the source text): {norm}(x + Sublayer(x)) for {', then '.join(parts)}; "
                 "the norm follows each residual sum")
    return f"{order}. The network's activation is {activation}."


def _differences(pre: bool, norm: str, act_name: str, gated: bool, unbiased: bool, kind: str, arch,
                 final: bool) -> list[str]:
    """Where this block departs from the source text's encoder/decoder block."""
    out = []
    if pre:
        out.append("pre-norm: the norm comes before each sublayer (x + Sublayer(Norm(x))), not after the "
                   "residual sum (Norm(x + Sublayer(x)))" + ("; the stack ends with one more norm" if final else ""))
    if norm == "RMSNorm":
        out.append("RMSNorm instead of LayerNorm: x is divided by its root mean square; no mean is subtracted "
                   "and there is no β")
    if gated:
        out.append(f"a gated network: ({act_name}(x W_1) ⊙ x W_up) W_2, three matrices instead of two")
    if not act_name.startswith("ReLU"):
        out.append(f"{act_name} instead of ReLU")
    if unbiased:
        out.append("no bias terms: some of W^O, W_1, W_2 add no b")
    if kind == "decoder" and not arch.has_cross:
        out.append("no encoder–decoder attention: a decoder-only model's layer has masked self-attention and "
                   "the network only")
    return out
