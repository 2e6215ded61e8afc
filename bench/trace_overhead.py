"""What recording costs: trace() against the same forward pass without records.

Both sides run the same tokens through the same network; trace() adds the records (moved to the
CPU as float32 numpy, one per sequence), the top-5 predictions and the Trace itself.
"""
from __future__ import annotations

import statistics
import time

import torch

import model

TEXTS = {  # 24 characters of input each
    "toy-seq2seq": ("reverse: abcdefghijklmno", "onmlkjihgfedcba"),
    "toy-gpt": ("The function returns a v", None),
    "toy-bert": ("the c[MASK]t sat on the mat"[:24], None),
}


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first calls pay for allocation and kernel selection
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, repeats: int = 50) -> dict:
    m = model.load(name)
    text, target = TEXTS[name]
    trace = m.trace(text, target=target)
    backend = m.backend
    encoder = [backend.source(text)[0].ids] if m.arch.has_encoder else None
    decoder = None
    if m.arch.has_decoder:
        decoder = [(backend.decoder_input(target) if m.arch.has_encoder else backend.prompt(text))[0].ids]

    def forward():
        # The network alone, no recorder: padded ids in, logits on the CPU out.
        with torch.inference_mode():
            enc_ids, enc_real = m._pad(encoder) if encoder else (None, None)
            dec_ids, dec_real = m._pad(decoder) if decoder else (None, None)
            backend.forward(enc_ids, dec_ids, enc_real, dec_real).float().cpu()

    plain = _median_seconds(forward, repeats)
    traced = _median_seconds(lambda: m.trace(text, target=target), repeats)
    result = {"model": name, "tokens": len(trace.encoder_tokens) + len(trace.decoder_tokens),
              "forward_ms": plain * 1e3, "trace_ms": traced * 1e3, "ratio": traced / plain}
    if m.architecture == "encoder-decoder":
        result["trace_with_generation_ms"] = _median_seconds(lambda: m.trace(text), max(5, repeats // 5)) * 1e3
    return result


def measure_hf(name: str = "minilm", tokens=(64, 128, 512), repeats: int = 20) -> list[dict]:
    """trace() of a Hugging Face model against its own eager forward pass with
    output_attentions=True (what BertViz and the others run): interleaved pairs, so that load
    from other processes hits both alike."""
    import transformers
    m = model.load(name)
    eager = transformers.AutoModel.from_pretrained(m.backend.folder, attn_implementation="eager").eval()
    words = "the cat sat on the mat and the dog ran in the park".split()
    rows = []
    for n in tokens:
        text = " ".join((words * 100)[: n - 2])
        inputs = m.backend.inputs_for(text)
        if inputs["input_ids"].shape[1] != n:
            raise RuntimeError(f"expected {n} tokens, got {inputs['input_ids'].shape[1]}")

        def forward():
            with torch.inference_mode():
                eager(**inputs, output_attentions=True)

        pairs = []
        forward()
        m.trace(text)   # warm-up
        for _ in range(repeats):
            pairs.append((_timed(forward), _timed(lambda: m.trace(text))))
        plain = statistics.median(a for a, _ in pairs)
        traced = statistics.median(b for _, b in pairs)
        rows.append({"model": name, "tokens": n, "forward_ms": plain * 1e3, "trace_ms": traced * 1e3,
                     "ratio": traced / plain})
    return rows


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(repeats: int = 50) -> list[dict]:
    rows = [measure(name, repeats) for name in model.available() if name in model.BUILTIN_NAMES]
    print(f"trace() vs the same forward pass without recording ({torch.get_num_threads()} threads, "
          f"device {model.load(rows[0]['model']).device}; median of {repeats})")
    for r in rows:
        extra = f"   trace with greedy generation {r['trace_with_generation_ms']:.1f} ms" if "trace_with_generation_ms" in r else ""
        print(f"  {r['model']:12s} {r['tokens']:3d} tokens  forward {r['forward_ms']:6.2f} ms  "
              f"trace {r['trace_ms']:6.2f} ms  ratio {r['ratio']:.2f}x{extra}")
    if "minilm" in model.available():
        hf_rows = measure_hf()
        print("trace() vs transformers' eager forward with output_attentions=True (interleaved; median of 20)")
        for r in hf_rows:
            print(f"  {r['model']:12s} {r['tokens']:3d} tokens  eager {r['forward_ms']:7.2f} ms  "
                  f"trace {r['trace_ms']:7.2f} ms  ratio {r['ratio']:.2f}x")
        rows += hf_rows
    return rows
