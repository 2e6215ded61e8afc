"""The built-in models: a name -> config + weights in assets/, and the object that traces them."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch

from .catalog import BUILTIN_NAMES, ModelLoadError, checkpoint_path, config_path, read_model_card
from .tokenizer import CharTokenizer, Encoded, MASK
from .trace import NO_INTERVENTION, SNAPSHOTS, AttentionRecord, GenerationStep, Intervention, Trace
from .transformer import RawRecord, Transformer, TransformerConfig

TOP_K = 5


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def load_builtin(name: str, snapshot: str = "final", device: str = "auto") -> "BuiltinModel":
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if snapshot not in SNAPSHOTS:
        raise ValueError(f"unknown snapshot {snapshot!r}; choose one of {SNAPSHOTS}")
    card = read_model_card(name)
    config = TransformerConfig(**card["config"])
    path = checkpoint_path(name, snapshot)
    if not path.exists():
        raise ModelLoadError(f"checkpoint file missing: {path}. Rebuild it with: python -m model.train {name}")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(f"checkpoint file is corrupted: {path} ({error})") from error
    net = Transformer(config)
    try:
        net.load_state_dict({key: value.float() for key, value in state.items()})
    except RuntimeError as error:
        raise ModelLoadError(f"checkpoint file does not match its config: {path} ({error})") from error
    return BuiltinModel(name, net, CharTokenizer(), snapshot=snapshot, device=device)


class BuiltinModel:
    """A Transformer with its tokenizer: text in, Trace out."""

    def __init__(self, name: str, net: Transformer, tokenizer: CharTokenizer,
                 snapshot: str = "final", device: str = "auto"):
        self.name = name
        self.snapshot = snapshot
        self.device = resolve_device(device)
        self.net = net.to(self.device).eval()
        self.tokenizer = tokenizer
        self.config: TransformerConfig = net.config

    # ---- what the app asks about a model --------------------------------------------------

    @property
    def architecture(self) -> str:
        return self.config.architecture

    @property
    def n_layers(self) -> int:
        return self.config.n_layers

    @property
    def n_heads(self) -> int:
        return self.config.n_heads

    @property
    def max_len(self) -> int:
        return self.config.max_len

    def __repr__(self) -> str:
        return f"BuiltinModel({self.name!r}, {self.architecture}, snapshot={self.snapshot!r}, device={self.device})"

    # ---- preparing inputs -----------------------------------------------------------------

    def _source(self, text: str) -> tuple[Encoded, int]:
        """Encoder input (ending in <eos> for an encoder-decoder), and how many tokens were cut
        to fit max_len."""
        encoded = self.tokenizer.encode(text)
        room = self.max_len - (1 if self.architecture == "encoder-decoder" else 0)
        cut = max(0, len(encoded.ids) - room)
        ids, tokens, unknown = encoded.ids[:room], encoded.tokens[:room], encoded.unknown[:room]
        if self.architecture == "encoder-decoder":
            ids, tokens, unknown = ids + [self.tokenizer.eos_id], tokens + ["<eos>"], unknown + [False]
        return Encoded(ids, tokens, unknown), cut

    def _decoder_input(self, encoded: Encoded, room: int) -> tuple[Encoded, int]:
        """<bos> + the tokens, cut to `room` tokens after <bos>."""
        cut = max(0, len(encoded.ids) - room)
        return Encoded([self.tokenizer.bos_id] + encoded.ids[:room], ["<bos>"] + encoded.tokens[:room],
                       [False] + encoded.unknown[:room]), cut

    def _from_ids(self, ids: Sequence[int]) -> Encoded:
        """Generated ids as an Encoded (labels from the vocabulary), without the final <eos>."""
        ids = [int(t) for t in ids if t != self.tokenizer.eos_id]
        return Encoded(ids, [self.tokenizer.token(t) for t in ids], [t == self.tokenizer.unk_id for t in ids])

    def _pad(self, rows: Sequence[list[int]], length: int) -> torch.Tensor:
        pad = self.tokenizer.pad_id
        return torch.tensor([row + [pad] * (length - len(row)) for row in rows],
                            dtype=torch.long, device=self.device)

    @staticmethod
    def _check_text(text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Please type some text: the input is empty.")

    # ---- running the network --------------------------------------------------------------

    def _keep(self, masked: frozenset, batch: int, length: int) -> Optional[torch.Tensor]:
        """[batch, length] bool: False at the masked positions; None when nothing is masked."""
        if not masked:
            return None
        keep = torch.ones(batch, length, dtype=torch.bool, device=self.device)
        positions = [p for p in masked if 0 <= p < length]
        keep[:, positions] = False
        return keep

    def _intervention_args(self, intervention: Intervention, batch: int, src_len: int) -> dict:
        return {"src_keep": self._keep(intervention.hidden_encoder_keys, batch, src_len),
                "tgt_keep": self._keep(intervention.hidden_decoder_keys, batch, self.max_len),
                "heads_off": intervention.heads_off or None}

    # inference_mode, not no_grad: it skips autograd's version counters, which for these small
    # per-op-bound models made greedy generation ~20 % faster here.
    @torch.inference_mode()
    def _run(self, sources, targets, record: bool, pad_source_to=0, pad_target_to=0,
             intervention: Intervention = NO_INTERVENTION):
        """One batched forward pass -> (logits [batch, pos, vocab] on CPU, raw records)."""
        src = tgt = None
        if sources is not None:
            src = self._pad(sources, min(self.max_len, max(pad_source_to, max(map(len, sources)))))
        if targets is not None:
            tgt = self._pad(targets, min(self.max_len, max(pad_target_to, max(map(len, targets)))))
        batch = len(sources if sources is not None else targets)
        records = [] if record else None
        args = self._intervention_args(intervention, batch, src.shape[1] if src is not None else 0)
        if self.architecture == "encoder-only":
            args.pop("tgt_keep")
        logits = self.net(src, tgt, records=records, **args)
        return logits.float().cpu(), records or []

    def _choose(self, logits: torch.Tensor) -> torch.Tensor:
        """Greedy choice among characters and <eos>: padding, <bos>, <unk> and [MASK] are never
        generated, since they would be masked out of, or meaningless in, the next step."""
        tok = self.tokenizer
        banned = [tok.pad_id, tok.bos_id, tok.unk_id, tok.mask_id]
        return logits.index_fill(-1, torch.tensor(banned, device=logits.device), float("-inf")).argmax(-1)

    def _top(self, logits: torch.Tensor) -> list[list[tuple[str, float]]]:
        """Top-5 (token, probability) per row of logits [pos, vocab], in one softmax."""
        values, ids = torch.softmax(logits.float(), dim=-1).topk(TOP_K, dim=-1)
        token = self.tokenizer.token
        return [[(token(i), p) for p, i in zip(row_p, row_i)]
                for row_p, row_i in zip(values.tolist(), ids.tolist())]

    def _records(self, raw: list[RawRecord], batch_index: int, source_labels, target_labels) -> list[AttentionRecord]:
        """Split batched raw records into per-sequence numpy records with token labels."""
        out = []
        for r in raw:
            queries = source_labels if r.kind == "encoder" else target_labels
            keys = target_labels if r.kind == "decoder" else source_labels
            nq, nk = r.stages.weights.shape[-2:]

            def take(tensor):
                return tensor[batch_index].detach().float().cpu().numpy()

            out.append(AttentionRecord(
                kind=r.kind, layer=r.layer,
                query_tokens=list(queries[:nq]), key_tokens=list(keys[:nk]),
                q=take(r.q), k=take(r.k), v=take(r.v),
                scores=take(r.stages.scores), scale=float(r.scale), bias=None,
                allowed=r.allowed[batch_index].cpu().numpy().astype(bool),
                weights=take(r.stages.weights), context=take(r.stages.context)))
        return out

    @staticmethod
    def _labels(tokens: list[str], length: int) -> list[str]:
        return tokens + ["<pad>"] * (length - len(tokens))

    @staticmethod
    def _labels_flags(flags: list[bool], length: int) -> list[bool]:
        return flags + [False] * (length - len(flags))

    def _special_flags(self, ids: list[int], length: int) -> list[bool]:
        """True for <bos>, <eos> and padding: tokens the model adds, not the text's own."""
        tok = self.tokenizer
        special = {tok.pad_id, tok.bos_id, tok.eos_id}
        return [i in special for i in ids] + [True] * (length - len(ids))

    # ---- greedy decoding ------------------------------------------------------------------

    @torch.inference_mode()
    def greedy(self, texts: Sequence[str], max_new_tokens: Optional[int] = None,
               intervention: Intervention = NO_INTERVENTION) -> list[list[int]]:
        """Greedy continuation ids for a batch of texts (no records): the decoder is rerun on
        the whole prefix each step, exactly the computation that trace() records."""
        if self.architecture == "encoder-only":
            raise ValueError("an encoder-only model does not generate")
        eos = self.tokenizer.eos_id
        if self.architecture == "encoder-decoder":
            sources = [self._source(t)[0].ids for t in texts]
            src = self._pad(sources, max(map(len, sources)))
            args = self._intervention_args(intervention, len(texts), src.shape[1])
            memory = self.net.encode(src, None, args["src_keep"], args["heads_off"])
            prefixes = [[self.tokenizer.bos_id] for _ in texts]
            limit = self.max_len - 1
        else:
            src = memory = None
            args = self._intervention_args(intervention, len(texts), 0)
            prefixes = [list(self._decoder_input(self.tokenizer.encode(t), self.max_len - 1)[0].ids) for t in texts]
            limit = self.max_len - max(map(len, prefixes))
        if max_new_tokens is not None:
            limit = min(limit, max_new_tokens)
        generated = [[] for _ in texts]
        done = [False] * len(texts)
        for _ in range(max(0, limit)):
            lengths = [len(p) for p in prefixes]
            tgt = self._pad(prefixes, max(lengths))
            hidden = self.net.decode(tgt, memory, src, None, **args)
            last = hidden[torch.arange(len(texts)), torch.tensor(lengths, device=self.device) - 1]
            next_ids = self._choose(self.net.output(last)).tolist()
            for i, token_id in enumerate(next_ids):
                if done[i]:
                    continue
                prefixes[i].append(token_id)
                generated[i].append(token_id)
                # An encoder-decoder stops at <eos>; a decoder-only model runs to the limit.
                if self.architecture == "encoder-decoder" and token_id == eos:
                    done[i] = True
            if all(done):
                break
        return generated

    def generate(self, text: str, max_new_tokens: Optional[int] = None,
                 intervention: Intervention = NO_INTERVENTION) -> str:
        self._check_text(text)
        return self.tokenizer.decode(self.greedy([text], max_new_tokens, intervention)[0])

    # ---- tracing --------------------------------------------------------------------------

    def trace(self, text: str, target: Optional[str] = None, max_new_tokens: int = 0,
              pad_to: int = 0, intervention: Intervention = NO_INTERVENTION) -> Trace:
        """Every attention record of one input (see the README for what each architecture does)."""
        return self.trace_batch([text], None if target is None else [target],
                                max_new_tokens=max_new_tokens, pad_to=pad_to, intervention=intervention)[0]

    def trace_batch(self, texts: Sequence[str], targets: Optional[Sequence[Optional[str]]] = None,
                    max_new_tokens: int = 0, pad_to: int = 0,
                    intervention: Intervention = NO_INTERVENTION) -> list[Trace]:
        """Traces of several inputs run as one padded batch: each record keeps the padding
        positions, so the padding mask is visible. pad_to pads further, as a longer batch would."""
        for text in texts:
            self._check_text(text)
        targets = list(targets) if targets is not None else [None] * len(texts)
        tok = self.tokenizer
        arch = self.architecture
        sources: list[Encoded] = []
        decoder: list[Encoded] = []
        cuts, generated_from = [], []
        if arch == "encoder-decoder":
            missing = [i for i, t in enumerate(targets) if t is None]
            limit = max_new_tokens if max_new_tokens > 0 else None
            generated = dict(zip(missing, self.greedy([texts[i] for i in missing], limit, intervention))) if missing else {}
            for i, (text, target) in enumerate(zip(texts, targets)):
                source, cut = self._source(text)
                given = tok.encode(target) if i not in generated else self._from_ids(generated[i])
                dec, target_cut = self._decoder_input(given, self.max_len - 1)
                sources.append(source); decoder.append(dec); cuts.append(cut + target_cut)
                generated_from.append(1 if i in generated and len(dec.ids) > 1 else None)
        elif arch == "decoder-only":
            continuations = self.greedy(texts, max_new_tokens, intervention) if max_new_tokens > 0 else [[] for _ in texts]
            for text, continuation in zip(texts, continuations):
                prompt, cut = self._decoder_input(tok.encode(text), self.max_len - 1)
                new = self._from_ids(continuation)
                decoder.append(Encoded(prompt.ids + new.ids, prompt.tokens + new.tokens,
                                       prompt.unknown + new.unknown))
                cuts.append(cut)
                generated_from.append(len(prompt.ids) if new.ids else None)
        else:
            for text in texts:
                source, cut = self._source(text)
                sources.append(source); cuts.append(cut); generated_from.append(None)

        logits, raw = self._run([e.ids for e in sources] or None, [e.ids for e in decoder] or None,
                                record=True,
                                pad_source_to=pad_to if arch != "decoder-only" else 0,
                                pad_target_to=pad_to if arch == "decoder-only" else 0,
                                intervention=intervention)
        n_src = raw[0].stages.weights.shape[-1] if sources else 0   # raw[0] is an encoder record
        n_tgt = logits.shape[1] if decoder else 0
        traces = []
        for b, text in enumerate(texts):
            src = sources[b] if sources else Encoded([], [], [])
            dec = decoder[b] if decoder else Encoded([], [], [])
            src_labels, tgt_labels = self._labels(src.tokens, n_src), self._labels(dec.tokens, n_tgt)
            predictions = self._top(logits[b, :len(dec.ids) if decoder else len(src.ids)])
            if arch == "encoder-decoder":
                output = tok.decode(dec.ids[1:])
            elif arch == "decoder-only":
                output = tok.decode(dec.ids[generated_from[b]:]) if generated_from[b] else ""
            else:
                output = "".join(predictions[i][0][0] if label == MASK else label
                                 for i, label in enumerate(src.tokens))
            traces.append(Trace(
                model_name=self.name, architecture=arch,
                records=self._records(raw, b, src_labels, tgt_labels),
                encoder_tokens=src_labels, decoder_tokens=tgt_labels,
                output_text=output, predictions=predictions, truncated=cuts[b],
                text=text, target=targets[b], generated_from=generated_from[b],
                encoder_unknown=self._labels_flags(src.unknown, n_src),
                decoder_unknown=self._labels_flags(dec.unknown, n_tgt),
                encoder_special=self._special_flags(src.ids, n_src),
                decoder_special=self._special_flags(dec.ids, n_tgt)))
        return traces

    def generate_steps(self, text: str, max_new_tokens: int = 20,
                       intervention: Intervention = NO_INTERVENTION) -> list[GenerationStep]:
        """Greedy generation one token at a time, with the records of each step's pass."""
        self._check_text(text)
        if self.architecture == "encoder-only":
            raise ValueError("an encoder-only model does not generate")
        tok = self.tokenizer
        if self.architecture == "encoder-decoder":
            source, _ = self._source(text)
            src_ids, src_labels = source.ids, source.tokens
            prefix, labels = [tok.bos_id], ["<bos>"]
            room = self.max_len - 1
        else:
            src_ids, src_labels = None, []
            prompt, _ = self._decoder_input(tok.encode(text), self.max_len - 1)
            prefix, labels = list(prompt.ids), list(prompt.tokens)
            room = self.max_len - len(prefix)
        steps = []
        for index in range(min(max_new_tokens, room)):
            logits, raw = self._run([src_ids] if src_ids else None, [prefix], record=True,
                                    intervention=intervention)
            top = self._top(logits[0, -1:])[0]
            token_id = int(self._choose(logits[0, -1]))
            records = [r for r in self._records(raw, 0, src_labels, labels) if r.kind != "encoder"]
            steps.append(GenerationStep(index, tok.token(token_id), token_id, top, records))
            prefix = prefix + [token_id]
            labels = labels + [tok.token(token_id)]
            if self.architecture == "encoder-decoder" and token_id == tok.eos_id:
                break
        return steps
