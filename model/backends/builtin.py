"""The built-in backend: our Transformer (model/transformer.py) with the character tokenizer,
its weights in assets/NAME/ (safetensors) and its card (config.json)."""
from __future__ import annotations

from typing import Optional, Sequence

import torch

from ..catalog import ModelLoadError, checkpoint_path, read_model_card
from ..tokenizer import MASK, CharTokenizer
from ..tokens import Tokens
from ..trace import SNAPSHOTS, architecture
from ..transformer import Transformer, TransformerConfig


def load_builtin(name: str, snapshot: str = "final", device: str = "auto"):
    """A built-in model by name and training snapshot, as a Runner."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..runner import Runner, resolve_device

    if snapshot not in SNAPSHOTS:
        raise ValueError(f"unknown snapshot {snapshot!r}; choose one of {SNAPSHOTS}")
    card = read_model_card(name)
    config = TransformerConfig(**card["config"])
    path = checkpoint_path(name, snapshot)
    if not path.exists():
        raise ModelLoadError(f"checkpoint file missing: {path}. Rebuild it with: python -m model.training {name}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"checkpoint file is corrupted: {path} ({error})") from error
    net = Transformer(config)
    try:
        net.load_state_dict({key: value.float() for key, value in state.items()})
    except RuntimeError as error:
        raise ModelLoadError(f"checkpoint file does not match its config: {path} ({error})") from error
    return Runner(BuiltinBackend(name, net, CharTokenizer(), resolve_device(device)), snapshot=snapshot)


class BuiltinBackend:
    """Our Transformer and its character tokenizer, behind the runner's Backend protocol."""

    site_of = None              # our attention modules pass their kind and layer to attend()
    generation_limit = None     # greedy generation may run to max_len

    def __init__(self, name: str, net: Transformer, tokenizer: CharTokenizer, device: torch.device):
        self.name = name
        self.device = device
        self.net = net.to(device).eval()
        self.tokenizer = tokenizer
        self.config: TransformerConfig = net.config
        self.arch = architecture(self.config.architecture)
        self.max_len = self.config.max_len
        self.n_layers, self.n_heads = self.config.n_layers, self.config.n_heads
        self.pad_id = tokenizer.pad_id
        self.start_id = tokenizer.bos_id
        self.eos_ids = frozenset({tokenizer.eos_id})
        # Never chosen by greedy decoding: they would be masked out of, or meaningless in, the next step.
        self.banned_ids = (tokenizer.pad_id, tokenizer.bos_id, tokenizer.unk_id, tokenizer.mask_id)
        self.n_choosable = len(tokenizer)
        # label(id) -> str, the list's own lookup: a trace labels its top-5 at every position
        # (125 calls for 25 characters), and a Python method around it cost ~0.03 ms of a 0.8 ms
        # trace (cProfile, toy-gpt). Ids are Python ints (tensor.tolist()); numpy ints index too.
        self.label = [tokenizer.token(i) for i in range(len(tokenizer))].__getitem__

    def __repr__(self) -> str:
        return f"builtin {self.arch}"

    # ---- tokens ---------------------------------------------------------------------------

    def tokens(self, ids: Sequence[int]) -> Tokens:
        """Ids the model produced, labelled from the vocabulary."""
        tok = self.tokenizer
        special = {tok.pad_id, tok.bos_id, tok.eos_id}
        ids = [int(i) for i in ids]
        return Tokens(ids, [tok.token(i) for i in ids], [i == tok.unk_id for i in ids], [i in special for i in ids])

    def _read(self, text: str, room: int) -> tuple[Tokens, int]:
        """The text's characters (each keeps its own label, <unk> or not), cut to room."""
        read = self.tokenizer.encode(text)
        return read[:room], max(0, len(read) - room)

    def source(self, text: str) -> tuple[Tokens, int]:
        """Encoder input, ending in <eos> for an encoder-decoder (as in training); tokens cut."""
        ends = self.arch.has_decoder
        read, cut = self._read(text, self.max_len - (1 if ends else 0))
        return (read + self.tokens([self.tokenizer.eos_id]) if ends else read), cut

    def prompt(self, text: str) -> tuple[Tokens, int]:
        """A decoder-only model's input: <bos> + the text."""
        read, cut = self._read(text, self.max_len - 1)
        return self.tokens([self.start_id]) + read, cut

    def decoder_input(self, target: str) -> tuple[Tokens, int]:
        """Teacher forcing: <bos> + the target (the model's reply to be checked)."""
        return self.prompt(target)

    def text_of(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(ids)

    def filled_text(self, tokens: Tokens, best_ids: Sequence[int]) -> str:
        """An encoder-only model's output: the input with each [MASK] replaced by its top guess."""
        return "".join(self.label(best) if label == MASK else label for label, best in zip(tokens.labels, best_ids))

    # ---- the network ----------------------------------------------------------------------

    def forward(self, encoder_ids: Optional[torch.Tensor], decoder_ids: Optional[torch.Tensor],
                encoder_real=None, decoder_real=None, memory=None) -> torch.Tensor:
        """Logits [batch, pos, vocab]; padding is pad_id in the ids (our models mask it themselves)."""
        if not self.arch.has_decoder:
            return self.net.output(self.net.encode(encoder_ids))
        if self.arch.has_encoder and memory is None:
            memory = self.net.encode(encoder_ids)
        return self.net.output(self.net.decode(decoder_ids, memory, encoder_ids))

    def run_encoder(self, encoder_ids: torch.Tensor, encoder_real=None):
        """The encoder's output, computed once for every step of greedy generation."""
        return self.net.encode(encoder_ids)
