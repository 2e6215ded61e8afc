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
    sources = None
    if m.architecture != "decoder-only":
        sources = [m._source(text)[0].ids]
    targets = None
    if m.architecture != "encoder-only":
        targets = [[m.tokenizer.bos_id] + m.tokenizer.ids(target if target is not None else text)]

    def forward():
        with torch.no_grad():
            m._run(sources, targets, record=False)

    plain = _median_seconds(forward, repeats)
    traced = _median_seconds(lambda: m.trace(text, target=target), repeats)
    result = {"model": name, "tokens": len(trace.source_tokens) + len(trace.target_tokens),
              "forward_ms": plain * 1e3, "trace_ms": traced * 1e3, "ratio": traced / plain}
    if m.architecture == "encoder-decoder":
        result["trace_with_generation_ms"] = _median_seconds(lambda: m.trace(text), max(5, repeats // 5)) * 1e3
    return result


def main(repeats: int = 50) -> list[dict]:
    rows = [measure(name, repeats) for name in model.available()]
    print(f"trace() vs the same forward pass without recording ({torch.get_num_threads()} threads, "
          f"device {model.load(rows[0]['model']).device}; median of {repeats})")
    for r in rows:
        extra = f"   trace with greedy generation {r['trace_with_generation_ms']:.1f} ms" if "trace_with_generation_ms" in r else ""
        print(f"  {r['model']:12s} {r['tokens']:3d} tokens  forward {r['forward_ms']:6.2f} ms  "
              f"trace {r['trace_ms']:6.2f} ms  ratio {r['ratio']:.2f}x{extra}")
    return rows
