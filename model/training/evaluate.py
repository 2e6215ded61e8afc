"""How well the built-in models do their tasks, on held-out data drawn at call time from a seed.

train.py writes these numbers into each model's card; the tests recompute them and assert the
thresholds, so a card can never claim more than the weights deliver.
"""
from __future__ import annotations

import random

import numpy as np
import torch

from .tasks import (INDUCTION_ALPHABET, TASKS, corpus_split, random_task_input)

EVAL_SEED = 20261129


def seq2seq_exact_match(model, task: str, n: int = 500, seed: int = EVAL_SEED, batch: int = 250) -> float:
    """Share of n held-out inputs whose greedy output equals the task's answer exactly."""
    rng = random.Random(f"{seed}-{task}")
    inputs = [random_task_input(rng, "heldout") for _ in range(n)]
    correct = 0
    for start in range(0, n, batch):
        chunk = inputs[start:start + batch]
        outputs = model.greedy([f"{task}: {s}" for s in chunk])
        correct += sum(model.tokenizer.decode(ids) == TASKS[task](s) for ids, s in zip(outputs, chunk))
    return correct / n


def reverse_alignment(model, n: int = 200, seed: int = EVAL_SEED) -> np.ndarray:
    """[layer, head]: share of the output characters of `reverse:` whose row of cross-attention
    puts its largest weight on the mirrored source character.

    The row of an output character is the decoder position that predicts it: output character
    i (= s[L-1-i]) is chosen from the logits of decoder position i (position 0 is <bos>), so the
    cross-attention row that produced it is row i; the mirrored source character sits at source
    position len("reverse: ") + L-1-i. This is the row the Generation page shows for step i.
    A head that does this draws the anti-diagonal of the reverse task, one row above the row
    labelled with the character itself.
    """
    rng = random.Random(f"{seed}-alignment")
    inputs = [random_task_input(rng, "heldout") for _ in range(n)]
    offset = len("reverse: ")
    hits = np.zeros((model.n_layers, model.n_heads))
    total = 0
    for start in range(0, n, 100):
        chunk = inputs[start:start + 100]
        traces = model.trace_batch([f"reverse: {s}" for s in chunk], [s[::-1] for s in chunk])
        for s, trace in zip(chunk, traces):
            L = len(s)
            output_index = np.arange(L)
            rows = output_index
            mirrored = offset + L - 1 - output_index
            for layer in range(model.n_layers):
                weights = trace.get("cross", layer).weights[:, rows, :]   # [head, L, k_pos]
                hits[layer] += (weights.argmax(-1) == mirrored[None]).sum(-1)
            total += L
    return hits / total


def induction_scores(model, n: int = 100, length: int = 20, seed: int = EVAL_SEED) -> dict:
    """A random `length`-character string typed twice.

    accuracy: share of the second copy (all but its first character, which nothing predicts)
    that the model's top-1 next-token prediction gets right.
    head_scores [layer, head]: mean weight from each position of the second copy to the position
    just after that character's earlier occurrence: the signature of an induction head.
    """
    rng = random.Random(f"{seed}-induction")
    texts = ["".join(rng.choice(INDUCTION_ALPHABET) for _ in range(length)) * 2 for _ in range(n)]
    right = counted = 0
    scores = np.zeros((model.n_layers, model.n_heads))
    for start in range(0, n, 50):
        for text, trace in zip(texts[start:start + 50], model.trace_batch(texts[start:start + 50])):
            # Decoder position c+1 holds text[c] (after <bos>) and predicts text[c+1].
            for c in range(length, 2 * length - 1):
                right += trace.predictions[c + 1][0][0] == text[c + 1]
                counted += 1
            queries = np.arange(length, 2 * length) + 1          # second copy, decoder positions
            keys = queries - length + 1                           # just after the earlier occurrence
            for layer in range(model.n_layers):
                weights = trace.get("decoder", layer).weights     # [head, pos, pos]
                scores[layer] += weights[:, queries, keys].mean(-1)
    return {"accuracy": right / counted, "head_scores": scores / n}


@torch.no_grad()
def masked_accuracy(model, n: int = 300, length: int = 96, mask_share: float = 0.15,
                    seed: int = EVAL_SEED) -> float:
    """Top-1 accuracy on masked characters of held-out corpus windows (each masked by [MASK])."""
    rng = random.Random(f"{seed}-mlm")
    text = corpus_split("heldout")
    tok = model.tokenizer
    right = total = 0
    for start in range(0, n, 100):
        rows, answers = [], []
        for _ in range(min(100, n - start)):
            begin = rng.randrange(0, len(text) - length)
            ids = tok.ids(text[begin:begin + length])
            masked = [i for i in range(length) if rng.random() < mask_share] or [rng.randrange(length)]
            answer = {i: ids[i] for i in masked}
            for i in masked:
                ids[i] = tok.mask_id
            rows.append(ids); answers.append(answer)
        src = torch.tensor(rows, device=model.device)
        predicted = model.net(src).argmax(-1).cpu()
        for b, answer in enumerate(answers):
            right += sum(int(predicted[b, i]) == token for i, token in answer.items())
            total += len(answer)
    return right / total
