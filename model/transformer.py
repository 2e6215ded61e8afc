"""The Transformer of the source text, from scratch, with every attention call recorded.

Three architectures share these modules: encoder-only (BERT-like), decoder-only (GPT-like) and
encoder-decoder (the original: encoder self-attention, decoder masked self-attention,
encoder-decoder attention). Every attention call goes through model/recording.py's attend(), which
keeps its stages when a recording is running (the runner's trace) and is plain attention
otherwise (training): the modules take no recording or intervention arguments.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, asdict

import torch
from torch import nn

from . import recording
from .attention import causal_mask, padding_mask
from .trace import architecture as architecture_named



@dataclass(frozen=True)
class TransformerConfig:
    architecture: str          # a name in model/trace.py's ARCHITECTURES: which stacks exist
    vocab_size: int            # rows of the shared token embedding and of the output layer
    d_model: int = 128         # width of the residual stream
    n_heads: int = 4           # h: heads per attention layer, concatenated before W^O
    n_layers: int = 2          # layers per stack (an encoder-decoder has n_layers of each)
    d_ff: int = 512            # hidden width of the ReLU feed-forward network
    max_len: int = 128         # longest sequence per stack; longer input is truncated
    dropout: float = 0.0       # only during training; tracing always runs in eval mode
    pad_id: int = 0            # token id masked out of attention wherever it appears

    def __post_init__(self):
        architecture_named(self.architecture)   # ValueError unless it is one of ARCHITECTURES
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")

    @property
    def d_head(self) -> int:
        """d_k = d_v = d_model / h, as in the paper."""
        return self.d_model // self.n_heads

    def to_dict(self) -> dict:
        return asdict(self)


def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), PE(pos, 2i+1) = cos(...)."""
    position = torch.arange(max_len, dtype=torch.float32)[:, None]           # [pos, 1]
    frequency = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32)
                          * (-math.log(10000.0) / d_model))                 # [d_model/2]
    table = torch.zeros(max_len, d_model)                                   # [pos, d_model]
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency)
    return table


class MultiHeadAttention(nn.Module):
    """MultiHead(X) = Concat(head_1..head_h) W^O, head_i = Attention(X W^Q_i, Y W^K_i, Y W^V_i)."""

    def __init__(self, config: TransformerConfig, kind: str, layer: int):
        super().__init__()
        self.kind, self.layer = kind, layer
        self.n_heads, self.d_head = config.n_heads, config.d_head
        self.scale = 1.0 / math.sqrt(config.d_head)
        self.W_Q = nn.Linear(config.d_model, config.d_model)
        self.W_K = nn.Linear(config.d_model, config.d_model)
        self.W_V = nn.Linear(config.d_model, config.d_model)
        self.W_O = nn.Linear(config.d_model, config.d_model)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, pos, _ = x.shape
        return x.view(batch, pos, self.n_heads, self.d_head).transpose(1, 2)  # [batch, head, pos, d_head]

    def forward(self, x, source, allowed):
        """x: queries' stream [batch, q_pos, d_model]; source: keys' and values' stream;
        allowed: [batch, q_pos, k_pos] bool."""
        q = self._split(self.W_Q(x))                                # [batch, head, q_pos, d_head]
        k = self._split(self.W_K(source))                           # [batch, head, k_pos, d_head]
        v = self._split(self.W_V(source))                           # [batch, head, k_pos, d_head]
        context = recording.attend(self.kind, self.layer, q, k, v, allowed, self.scale)  # [batch, head, q_pos, d_head]
        batch, _, q_pos, _ = context.shape
        concat = context.transpose(1, 2).reshape(batch, q_pos, -1)  # [batch, q_pos, d_model]
        return self.W_O(concat)                                     # [batch, q_pos, d_model]


class FeedForward(nn.Module):
    """FFN(x) = ReLU(x W_1 + b_1) W_2 + b_2."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.ReLU(),
                                 nn.Linear(config.d_ff, config.d_model))

    def forward(self, x):
        return self.net(x)


class EncoderLayer(nn.Module):
    """Self-attention (every position sees every other), then FFN; each as x + sublayer(LN(x)).

    LayerNorm comes before each sublayer (pre-LN): it trains stably without the paper's warm-up
    schedule, and the residual path is the same as the paper's.
    """

    def __init__(self, config: TransformerConfig, layer: int):
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.self_attention = MultiHeadAttention(config, "encoder", layer)
        self.norm_ffn = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, allowed):
        h = self.norm_attention(x)                                             # [batch, pos, d_model]
        x = x + self.dropout(self.self_attention(h, h, allowed))
        return x + self.dropout(self.feed_forward(self.norm_ffn(x)))


class DecoderLayer(nn.Module):
    """Masked self-attention, encoder-decoder attention (if there is an encoder), then FFN."""

    def __init__(self, config: TransformerConfig, layer: int, has_cross: bool):
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.self_attention = MultiHeadAttention(config, "decoder", layer)
        self.norm_cross = nn.LayerNorm(config.d_model) if has_cross else None
        self.cross_attention = MultiHeadAttention(config, "cross", layer) if has_cross else None
        self.norm_ffn = nn.LayerNorm(config.d_model)
        self.feed_forward = FeedForward(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, allowed, memory=None, cross_allowed=None):
        h = self.norm_attention(x)                                             # [batch, q_pos, d_model]
        x = x + self.dropout(self.self_attention(h, h, allowed))
        if self.cross_attention is not None:
            h = self.norm_cross(x)
            # Decoder queries, encoder keys and values.
            x = x + self.dropout(self.cross_attention(h, memory, cross_allowed))
        return x + self.dropout(self.feed_forward(self.norm_ffn(x)))


class Transformer(nn.Module):
    """Embeddings + sinusoidal positions, the stacks the architecture has, and an output layer
    over the vocabulary (next token for decoders, the masked token for an encoder-only model)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        # std d_model^-0.5, so that embedding·√d_model has unit scale like the positions:
        # PyTorch's default N(0, 1) would drown the positional signal by a factor of √d_model.
        nn.init.normal_(self.embedding.weight, std=config.d_model ** -0.5)
        self.register_buffer("positions", sinusoidal_positions(config.max_len, config.d_model),
                             persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        has_encoder = architecture_named(config.architecture).has_encoder
        has_decoder = architecture_named(config.architecture).has_decoder
        self.encoder = nn.ModuleList(EncoderLayer(config, i) for i in range(config.n_layers)) if has_encoder else None
        self.encoder_norm = nn.LayerNorm(config.d_model) if has_encoder else None
        self.decoder = nn.ModuleList(
            DecoderLayer(config, i, has_cross=has_encoder) for i in range(config.n_layers)) if has_decoder else None
        self.decoder_norm = nn.LayerNorm(config.d_model) if has_decoder else None
        self.output = nn.Linear(config.d_model, config.vocab_size)

    def attention_modules(self) -> list[MultiHeadAttention]:
        return [m for m in self.modules() if isinstance(m, MultiHeadAttention)]

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """x = embedding · √d_model + PE, as in the paper."""
        n = ids.shape[1]
        if n > self.config.max_len:
            raise ValueError(f"sequence of {n} tokens is longer than max_len={self.config.max_len}")
        x = self.embedding(ids) * math.sqrt(self.config.d_model) + self.positions[:n]  # [batch, pos, d_model]
        return self.dropout(x)

    def encode(self, src_ids: torch.Tensor) -> torch.Tensor:
        """Encoder stack over src_ids [batch, src_pos] -> memory [batch, src_pos, d_model]."""
        allowed = padding_mask(src_ids, self.config.pad_id)                    # [batch, src_pos, src_pos]
        x = self.embed(src_ids)
        for layer in self.encoder:
            x = layer(x, allowed)
        return self.encoder_norm(x)

    def decode(self, tgt_ids: torch.Tensor, memory=None, src_ids=None) -> torch.Tensor:
        """Decoder stack over tgt_ids [batch, tgt_pos] -> hidden [batch, tgt_pos, d_model]."""
        n = tgt_ids.shape[1]
        allowed = padding_mask(tgt_ids, self.config.pad_id) & causal_mask(n, tgt_ids.device)  # [batch, tgt_pos, tgt_pos]
        cross_allowed = None
        if memory is not None:
            cross_allowed = padding_mask(src_ids, self.config.pad_id, n_queries=n)  # [batch, tgt_pos, src_pos]
        x = self.embed(tgt_ids)
        for layer in self.decoder:
            x = layer(x, allowed, memory, cross_allowed)
        return self.decoder_norm(x)

    def forward(self, src_ids=None, tgt_ids=None) -> torch.Tensor:
        """Logits [batch, pos, vocab] over the decoder input, or the encoder input if encoder-only."""
        if self.decoder is None:
            return self.output(self.encode(src_ids))
        memory = self.encode(src_ids) if self.encoder is not None else None
        return self.output(self.decode(tgt_ids, memory, src_ids))
