"""The one traced model: text in, Trace out, for every backend.

    m = model.load("toy-seq2seq")            # a Runner over the built-in backend
    m.trace("reverse: hello")                # Trace: every attention record of one input
    m.trace_batch([...], pad_to=16)          # several inputs as one padded batch
    m.generate("reverse: hello")             # greedy text
    m.generate_steps("reverse: hello")       # one GenerationStep (with records) per token

A backend (model/backends/) knows its tokenizer and its network; the runner knows everything
else: which positions are given, generated or cut, padding, greedy choice, the top-5, the
output text, and how batched recorder calls become per-sequence records. What differs between
architectures is asked of the Architecture (model/trace.py), never of its name.
"""
from __future__ import annotations

from typing import Optional, Protocol, Sequence

import torch

from . import recording
from .tokens import Tokens
from .trace import NO_INTERVENTION, Architecture, GenerationStep, Intervention, Trace

TOP_K = 5


def resolve_device(device: str = "auto") -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Backend(Protocol):
    """What the runner needs of a model family (model/backends/builtin.py, hf.py)."""

    name: str
    arch: Architecture
    device: torch.device
    net: torch.nn.Module
    tokenizer: object
    config: object              # n_layers, n_heads, d_model, d_head, max_len, ...
    n_layers: int
    n_heads: int
    max_len: int                # tokens per sequence, special tokens included
    pad_id: int                 # fills the ids past a sequence's end (masked by the attention masks)
    start_id: int               # the decoder's first input (<bos>; </s> for BART, <pad> for T5)
    eos_ids: frozenset          # any of these ends generation
    banned_ids: tuple           # never chosen by greedy decoding
    n_choosable: int            # ids at or past this are not real tokens (padded embedding rows)
    generation_limit: Optional[int]  # default cap on new tokens when none is given
    site_of: object             # (module) -> (kind, layer) for the recorder, or None

    def source(self, text: str) -> tuple[Tokens, int]: ...          # encoder input, tokens cut
    def prompt(self, text: str) -> tuple[Tokens, int]: ...          # decoder-only input, tokens cut
    def decoder_input(self, target: str) -> tuple[Tokens, int]: ...  # start + target (teacher forcing)
    def tokens(self, ids: Sequence[int]) -> Tokens: ...             # labels for generated ids
    def label(self, token_id: int) -> str: ...
    def text_of(self, ids: Sequence[int]) -> str: ...               # generated ids -> output text
    def filled_text(self, tokens: Tokens, best_ids: Sequence[int]) -> str: ...   # [MASK]s filled
    def forward(self, encoder_ids, decoder_ids, encoder_real=None, decoder_real=None, memory=None): ...
    def run_encoder(self, encoder_ids, encoder_real=None): ...


def _padded(values: list, length: int, fill) -> list:
    return values + [fill] * (length - len(values))


class Runner:
    """A model with its backend: trace, trace_batch, generate, generate_steps."""

    def __init__(self, backend: Backend, snapshot: str = "final"):
        self.backend = backend
        self.snapshot = snapshot

    # ---- what the app asks about a model ----------------------------------------------------

    name = property(lambda self: self.backend.name)
    device = property(lambda self: self.backend.device)
    net = property(lambda self: self.backend.net)
    tokenizer = property(lambda self: self.backend.tokenizer)
    config = property(lambda self: self.backend.config)
    arch = property(lambda self: self.backend.arch)
    n_layers = property(lambda self: self.backend.n_layers)
    n_heads = property(lambda self: self.backend.n_heads)
    max_len = property(lambda self: self.backend.max_len)

    @property
    def architecture(self) -> str:
        return self.arch.name

    def __repr__(self) -> str:
        return f"Runner({self.name!r}, {self.backend!r}, snapshot={self.snapshot!r}, device={self.device})"

    # ---- running the network ----------------------------------------------------------------

    @staticmethod
    def _check_text(text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValueError("Please type some text: the input is empty.")

    def _pad(self, rows: Sequence[list[int]], length: int = 0) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """Rows right-padded to max(length, longest row) (at most max_len) -> ids and real [batch, pos],
        real None when nothing is padded (every position real: the common case, one tensor fewer)."""
        length = min(self.max_len, max(length, max(map(len, rows))))
        ids = torch.tensor([row + [self.backend.pad_id] * (length - len(row)) for row in rows], dtype=torch.long,
                           device=self.device)
        if all(len(row) >= length for row in rows):
            return ids, None
        real = torch.tensor([[True] * len(row) + [False] * (length - len(row)) for row in rows], device=self.device)
        return ids, real

    def _recording(self, record: bool, intervention: Intervention, encoder_real=None, decoder_real=None):
        # Only padded streams need their padding queries masked (docs/ARCHITECTURE.md, "Padding");
        # the Recorder drops the streams whose queries are all real.
        return recording.recording(record, intervention, {"encoder": encoder_real, "decoder": decoder_real},
                                   self.backend.site_of)

    # inference_mode, not no_grad: it skips autograd's version counters, which for these small
    # per-op-bound models made greedy generation ~20 % faster here.
    @torch.inference_mode()
    def _forward(self, encoder_rows, decoder_rows, record: bool, pad_encoder_to: int = 0, pad_decoder_to: int = 0,
                 intervention: Intervention = NO_INTERVENTION):
        """One batched pass -> (logits [batch, pos, vocab] on CPU or None, calls, encoder length, decoder length)."""
        enc_ids = enc_real = dec_ids = dec_real = None
        if encoder_rows:
            enc_ids, enc_real = self._pad(encoder_rows, pad_encoder_to)
        if decoder_rows:
            dec_ids, dec_real = self._pad(decoder_rows, pad_decoder_to)
        with self._recording(record, intervention, enc_real, dec_real) as recorder:
            logits = self.backend.forward(enc_ids, dec_ids, enc_real, dec_real)
        n_enc = 0 if enc_ids is None else enc_ids.shape[1]
        n_dec = 0 if dec_ids is None else dec_ids.shape[1]
        return (None if logits is None else logits.float().cpu()), recorder.calls, n_enc, n_dec

    def _choose(self, logits: torch.Tensor) -> torch.Tensor:
        """Greedy choice, never a banned id nor one the tokenizer cannot spell."""
        logits = logits.clone()
        logits[..., list(self.backend.banned_ids)] = float("-inf")
        logits[..., self.backend.n_choosable:] = float("-inf")
        return logits.argmax(-1)

    def _top(self, logits: torch.Tensor) -> list[list[tuple[str, float]]]:
        """Top-5 (token, probability) per row of logits [pos, vocab], in one softmax."""
        values, ids = torch.softmax(logits.float(), dim=-1).topk(min(TOP_K, logits.shape[-1]), dim=-1)
        label = self.backend.label
        return [[(label(i), p) for p, i in zip(row_p, row_i)] for row_p, row_i in zip(values.tolist(), ids.tolist())]

    def _without_end(self, ids: Sequence[int]) -> Tokens:
        """Generated ids as tokens, without the final end token."""
        return self.backend.tokens([int(i) for i in ids if i not in self.backend.eos_ids])

    # ---- greedy decoding --------------------------------------------------------------------

    @torch.inference_mode()
    def greedy(self, texts: Sequence[str], max_new_tokens: Optional[int] = None,
               intervention: Intervention = NO_INTERVENTION) -> list[list[int]]:
        """Greedy continuation ids (ending at the end token if chosen) for a batch of texts: the
        decoder is rerun on the whole prefix each step, exactly the computation that trace()
        records. max_new_tokens=None: until the end token, max_len or the backend's limit."""
        if not self.arch.generates:
            raise ValueError("an encoder-only model does not generate")
        backend = self.backend
        enc_ids = enc_real = memory = None
        if self.arch.has_encoder:
            enc_ids, enc_real = self._pad([backend.source(t)[0].ids for t in texts])
            with self._recording(False, intervention, enc_real):
                memory = backend.run_encoder(enc_ids, enc_real)
            prefixes = [[backend.start_id] for _ in texts]
            limit = self.max_len - 1
        else:
            prefixes = [backend.prompt(t)[0].ids for t in texts]
            limit = self.max_len - max(map(len, prefixes))
        cap = backend.generation_limit if max_new_tokens is None else max_new_tokens
        limit = limit if cap is None else min(limit, cap)
        generated: list[list[int]] = [[] for _ in texts]
        done = [False] * len(texts)
        for _ in range(max(0, limit)):
            dec_ids, dec_real = self._pad(prefixes)
            with self._recording(False, intervention, enc_real, dec_real):
                logits = backend.forward(enc_ids, dec_ids, enc_real, dec_real, memory=memory)  # [batch, pos, vocab]
            last = torch.tensor([len(p) - 1 for p in prefixes], device=logits.device)
            next_ids = self._choose(logits[torch.arange(len(texts), device=logits.device), last]).tolist()
            for i, token_id in enumerate(next_ids):
                if done[i]:
                    continue
                prefixes[i].append(token_id)
                generated[i].append(token_id)
                done[i] = token_id in backend.eos_ids
            if all(done):
                break
        return generated

    def generate(self, text: str, max_new_tokens: Optional[int] = None,
                 intervention: Intervention = NO_INTERVENTION) -> str:
        self._check_text(text)
        return self.backend.text_of(self.greedy([text], max_new_tokens, intervention)[0])

    # ---- tracing ----------------------------------------------------------------------------

    def trace(self, text: str, target: Optional[str] = None, max_new_tokens: int = 0,
              pad_to: int = 0, intervention: Intervention = NO_INTERVENTION) -> Trace:
        """Every attention record of one input.

        encoder-decoder: the text is the encoder's input; the decoder reads `target` (teacher
        forcing) or, with none, the model's own greedy output. decoder-only: the text, continued
        by max_new_tokens greedy tokens. encoder-only: the text ([MASK]s are filled in the output).
        pad_to pads the input as a longer batch would, so the padding mask shows."""
        return self.trace_batch([text], None if target is None else [target],
                                max_new_tokens=max_new_tokens, pad_to=pad_to, intervention=intervention)[0]

    def _inputs(self, texts, targets, max_new_tokens, intervention):
        """(encoder inputs, decoder inputs, tokens cut, first generated position) per text."""
        backend = self.backend
        encoders: list[Tokens] = []
        decoders: list[Tokens] = []
        cuts, generated_from = [], []
        if self.arch.has_cross:
            missing = [i for i, t in enumerate(targets) if t is None]
            limit = max_new_tokens if max_new_tokens > 0 else None
            generated = dict(zip(missing, self.greedy([texts[i] for i in missing], limit, intervention))) if missing else {}
            for i, (text, target) in enumerate(zip(texts, targets)):
                source, cut = backend.source(text)
                if i in generated:
                    decoder, target_cut = backend.tokens([backend.start_id]) + self._without_end(generated[i]), 0
                else:
                    decoder, target_cut = backend.decoder_input(target)
                encoders.append(source); decoders.append(decoder); cuts.append(cut + target_cut)
                generated_from.append(1 if i in generated and len(decoder) > 1 else None)
        elif self.arch.has_decoder:
            continuations = (self.greedy(texts, max_new_tokens, intervention) if max_new_tokens > 0
                             else [[] for _ in texts])
            for text, continuation in zip(texts, continuations):
                prompt, cut = backend.prompt(text)
                new = self._without_end(continuation)
                decoders.append(prompt + new); cuts.append(cut)
                generated_from.append(len(prompt) if len(new) else None)
        else:
            for text in texts:
                source, cut = backend.source(text)
                encoders.append(source); cuts.append(cut); generated_from.append(None)
        return encoders, decoders, cuts, generated_from

    def _output_text(self, source: Tokens, decoder: Tokens, generated_from, logits) -> str:
        if self.arch.has_cross:
            return self.backend.text_of(decoder.ids[1:])
        if self.arch.has_decoder:
            return self.backend.text_of(decoder.ids[generated_from:]) if generated_from else ""
        if logits is None:
            return ""   # a bare encoder (no masked-LM head) predicts nothing
        return self.backend.filled_text(source, logits[: len(source)].argmax(-1).tolist())

    def trace_batch(self, texts: Sequence[str], targets: Optional[Sequence[Optional[str]]] = None,
                    max_new_tokens: int = 0, pad_to: int = 0,
                    intervention: Intervention = NO_INTERVENTION) -> list[Trace]:
        """Traces of several inputs run as one right-padded batch: each record keeps the padding
        positions, so the padding mask is visible. pad_to pads further, as a longer batch would."""
        for text in texts:
            self._check_text(text)
        targets = list(targets) if targets is not None else [None] * len(texts)
        encoders, decoders, cuts, generated_from = self._inputs(texts, targets, max_new_tokens, intervention)
        pads_decoder = not self.arch.has_encoder   # pad_to pads the model's input: the decoder's for a GPT
        logits, calls, n_enc, n_dec = self._forward(
            [e.ids for e in encoders], [d.ids for d in decoders], record=True,
            pad_encoder_to=0 if pads_decoder else pad_to, pad_decoder_to=pad_to if pads_decoder else 0,
            intervention=intervention)
        traces = []
        for b, text in enumerate(texts):
            source = encoders[b] if encoders else Tokens()
            decoder = decoders[b] if decoders else Tokens()
            encoder_labels = _padded(source.labels, n_enc, "<pad>")
            decoder_labels = _padded(decoder.labels, n_dec, "<pad>")
            predicted = decoder if decoders else source
            predictions = [] if logits is None else self._top(logits[b, :len(predicted)])
            records = [call.record(b, encoder_labels if call.kind == "encoder" else decoder_labels,
                                   decoder_labels if call.kind == "decoder" else encoder_labels) for call in calls]
            traces.append(Trace(
                model_name=self.name, architecture=self.architecture, records=records,
                encoder_tokens=encoder_labels, decoder_tokens=decoder_labels,
                output_text=self._output_text(source, decoder, generated_from[b], None if logits is None else logits[b]),
                predictions=predictions, truncated=cuts[b], text=text, target=targets[b],
                generated_from=generated_from[b],
                encoder_unknown=_padded(source.unknown, n_enc, False),
                decoder_unknown=_padded(decoder.unknown, n_dec, False),
                encoder_special=_padded(source.special, n_enc, True),
                decoder_special=_padded(decoder.special, n_dec, True)))
        return traces

    def generate_steps(self, text: str, max_new_tokens: int = 20,
                       intervention: Intervention = NO_INTERVENTION) -> list[GenerationStep]:
        """Greedy generation one token at a time, with the records of each step's pass."""
        self._check_text(text)
        if not self.arch.generates:
            raise ValueError("an encoder-only model does not generate")
        backend = self.backend
        if self.arch.has_encoder:
            source, _ = backend.source(text)
            prefix = backend.tokens([backend.start_id])
            room = self.max_len - 1
        else:
            source = None
            prefix, _ = backend.prompt(text)
            room = self.max_len - len(prefix)
        steps = []
        for index in range(min(max_new_tokens, room)):
            logits, calls, _, _ = self._forward([source.ids] if source else None, [prefix.ids], record=True,
                                                intervention=intervention)
            top = self._top(logits[0, -1:])[0]
            token_id = int(self._choose(logits[0, -1]))
            labels = source.labels if source else []
            records = [call.record(0, prefix.labels, prefix.labels if call.kind == "decoder" else labels)
                       for call in calls if call.kind != "encoder"]
            steps.append(GenerationStep(index, backend.label(token_id), token_id, top, records))
            prefix = prefix + backend.tokens([token_id])
            if token_id in backend.eos_ids:
                break
        return steps
