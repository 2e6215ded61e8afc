"""The Hugging Face backend: transformers' models -> the same records as the built-in models.

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

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import torch

from .. import recording
from ..catalog import ModelLoadError
from ..tokens import Tokens
from ..trace import architecture as architecture_named

RECORDING = "attention_explorer"   # the name registered with AttentionInterface and AttentionMaskInterface
# Records grow as layers · heads · n² (scores and weights, float32): at 512 tokens, what BERT-sized
# models were trained on, a 24-layer 16-head model's trace is about 0.8 GB. So a model reads up to
# MAX_TOKENS (its own positions permitting) while one trace's records stay within RECORD_BYTES,
# and never fewer than MIN_TOKENS: a small long-context model reads 2,048 tokens (2 layers × 2
# heads: 134 MB), BERT-base still stops at its 512 positions, a 32 × 32-head model at 512.
MAX_TOKENS = 2048
MIN_TOKENS = 512
RECORD_BYTES = 1 << 30
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


def recording_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """transformers' attention function for attn_implementation=RECORDING: the mask and bias it is
    given, then model/recording.py's attend() (the one recorder). Returns (output [batch, q_pos,
    head, d_head], weights) as eager does; weights are those of the real computation."""
    for unsupported in ("softcap", "s_aux", "sinks"):
        if kwargs.get(unsupported) is not None:
            raise NotImplementedError(f"attention with {unsupported!r} is not recorded by this explorer")
    recorder = recording.active()
    n_heads = query.shape[1]
    key = _expand_heads(key, n_heads)                            # [batch, head, k_pos, d_head]
    value = _expand_heads(value, n_heads)                        # [batch, head, k_pos, d_head]
    scale = query.shape[-1] ** -0.5 if scaling is None else float(scaling)
    shape = (query.shape[0], n_heads, query.shape[-2], key.shape[-2])
    allowed, bias = _split_mask(attention_mask, shape)
    allowed = allowed.to(query.device)[:, 0].expand(shape[0], shape[2], shape[3])  # [batch, q_pos, k_pos]
    position_bias = kwargs.get("position_bias")                  # T5: [1|batch, head, q_pos, k_pos]
    if position_bias is not None and bool(position_bias.any()):
        bias = position_bias if bias is None else position_bias + bias
    site = recorder.site_of(module) if recorder is not None and recorder.site_of is not None else ("", -1)
    # Dropout is not applied: models are traced in eval mode, where it is the identity.
    context = recording.attend(*site, query, key, value, allowed, scale, bias)
    return context.transpose(1, 2).contiguous(), None


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
            "Hugging Face cache; downloading is off (to fetch it, tick “Allow a download from the Hugging Face Hub” "
            "under “Load another model”)")
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
    arch = architecture_named(architecture)
    if arch.has_cross:
        return transformers.AutoModelForSeq2SeqLM
    if arch.has_decoder:
        return transformers.AutoModelForCausalLM
    # An encoder saved without its masked-LM head (a sentence encoder such as MiniLM) is loaded
    # bare: a randomly initialised head would show made-up predictions.
    classes = " ".join(getattr(config, "architectures", None) or [])
    has_head = "MaskedLM" in classes or "PreTraining" in classes
    return transformers.AutoModelForMaskedLM if has_head else transformers.AutoModel


def load_hf(name_or_path: str, snapshot: str = "final", device: str = "auto", allow_download: bool = False,
            folder: Optional[Path] = None):
    """A Hugging Face model by folder or cached Hub name, loaded with the recording attention, as a Runner."""
    from ..runner import Runner, resolve_device

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
    return Runner(HFBackend(name_or_path, net, tokenizer, architecture, folder, resolve_device(device)))


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


# ---- the backend -----------------------------------------------------------------------------

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


class HFBackend:
    """A Hugging Face model with its tokenizer, behind the runner's Backend protocol."""

    generation_limit = GENERATION_LIMIT

    def __init__(self, name: str, net, tokenizer, architecture: str, folder: Path, device: torch.device):
        self.name = name
        self.folder = Path(folder)
        self.arch = architecture_named(architecture)
        self.device = device
        self.net = net.to(device).eval()
        self.tokenizer = tokenizer
        self.hf_config = net.config
        self.site_of = _Sites(self.net)
        self.max_len = self._max_len()
        self._byte_level = self._uses_byte_level()
        self._offsets = bool(getattr(tokenizer, "is_fast", False))
        self.n_choosable = len(tokenizer)   # ids the tokenizer can spell (added tokens included)
        self._specials = set(tokenizer.all_special_ids) - {tokenizer.unk_token_id, tokenizer.mask_token_id}
        config_pad = getattr(self.hf_config, "pad_token_id", None)
        self.pad_id = self._first(tokenizer.pad_token_id, config_pad, tokenizer.eos_token_id, 0)
        eos_id = self._first(getattr(self.hf_config, "eos_token_id", None), tokenizer.eos_token_id)
        # Some configs list several end tokens (LLaMA 3: end of text, end of turn): any one stops.
        self.eos_ids = frozenset(self._all(getattr(self.hf_config, "eos_token_id", None), eos_id))
        # The decoder's first input: </s> for BART, <pad> for T5 and Marian.
        self.start_id = self._first(getattr(self.hf_config, "decoder_start_token_id", None), config_pad,
                                    tokenizer.bos_token_id, 0)
        # Never chosen by greedy decoding: padding and [MASK] mean nothing as a next token.
        self.banned_ids = tuple(i for i in (tokenizer.pad_token_id, tokenizer.mask_token_id)
                                if i is not None and i not in self.eos_ids)
        self.n_layers, self.n_heads, d_head = self._probe()
        self.max_len = min(self.max_len, self._affordable_len())
        c = self.hf_config
        d_model = int(getattr(c, "hidden_size", 0) or getattr(c, "d_model", 0))
        n_kv_heads = int(getattr(c, "num_key_value_heads", None) or self.n_heads)
        self.config = HFShape(self.n_layers, self.n_heads, d_model, d_head, n_kv_heads, self.max_len, c.model_type)

    def __repr__(self) -> str:
        return f"{self.hf_config.model_type} {self.arch}"

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

    def _affordable_len(self) -> int:
        """Tokens whose records (scores and weights, float32, every head of every attention call)
        fit in RECORD_BYTES; at least MIN_TOKENS."""
        calls = self.n_layers * self.n_heads * len(self.arch.kinds)
        return max(MIN_TOKENS, int((RECORD_BYTES / (calls * 2 * 4)) ** 0.5))

    def _uses_byte_level(self) -> bool:
        backend = getattr(self.tokenizer, "backend_tokenizer", None)
        parts = (getattr(backend, "decoder", None), getattr(backend, "pre_tokenizer", None))
        return any(part is not None and b'"ByteLevel"' in part.__getstate__() for part in parts)

    def _probe(self) -> tuple[int, int, int]:
        """Run two tokens through the model once: every layer of every kind must be recorded.
        -> (n_layers, n_heads, d_head)."""
        any_id = self.pad_id if self.pad_id < self.hf_config.vocab_size else 0
        rows = torch.tensor([[any_id, any_id]], device=self.device)
        start = torch.tensor([[self.start_id, any_id]], device=self.device)
        try:
            with torch.inference_mode(), recording.recording(site_of=self.site_of) as recorder:
                self.forward(rows if self.arch.has_encoder else None, start if self.arch.has_decoder else None)
        except (NotImplementedError, RuntimeError, ValueError, TypeError, IndexError) as error:
            raise ModelLoadError(f"{self.name}: a first pass through the model failed: {error}") from error
        calls = recorder.calls
        layers = {kind: sorted({c.layer for c in calls if c.kind == kind}) for kind in self.arch.kinds}
        if not calls or any(not found or found != list(range(len(found))) for found in layers.values()):
            raise ModelLoadError(
                f"{self.name}: its attention does not run through transformers' AttentionInterface, so it cannot "
                f"be recorded (recorded layers: {layers})")
        return max(len(found) for found in layers.values()), max(c.q.shape[1] for c in calls), calls[0].q.shape[-1]

    # ---- tokens ---------------------------------------------------------------------------

    def label(self, token_id: int) -> str:
        if token_id >= self.n_choosable:
            return f"<id {token_id}>"
        token = self.tokenizer.convert_ids_to_tokens(int(token_id))
        if token is None:
            return f"<id {token_id}>"
        return token if token_id in self._specials else readable(token, self._byte_level)

    def tokens(self, ids: Sequence[int], text: str = "", offsets=None) -> Tokens:
        """Ids with labels; an <unk> shows the text it stood for where offsets say which."""
        unk = self.tokenizer.unk_token_id
        labels = []
        for i, token_id in enumerate(ids):
            if token_id == unk and offsets is not None and offsets[i][1] > offsets[i][0]:
                labels.append(text[offsets[i][0]:offsets[i][1]])   # the text the model could not read
            else:
                labels.append(self.label(token_id))
        return Tokens([int(i) for i in ids], labels, [i == unk for i in ids], [i in self._specials for i in ids])

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
        return self.tokens(ids, text, encoded.get("offset_mapping")), cut

    def source(self, text: str) -> tuple[Tokens, int]:
        """Encoder input: the tokenizer's own special tokens ([CLS] ... [SEP], ... </s>) around the text."""
        return self._encode(text)

    def prompt(self, text: str) -> tuple[Tokens, int]:
        """A decoder-only model's input, with the tokenizer's own start token if it adds one."""
        return self._encode(text)

    def decoder_input(self, target: str) -> tuple[Tokens, int]:
        """Teacher forcing: the decoder start token + the target's tokens without the final </s>."""
        labels, cut = self._encode(target, target=True)
        if len(labels) and labels.ids[-1] in self.eos_ids:
            labels = labels[:-1]
        return self.tokens([self.start_id]) + labels[: self.max_len - 1], cut

    def text_of(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    def filled_text(self, tokens: Tokens, best_ids: Sequence[int]) -> str:
        """An encoder's output: the input with each [MASK] replaced by its top guess."""
        mask = self.tokenizer.mask_token_id
        filled = [best if i == mask else i for i, best in zip(tokens.ids, best_ids)]
        return self.tokenizer.decode(filled, skip_special_tokens=True)

    # ---- the network ----------------------------------------------------------------------

    def _inputs(self, encoder_ids, decoder_ids, encoder_real, decoder_real) -> dict:
        """The keyword arguments of the model's forward pass (attention masks: 1 = a real token)."""
        def mask(ids, real):
            return (torch.ones_like(ids) if real is None else real.long()).to(self.device)

        inputs: dict = {}
        if encoder_ids is not None:
            inputs["input_ids"], inputs["attention_mask"] = encoder_ids, mask(encoder_ids, encoder_real)
        if decoder_ids is not None:
            if self.arch.has_encoder:
                inputs["decoder_input_ids"] = decoder_ids
                inputs["decoder_attention_mask"] = mask(decoder_ids, decoder_real)
            else:
                inputs["input_ids"], inputs["attention_mask"] = decoder_ids, mask(decoder_ids, decoder_real)
        if self.arch.has_decoder:
            inputs["use_cache"] = False   # every pass recomputes the whole prefix: what trace() records
        return inputs

    def inputs_for(self, text: str, target: Optional[str] = None, pad_to: int = 0) -> dict:
        """The forward-pass arguments of trace(text, target, pad_to=...) with no generation: for
        comparing with transformers' own eager attention. Right-padded with attention mask 0."""
        def padded(tokens: Tokens):
            n = max(len(tokens), pad_to)
            ids = torch.tensor([tokens.ids + [self.pad_id] * (n - len(tokens))], device=self.device)
            real = torch.tensor([[True] * len(tokens) + [False] * (n - len(tokens))], device=self.device)
            return ids, real

        if not self.arch.has_encoder:
            ids, real = padded(self.prompt(text)[0])
            return self._inputs(None, ids, None, real)
        enc_ids, enc_real = padded(self.source(text)[0])
        if not self.arch.has_decoder:
            return self._inputs(enc_ids, None, enc_real, None)
        dec_ids, dec_real = padded(self.decoder_input(target or "")[0]) if pad_to == 0 else \
            (torch.tensor([self.decoder_input(target or "")[0].ids], device=self.device), None)
        return self._inputs(enc_ids, dec_ids, enc_real, dec_real)

    def forward(self, encoder_ids, decoder_ids, encoder_real=None, decoder_real=None, memory=None):
        """Logits [batch, pos, vocab], or None for a bare encoder (no head that predicts tokens)."""
        inputs = self._inputs(encoder_ids, decoder_ids, encoder_real, decoder_real)
        if memory is not None:
            inputs.pop("input_ids")
            inputs["encoder_outputs"] = memory
        return getattr(self.net(**inputs), "logits", None)

    def run_encoder(self, encoder_ids, encoder_real=None):
        """The encoder's output, computed once for every step of greedy generation."""
        inputs = self._inputs(encoder_ids, None, encoder_real, None)
        return self.net.get_encoder()(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
