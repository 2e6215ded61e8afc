"""Hugging Face models -> the same Trace as the built-in models.

    m = model.load("minilm")              # or a local folder, or a name in the local HF cache
    t = m.trace("The cat sat on the mat.")

Recording goes through transformers' own attention interface: a function registered with
AttentionInterface (and its mask with AttentionMaskInterface) computes eager attention step by
step with model/attention.py and keeps every stage. The model is loaded with
attn_implementation=RECORDING, so every family whose modeling code dispatches through
ALL_ATTENTION_FUNCTIONS is recorded without patched copies of its code or per-family hooks.

transformers' modeling code takes seconds to import, so it is imported inside the functions that
need it: the app and the built-in models never pay for it.
"""
from __future__ import annotations

import contextvars
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import torch

from .attention import attention_stages
from .builtin import TOP_K, resolve_device
from .catalog import ModelLoadError
from .trace import NO_INTERVENTION, AttentionRecord, GenerationStep, Intervention, Trace

RECORDING = "attention_explorer"   # the name registered with AttentionInterface and AttentionMaskInterface
# Records grow as layers · heads · n² (scores and weights, float32): at 512 tokens, what BERT-sized
# models were trained on, a 24-layer 16-head model's trace is about 0.8 GB.
MAX_TOKENS = 512
# Greedy generation without a given limit stops here: each step reruns the whole prefix (what
# trace() records), so a model that never says </s> would otherwise run max_len passes.
GENERATION_LIMIT = 64
# Files fetched when a download is allowed: configs, safetensors and tokenizer files; never pickles.
SAFE_FILES = ["*.json", "*.safetensors", "*.txt", "*.model", "*.tiktoken", "tokenizer*"]
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# The same stand-ins viz/labels.py uses, so a space reads the same in every model's labels.
VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍"}
# Names of cross-attention modules across families (BERT, BART/Marian/Whisper, T5).
CROSS_NAME = re.compile(r"cross|encoder_attn|EncDecAttention", re.IGNORECASE)


# ---- the recording attention function ---------------------------------------------------------

@dataclass
class _Call:
    """One attention call, batched, as tensors on the model's device."""

    kind: str
    layer: int
    q: torch.Tensor                 # [batch, head, q_pos, d_head]
    k: torch.Tensor                 # [batch, head, k_pos, d_head] (grouped-query k/v expanded)
    v: torch.Tensor                 # [batch, head, k_pos, d_head]
    scores: torch.Tensor            # [batch, head, q_pos, k_pos]
    scale: float
    bias: Optional[torch.Tensor]    # [batch, head, q_pos, k_pos] or None
    allowed: torch.Tensor           # [batch, q_pos, k_pos] bool
    weights: torch.Tensor           # [batch, head, q_pos, k_pos]
    context: torch.Tensor           # [batch, head, q_pos, d_head]


@dataclass
class _Recorder:
    """What the attention function needs during one forward pass of one model."""

    sites: "_Sites"
    record: bool
    intervention: Intervention
    calls: list = field(default_factory=list)


# The recorder of the forward pass running in this thread (Streamlit runs sessions in threads, so
# two sessions may trace the same cached model at once). None: plain eager attention.
_ACTIVE: contextvars.ContextVar[Optional[_Recorder]] = contextvars.ContextVar("attention_recorder", default=None)


class _Sites:
    """Which (kind, layer) an attention module is, from what the module says about itself."""

    def __init__(self, net: torch.nn.Module):
        self.names = {id(module): name for name, module in net.named_modules()}
        self.cache: dict[int, tuple[str, int]] = {}

    def __call__(self, module: torch.nn.Module) -> tuple[str, int]:
        key = id(module)
        if key not in self.cache:
            self.cache[key] = (self._kind(module), self._layer(module))
        return self.cache[key]

    def _kind(self, module) -> str:
        name = self.names.get(id(module), "")
        if getattr(module, "is_cross_attention", False) or CROSS_NAME.search(name) \
                or "CrossAttention" in type(module).__name__:
            return "cross"
        if getattr(module, "is_causal", False):
            return "decoder"
        # On the decoder side but not causal: BART's encoder_attn, T5's EncDecAttention.
        if getattr(module, "is_decoder", False):
            return "cross"
        return "encoder"

    def _layer(self, module) -> int:
        if isinstance(getattr(module, "layer_idx", None), int):
            return module.layer_idx
        # DistilBERT and others keep no layer_idx: the block's index in the module path.
        indices = re.findall(r"\.(\d+)(?:\.|$)", self.names.get(id(module), ""))
        if not indices:
            raise RuntimeError(f"cannot tell which layer {type(module).__name__} belongs to")
        return int(indices[-1])


def _expand_heads(states: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Grouped-query attention: give every query head its own copy of its group's k or v rows."""
    n_kv = states.shape[1]
    if n_kv == n_heads:
        return states
    if n_heads % n_kv:
        raise RuntimeError(f"{n_heads} query heads cannot share {n_kv} key/value heads evenly")
    return states.repeat_interleave(n_heads // n_kv, dim=1)   # [batch, head, k_pos, d_head]


def _split_mask(mask: Optional[torch.Tensor], shape: tuple) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """An additive mask -> (allowed [batch, 1|head, q_pos, k_pos] bool, the finite remainder or None).

    Some families fold a position bias into the additive mask; what is left where a key is
    allowed is that bias, and it belongs in `bias`, not in `allowed`.
    """
    batch, _, n_q, n_k = shape
    if mask is None:
        return torch.ones(batch, 1, n_q, n_k, dtype=torch.bool), None
    mask = mask[..., :n_k]                                       # [batch, 1, q_pos, k_pos]
    if mask.dtype == torch.bool:
        return mask, None
    allowed = mask > torch.finfo(mask.dtype).min / 2             # [batch, 1, q_pos, k_pos]
    rest = mask.masked_fill(~allowed, 0.0)                       # [batch, 1, q_pos, k_pos]
    return allowed, (rest if bool(rest.any()) else None)


def _hide_keys(allowed: torch.Tensor, positions: frozenset) -> torch.Tensor:
    """Intervention: keys at these positions become invisible to every query, as padding is."""
    n_k = allowed.shape[-1]
    hidden = [p for p in positions if 0 <= p < n_k]
    if not hidden:
        return allowed
    keep = torch.ones(n_k, dtype=torch.bool, device=allowed.device)
    keep[hidden] = False
    return allowed & keep                                        # [batch, 1, q_pos, k_pos]


def recording_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """softmax(q·kᵀ·scale + bias, masked) v, the steps of model/attention.py, recorded when a
    trace is running. Returns (output [batch, q_pos, head, d_head], weights) as eager does."""
    for unsupported in ("softcap", "s_aux", "sinks"):
        if kwargs.get(unsupported) is not None:
            raise NotImplementedError(f"attention with {unsupported!r} is not recorded by this explorer")
    recorder = _ACTIVE.get()
    n_heads = query.shape[1]
    key = _expand_heads(key, n_heads)                            # [batch, head, k_pos, d_head]
    value = _expand_heads(value, n_heads)                        # [batch, head, k_pos, d_head]
    scale = query.shape[-1] ** -0.5 if scaling is None else float(scaling)
    shape = (query.shape[0], n_heads, query.shape[-2], key.shape[-2])
    allowed, bias = _split_mask(attention_mask, shape)
    allowed = allowed.to(query.device)
    position_bias = kwargs.get("position_bias")                  # T5: [1|batch, head, q_pos, k_pos]
    if position_bias is not None and bool(position_bias.any()):
        bias = position_bias if bias is None else position_bias + bias
    kind, layer = recorder.sites(module) if recorder is not None else ("", -1)
    if recorder is not None and recorder.intervention:
        hidden = recorder.intervention.hidden_decoder_keys if kind == "decoder" else recorder.intervention.hidden_encoder_keys
        allowed = _hide_keys(allowed, hidden)
    # Dropout is not applied: models are traced in eval mode, where it is the identity. With
    # nothing masked (an encoder without padding), the two masked_fill passes are skipped.
    stages = attention_stages(query, key, value, None if bool(allowed.all()) else allowed, scale, bias)
    context = stages.context                                     # [batch, head, q_pos, d_head]
    if recorder is not None:
        if recorder.record:
            recorder.calls.append(_Call(
                kind, layer, query.detach(), key.detach(), value.detach(), stages.scores.detach(), scale,
                None if bias is None else bias.detach().expand(shape),
                allowed[:, 0].expand(shape[0], shape[2], shape[3]).detach(),
                stages.weights.detach(), context.detach()))
        off = [head for (off_kind, off_layer, head) in recorder.intervention.heads_off
               if (off_kind, off_layer) == (kind, layer)]
        if off:
            gate = torch.ones(n_heads, dtype=context.dtype, device=context.device)
            gate[off] = 0.0
            context = context * gate[:, None, None]              # [batch, head, q_pos, d_head]
    return context.transpose(1, 2).contiguous(), stages.weights


def _recording_mask(*args, **kwargs):
    """The eager additive mask, always materialised: a skipped (None) mask would lose the causal
    and padding masks that `allowed` must show."""
    from transformers.masking_utils import eager_mask
    kwargs["allow_is_bidirectional_skip"] = False
    return eager_mask(*args, **kwargs)


_registered = False


def register() -> None:
    """Make attn_implementation=RECORDING known to transformers (idempotent)."""
    global _registered
    if _registered:
        return
    from transformers import AttentionInterface, AttentionMaskInterface
    AttentionInterface.register(RECORDING, recording_attention)
    # Without a mask function under the same name, transformers builds no mask at all for this
    # implementation: padding and causal masks would silently vanish.
    AttentionMaskInterface.register(RECORDING, _recording_mask)
    _registered = True


# ---- finding and checking a model folder ------------------------------------------------------

def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _looks_like_path(name: str) -> bool:
    """A Hub id is "name" or "owner/name"; anything else with a separator is a folder."""
    return (name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1 or os.path.isabs(name))


def resolve_folder(name_or_path: str, allow_download: bool = False) -> Path:
    """A local folder as given, else the Hub id's snapshot in the local cache; a download only
    when allow_download is True and HF_HUB_OFFLINE is not set."""
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        return path
    if _looks_like_path(name_or_path):
        raise ModelLoadError(f"model folder not found: {path}")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError
    try:
        return Path(snapshot_download(name_or_path, local_files_only=True))
    except HFValidationError as error:
        raise ModelLoadError(f"unknown model {name_or_path!r}: neither a folder nor a Hugging Face name "
                             f"({error})") from error
    except (LocalEntryNotFoundError, FileNotFoundError, OSError):
        pass
    if not allow_download:
        raise ModelLoadError(
            f"unknown model {name_or_path!r}: not a built-in model, not a folder, and not in the local "
            "Hugging Face cache (downloads need allow_download=True)")
    if _offline():
        raise ModelLoadError(f"{name_or_path!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set")
    try:
        return Path(snapshot_download(name_or_path, allow_patterns=SAFE_FILES))
    except Exception as error:   # network, authentication, missing repository: all end the same way
        raise ModelLoadError(f"could not download {name_or_path!r}: {error}") from error


def check_folder(folder: Path) -> None:
    """Refuse what cannot or must not be loaded, before transformers opens anything."""
    if not (folder / "config.json").is_file():
        raise ModelLoadError(f"{folder} has no config.json: it is not a Hugging Face model folder")
    if any(folder.glob("*.safetensors")):
        return
    pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
    if pickles:
        raise ModelLoadError(
            f"{folder} has only pickle weights ({', '.join(pickles)}): loading a pickle can run arbitrary "
            "code, so only safetensors weights are accepted. Convert them with save_pretrained "
            "(safetensors is its default) in a trusted environment.")
    raise ModelLoadError(f"{folder} has no weights: model.safetensors is missing")


def _architecture(config) -> str:
    """encoder-only, decoder-only or encoder-decoder, from the config alone."""
    from transformers.models.auto.modeling_auto import (MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
                                                        MODEL_FOR_MASKED_LM_MAPPING_NAMES)
    if getattr(config, "is_encoder_decoder", False):
        return "encoder-decoder"
    classes = " ".join(getattr(config, "architectures", None) or [])
    if "CausalLM" in classes or "LMHead" in classes or getattr(config, "is_decoder", False):
        return "decoder-only"
    # BERT and RoBERTa are in both mappings (as encoders with an optional causal head).
    if config.model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return "encoder-only"
    if config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return "decoder-only"
    raise ModelLoadError(f"unknown architecture {config.model_type!r}: not an encoder, decoder or encoder-decoder "
                         "language model that transformers knows")


def _model_class(config, architecture: str):
    import transformers
    if architecture == "encoder-decoder":
        return transformers.AutoModelForSeq2SeqLM
    if architecture == "decoder-only":
        return transformers.AutoModelForCausalLM
    # An encoder saved without its masked-LM head (a sentence encoder such as MiniLM) is loaded
    # bare: a randomly initialised head would show made-up predictions.
    classes = " ".join(getattr(config, "architectures", None) or [])
    has_head = "MaskedLM" in classes or "PreTraining" in classes
    return transformers.AutoModelForMaskedLM if has_head else transformers.AutoModel


def load_hf(name_or_path: str, snapshot: str = "final", device: str = "auto", allow_download: bool = False,
            folder: Optional[Path] = None) -> "HFModel":
    """A Hugging Face model by folder or cached Hub name, loaded with the recording attention."""
    if snapshot != "final":
        raise ModelLoadError(f"{name_or_path} has only its final weights; training snapshots exist only for the built-in models")
    folder = Path(folder) if folder is not None else resolve_folder(name_or_path, allow_download)
    check_folder(folder)
    register()
    import transformers
    try:
        config = transformers.AutoConfig.from_pretrained(folder, trust_remote_code=False, local_files_only=True)
    except (ValueError, KeyError, OSError) as error:
        raise ModelLoadError(f"unknown architecture in {folder / 'config.json'} (custom model code is never run): "
                             f"{error}") from error
    architecture = _architecture(config)
    try:
        net, info = _model_class(config, architecture).from_pretrained(
            folder, config=config, attn_implementation=RECORDING, dtype=torch.float32, use_safetensors=True,
            trust_remote_code=False, local_files_only=True, output_loading_info=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, trust_remote_code=False, local_files_only=True)
    except (ValueError, KeyError, OSError, RuntimeError, ImportError) as error:
        raise ModelLoadError(f"could not load {folder}: {error}") from error
    if info.get("missing_keys"):
        missing = sorted(info["missing_keys"])
        raise ModelLoadError(f"{folder} lacks weights the model needs ({', '.join(missing[:3])}"
                             f"{' …' if len(missing) > 3 else ''})")
    return HFModel(name_or_path, net, tokenizer, architecture, folder, device=device)


# ---- token labels ----------------------------------------------------------------------------

def _byte_decoder() -> dict[str, int]:
    """GPT-2's byte-level alphabet (each byte drawn as a printable character) -> the byte."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(printable, chars)}


BYTE_DECODER = _byte_decoder()
BYTE_FALLBACK = re.compile(r"^<0x([0-9A-Fa-f]{2})>$")


def readable(token: str, byte_level: bool) -> str:
    """A tokenizer's token as the text it stands for: byte-level characters ("Ġ") and
    SentencePiece's "▁" become real spaces, then whitespace becomes ␣ ↵ ⇥ as in viz labels."""
    if byte_level and all(c in BYTE_DECODER for c in token):
        # A character split across tokens leaves partial UTF-8: shown as \x.. escapes.
        token = bytes(BYTE_DECODER[c] for c in token).decode("utf-8", errors="backslashreplace")
    match = BYTE_FALLBACK.match(token)
    if match and int(match.group(1), 16) < 0x80:
        token = chr(int(match.group(1), 16))
    token = token.replace("▁", " ")
    return "".join(VISIBLE.get(c, c) for c in token)


@dataclass
class Tokens:
    """Token ids for the model, with a label and two flags per token for the views."""

    ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    unknown: list[bool] = field(default_factory=list)
    special: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def __add__(self, other: "Tokens") -> "Tokens":
        return Tokens(self.ids + other.ids, self.labels + other.labels,
                      self.unknown + other.unknown, self.special + other.special)

    def __getitem__(self, part: slice) -> "Tokens":
        return Tokens(self.ids[part], self.labels[part], self.unknown[part], self.special[part])


def _padded(values: list, length: int, fill) -> list:
    return values + [fill] * (length - len(values))


# ---- the model -------------------------------------------------------------------------------

@dataclass(frozen=True)
class HFShape:
    """The sizes the app shows for a model (the built-ins' TransformerConfig has the same names)."""

    n_layers: int      # the deepest stack (encoder and decoder may differ)
    n_heads: int       # query heads per attention call
    d_model: int       # width of the residual stream
    d_head: int        # width of one head's q, k and v
    n_kv_heads: int    # key/value heads (fewer than n_heads under grouped-query attention)
    max_len: int       # tokens per input, special tokens included
    model_type: str    # transformers' name of the family


class HFModel:
    """A Hugging Face model with its tokenizer: text in, Trace out, like BuiltinModel."""

    def __init__(self, name: str, net, tokenizer, architecture: str, folder: Path, device: str = "auto"):
        self.name = name
        self.snapshot = "final"
        self.folder = Path(folder)
        self.architecture = architecture
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        self.tokenizer = tokenizer
        self.hf_config = net.config
        self._sites = _Sites(self.net)
        self.max_len = self._max_len()
        self._byte_level = self._uses_byte_level()
        self._offsets = bool(getattr(tokenizer, "is_fast", False))
        self._n_tokens = len(tokenizer)   # ids the tokenizer can spell (added tokens included)
        self._specials = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id, tokenizer.mask_token_id}
        config_pad = getattr(self.hf_config, "pad_token_id", None)
        self.pad_id = self._first(tokenizer.pad_token_id, config_pad, tokenizer.eos_token_id, 0)
        self.eos_id = self._first(getattr(self.hf_config, "eos_token_id", None), tokenizer.eos_token_id)
        # Some configs list several end tokens (LLaMA 3: end of text, end of turn): any one stops.
        self.eos_ids = frozenset(self._all(getattr(self.hf_config, "eos_token_id", None), self.eos_id))
        # The decoder's first input: </s> for BART, <pad> for T5 and Marian.
        self.start_id = self._first(getattr(self.hf_config, "decoder_start_token_id", None), config_pad,
                                    tokenizer.bos_token_id, 0)
        self.n_layers, self.n_heads = self._probe()
        c = self.hf_config
        d_model = int(getattr(c, "hidden_size", 0) or getattr(c, "d_model", 0))
        self.config = HFShape(self.n_layers, self.n_heads, d_model, self._d_head, self._n_kv_heads,
                              self.max_len, c.model_type)

    def __repr__(self) -> str:
        return f"HFModel({self.name!r}, {self.architecture}, {self.hf_config.model_type}, device={self.device})"

    @staticmethod
    def _all(*values) -> list[int]:
        flat = []
        for value in values:
            flat += [int(v) for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]
        return flat

    @staticmethod
    def _first(*values):
        for value in values:
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            if value is not None:
                return int(value)
        return None

    def _max_len(self) -> int:
        c = self.hf_config
        limits = [MAX_TOKENS]
        positions = getattr(c, "max_position_embeddings", None)
        if isinstance(positions, int):
            # RoBERTa-style embeddings number positions from padding_idx + 1.
            if "roberta" in c.model_type and getattr(c, "pad_token_id", None) is not None:
                positions -= c.pad_token_id + 1
            limits.append(positions)
        if 0 < getattr(self.tokenizer, "model_max_length", 0) < 1_000_000:
            limits.append(int(self.tokenizer.model_max_length))
        return min(limits)

    def _uses_byte_level(self) -> bool:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        parts = (getattr(backend, "decoder", None), getattr(backend, "pre_tokenizer", None))
        return any(part is not None and b'"ByteLevel"' in part.__getstate__() for part in parts)

    def _probe(self) -> tuple[int, int]:
        """Run two tokens through the model once: every layer of every kind must be recorded."""
        any_id = self.pad_id if self.pad_id < self.hf_config.vocab_size else 0
        rows = [[any_id, any_id]]
        try:
            _, calls = self._forward(None if self.architecture == "decoder-only" else rows,
                                     None if self.architecture == "encoder-only" else [[self.start_id, any_id]],
                                     record=True)
        except (NotImplementedError, RuntimeError, ValueError, TypeError, IndexError) as error:
            raise ModelLoadError(f"{self.name}: a first pass through the model failed: {error}") from error
        expected = {"encoder-only": ["encoder"], "decoder-only": ["decoder"],
                    "encoder-decoder": ["encoder", "decoder", "cross"]}[self.architecture]
        layers = {kind: sorted({c.layer for c in calls if c.kind == kind}) for kind in expected}
        if not calls or any(not found or found != list(range(len(found))) for found in layers.values()):
            raise ModelLoadError(
                f"{self.name}: its attention does not run through transformers' AttentionInterface, so it cannot "
                f"be recorded (recorded layers: {layers})")
        self._d_head = calls[0].q.shape[-1]
        self._n_kv_heads = int(getattr(self.hf_config, "num_key_value_heads", None) or calls[0].q.shape[1])
        return max(len(found) for found in layers.values()), max(c.q.shape[1] for c in calls)

    # ---- preparing inputs -----------------------------------------------------------------

    @staticmethod
    def _check_text(text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Please type some text: the input is empty.")

    def label(self, token_id: int) -> str:
        if token_id >= self._n_tokens:
            return f"<id {token_id}>"
        token = self.tokenizer.convert_ids_to_tokens(int(token_id))
        if token is None:
            return f"<id {token_id}>"
        return token if token_id in self._specials else readable(token, self._byte_level)

    def _tokens(self, ids: Sequence[int], text: str = "", offsets=None) -> Tokens:
        unk = self.tokenizer.unk_token_id
        labels = []
        for i, token_id in enumerate(ids):
            if token_id == unk and offsets is not None and offsets[i][1] > offsets[i][0]:
                labels.append(text[offsets[i][0]:offsets[i][1]])   # the text the model could not read
            else:
                labels.append(self.label(token_id))
        return Tokens(list(ids), labels, [i == unk for i in ids], [i in self._specials for i in ids])

    def _encode(self, text: str, target: bool = False) -> tuple[Tokens, int]:
        """The tokenizer's ids with its special tokens, cut to max_len; and how many were cut."""
        tok = self.tokenizer
        kwargs = {"text_target": text} if target else {"text": text}
        encoded = tok(**kwargs, truncation=True, max_length=self.max_len, return_offsets_mapping=self._offsets)
        ids = list(encoded["input_ids"])
        if not ids:
            raise ValueError("Please type some text: the tokenizer found no tokens in the input.")
        cut = 0
        if len(ids) >= self.max_len:   # only a full input can have lost tokens: count them
            whole = len(tok(**kwargs, add_special_tokens=False, verbose=False)["input_ids"])
            cut = max(0, whole + tok.num_special_tokens_to_add() - len(ids))
        return self._tokens(ids, text, encoded.get("offset_mapping")), cut

    def _decoder_input(self, target: str) -> tuple[Tokens, int]:
        """Teacher forcing: the decoder start token + the target's tokens without the final </s>."""
        labels, cut = self._encode(target, target=True)
        if len(labels) and labels.ids[-1] in self.eos_ids:
            labels = labels[:-1]
        return self._tokens([self.start_id]) + labels[: self.max_len - 1], cut

    def _generated(self, ids: Sequence[int]) -> Tokens:
        """Generated ids without the final </s>."""
        return self._tokens([int(i) for i in ids if i not in self.eos_ids])

    def _pad(self, rows: Sequence[list[int]], length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded ids and the attention mask (1 = a real token) [batch, length]."""
        ids = torch.tensor([row + [self.pad_id] * (length - len(row)) for row in rows], dtype=torch.long,
                           device=self.device)
        mask = torch.tensor([[1] * len(row) + [0] * (length - len(row)) for row in rows], dtype=torch.long,
                            device=self.device)
        return ids, mask

    def model_inputs(self, sources: Optional[Sequence[list[int]]], targets: Optional[Sequence[list[int]]],
                     pad_source_to: int = 0, pad_target_to: int = 0) -> dict:
        """The keyword arguments of the model's forward pass for rows of ids (padded as a batch)."""
        inputs: dict = {}
        if sources is not None:
            length = min(self.max_len, max(pad_source_to, max(map(len, sources))))
            inputs["input_ids"], inputs["attention_mask"] = self._pad(sources, length)
        if targets is not None:
            length = min(self.max_len, max(pad_target_to, max(map(len, targets))))
            ids, mask = self._pad(targets, length)
            if self.architecture == "decoder-only":
                inputs["input_ids"], inputs["attention_mask"] = ids, mask
            else:
                inputs["decoder_input_ids"], inputs["decoder_attention_mask"] = ids, mask
        if self.architecture != "encoder-only":
            inputs["use_cache"] = False   # every pass recomputes the whole prefix: what trace() records
        return inputs

    def inputs_for(self, text: str, target: Optional[str] = None) -> dict:
        """The forward-pass arguments trace(text, target) uses (no generation): for comparisons."""
        self._check_text(text)
        if self.architecture == "decoder-only":
            return self.model_inputs(None, [self._encode(text)[0].ids])
        sources = [self._encode(text)[0].ids]
        if self.architecture == "encoder-only":
            return self.model_inputs(sources, None)
        return self.model_inputs(sources, [self._decoder_input(target or "")[0].ids])

    # ---- running the network --------------------------------------------------------------

    @contextmanager
    def _recording(self, record: bool, intervention: Intervention):
        recorder = _Recorder(self._sites, record, intervention)
        token = _ACTIVE.set(recorder)
        try:
            yield recorder
        finally:
            _ACTIVE.reset(token)

    # inference_mode, as BuiltinModel: no autograd bookkeeping in a pass that is only read.
    @torch.inference_mode()
    def _forward(self, sources, targets, record: bool, pad_source_to=0, pad_target_to=0,
                 intervention: Intervention = NO_INTERVENTION) -> tuple[Optional[torch.Tensor], list[_Call]]:
        """One batched forward pass -> (logits [batch, pos, vocab] on CPU or None, recorded calls)."""
        inputs = self.model_inputs(sources, targets, pad_source_to, pad_target_to)
        with self._recording(record, intervention) as recorder:
            output = self.net(**inputs)
        logits = getattr(output, "logits", None)
        return (None if logits is None else logits.float().cpu()), recorder.calls

    def _choose(self, logits: torch.Tensor) -> torch.Tensor:
        """Greedy choice, never padding or [MASK] (meaningless as a next token) nor an id the
        tokenizer cannot spell (embedding matrices are often padded past the vocabulary)."""
        logits = logits.clone()
        banned = [i for i in (self.tokenizer.pad_token_id, self.tokenizer.mask_token_id)
                  if i is not None and i not in self.eos_ids]
        logits[..., banned] = float("-inf")
        logits[..., self._n_tokens:] = float("-inf")
        return logits.argmax(-1)

    def _top(self, logits: torch.Tensor) -> list[list[tuple[str, float]]]:
        """Top-5 (token, probability) per row of logits [pos, vocab], in one softmax."""
        values, ids = torch.softmax(logits.float(), dim=-1).topk(min(TOP_K, logits.shape[-1]), dim=-1)
        return [[(self.label(i), p) for p, i in zip(row_p, row_i)]
                for row_p, row_i in zip(values.tolist(), ids.tolist())]

    @staticmethod
    def _records(calls: list[_Call], batch_index: int, source_labels, target_labels) -> list[AttentionRecord]:
        """Split batched calls into per-sequence float32 numpy records with token labels."""
        out = []
        for c in calls:
            queries = source_labels if c.kind == "encoder" else target_labels
            keys = target_labels if c.kind == "decoder" else source_labels
            nq, nk = c.weights.shape[-2:]

            def take(tensor):
                return tensor[batch_index].float().cpu().numpy()

            out.append(AttentionRecord(
                kind=c.kind, layer=c.layer, query_tokens=list(queries[:nq]), key_tokens=list(keys[:nk]),
                q=take(c.q), k=take(c.k), v=take(c.v), scores=take(c.scores), scale=c.scale,
                bias=None if c.bias is None else take(c.bias),
                allowed=c.allowed[batch_index].cpu().numpy().astype(bool),
                weights=take(c.weights), context=take(c.context)))
        return out

    # ---- greedy decoding ------------------------------------------------------------------

    @torch.inference_mode()
    def greedy(self, texts: Sequence[str], max_new_tokens: Optional[int] = None,
               intervention: Intervention = NO_INTERVENTION) -> list[list[int]]:
        """Greedy continuation ids (ending at </s> if chosen) for a batch of texts: the decoder is
        rerun on the whole prefix each step, exactly the computation that trace() records.
        max_new_tokens=None: until </s>, max_len or GENERATION_LIMIT."""
        if self.architecture == "encoder-only":
            raise ValueError("an encoder-only model does not generate")
        fixed: dict = {}
        if self.architecture == "encoder-decoder":
            sources = [self._encode(t)[0].ids for t in texts]
            fixed = self.model_inputs(sources, None)
            with self._recording(False, intervention):
                fixed["encoder_outputs"] = self.net.get_encoder()(input_ids=fixed.pop("input_ids"),
                                                                  attention_mask=fixed["attention_mask"])
            prefixes = [[self.start_id] for _ in texts]
            limit = self.max_len - 1
        else:
            prefixes = [self._encode(t)[0].ids for t in texts]
            limit = self.max_len - max(map(len, prefixes))
        limit = min(limit, GENERATION_LIMIT if max_new_tokens is None else max_new_tokens)
        generated: list[list[int]] = [[] for _ in texts]
        done = [False] * len(texts)
        for _ in range(max(0, limit)):
            inputs = {**fixed, **self.model_inputs(None, prefixes)}
            with self._recording(False, intervention):
                logits = self.net(**inputs).logits                    # [batch, pos, vocab]
            lengths = torch.tensor([len(p) for p in prefixes], device=logits.device)
            next_ids = self._choose(logits[torch.arange(len(texts)), lengths - 1]).tolist()
            for i, token_id in enumerate(next_ids):
                if done[i]:
                    continue
                prefixes[i].append(token_id)
                generated[i].append(token_id)
                done[i] = token_id in self.eos_ids
            if all(done):
                break
        return generated

    def generate(self, text: str, max_new_tokens: Optional[int] = None,
                 intervention: Intervention = NO_INTERVENTION) -> str:
        self._check_text(text)
        return self.tokenizer.decode(self.greedy([text], max_new_tokens, intervention)[0], skip_special_tokens=True)

    # ---- tracing --------------------------------------------------------------------------

    def trace(self, text: str, target: Optional[str] = None, max_new_tokens: int = 0,
              pad_to: int = 0, intervention: Intervention = NO_INTERVENTION) -> Trace:
        """Every attention record of one input, as BuiltinModel.trace."""
        return self.trace_batch([text], None if target is None else [target],
                                max_new_tokens=max_new_tokens, pad_to=pad_to, intervention=intervention)[0]

    def _inputs(self, texts, targets, max_new_tokens, intervention):
        """(sources, decoder inputs, tokens cut, first generated position) per text."""
        arch = self.architecture
        sources: list[Tokens] = []
        decoder: list[Tokens] = []
        cuts, generated_from = [], []
        if arch == "encoder-decoder":
            missing = [i for i, t in enumerate(targets) if t is None]
            limit = max_new_tokens if max_new_tokens > 0 else None
            generated = dict(zip(missing, self.greedy([texts[i] for i in missing], limit, intervention))) if missing else {}
            for i, (text, target) in enumerate(zip(texts, targets)):
                source, cut = self._encode(text)
                if i in generated:
                    dec, target_cut = self._tokens([self.start_id]) + self._generated(generated[i]), 0
                else:
                    dec, target_cut = self._decoder_input(target)
                sources.append(source); decoder.append(dec); cuts.append(cut + target_cut)
                generated_from.append(1 if i in generated and len(dec) > 1 else None)
        elif arch == "decoder-only":
            continuations = (self.greedy(texts, max_new_tokens, intervention) if max_new_tokens > 0
                             else [[] for _ in texts])
            for text, continuation in zip(texts, continuations):
                prompt, cut = self._encode(text)
                new = self._generated(continuation)
                decoder.append(prompt + new); cuts.append(cut)
                generated_from.append(len(prompt) if len(new) else None)
        else:
            for text in texts:
                source, cut = self._encode(text)
                sources.append(source); cuts.append(cut); generated_from.append(None)
        return sources, decoder, cuts, generated_from

    def _output_text(self, source: Tokens, dec: Tokens, generated_from, logits) -> str:
        if self.architecture == "encoder-decoder":
            return self.tokenizer.decode(dec.ids[1:], skip_special_tokens=True)
        if self.architecture == "decoder-only":
            return self.tokenizer.decode(dec.ids[generated_from:], skip_special_tokens=True) if generated_from else ""
        if logits is None:
            return ""   # a bare encoder (no masked-LM head) predicts nothing
        mask = self.tokenizer.mask_token_id
        best = logits[: len(source)].argmax(-1).tolist()
        filled = [b if i == mask else i for i, b in zip(source.ids, best)]   # each [MASK] -> its top guess
        return self.tokenizer.decode(filled, skip_special_tokens=True)

    def trace_batch(self, texts: Sequence[str], targets: Optional[Sequence[Optional[str]]] = None,
                    max_new_tokens: int = 0, pad_to: int = 0,
                    intervention: Intervention = NO_INTERVENTION) -> list[Trace]:
        """Traces of several inputs run as one right-padded batch: each record keeps the padding
        positions, so the padding mask is visible. pad_to pads further, as a longer batch would."""
        for text in texts:
            self._check_text(text)
        targets = list(targets) if targets is not None else [None] * len(texts)
        arch = self.architecture
        sources, decoder, cuts, generated_from = self._inputs(texts, targets, max_new_tokens, intervention)
        logits, calls = self._forward([s.ids for s in sources] or None, [d.ids for d in decoder] or None,
                                      record=True,
                                      pad_source_to=pad_to if arch != "decoder-only" else 0,
                                      pad_target_to=pad_to if arch == "decoder-only" else 0,
                                      intervention=intervention)
        n_src = next((c.weights.shape[-1] for c in calls if c.kind != "decoder"), 0) if sources else 0
        n_tgt = next((c.weights.shape[-2] for c in calls if c.kind != "encoder"), 0) if decoder else 0
        traces = []
        for b, text in enumerate(texts):
            src = sources[b] if sources else Tokens()
            dec = decoder[b] if decoder else Tokens()
            src_labels, tgt_labels = _padded(src.labels, n_src, "<pad>"), _padded(dec.labels, n_tgt, "<pad>")
            predictions = [] if logits is None else self._top(logits[b, :len(dec) if decoder else len(src)])
            traces.append(Trace(
                model_name=self.name, architecture=arch,
                records=self._records(calls, b, src_labels, tgt_labels),
                encoder_tokens=src_labels, decoder_tokens=tgt_labels,
                output_text=self._output_text(src, dec, generated_from[b], None if logits is None else logits[b]),
                predictions=predictions, truncated=cuts[b], text=text, target=targets[b],
                generated_from=generated_from[b],
                encoder_unknown=_padded(src.unknown, n_src, False), decoder_unknown=_padded(dec.unknown, n_tgt, False),
                encoder_special=_padded(src.special, n_src, True), decoder_special=_padded(dec.special, n_tgt, True)))
        return traces

    def generate_steps(self, text: str, max_new_tokens: int = 20,
                       intervention: Intervention = NO_INTERVENTION) -> list[GenerationStep]:
        """Greedy generation one token at a time, with the records of each step's pass."""
        self._check_text(text)
        if self.architecture == "encoder-only":
            raise ValueError("an encoder-only model does not generate")
        if self.architecture == "encoder-decoder":
            source, _ = self._encode(text)
            prefix = self._tokens([self.start_id])
            room = self.max_len - 1
        else:
            source = None
            prefix, _ = self._encode(text)
            room = self.max_len - len(prefix)
        steps = []
        for index in range(min(max_new_tokens, room)):
            logits, calls = self._forward([source.ids] if source else None, [prefix.ids], record=True,
                                          intervention=intervention)
            top = self._top(logits[0, -1:])[0]
            token_id = int(self._choose(logits[0, -1]))
            records = [r for r in self._records(calls, 0, source.labels if source else [], prefix.labels)
                       if r.kind != "encoder"]
            steps.append(GenerationStep(index, self.label(token_id), token_id, top, records))
            prefix = prefix + self._tokens([token_id])
            if token_id in self.eos_ids:
                break
        return steps
