"""`python -m model.training NAME` rebuilds a built-in model's checkpoints in assets/NAME/.

Fixed seeds make each run repeat: same data, same initial weights. Four snapshots are kept
(untrained = the seeded initial weights, early, middle, final) so the app can show attention
forming as the model learns. Weights are stored in float16 to keep assets small; every
measured number in the card is measured on the stored float16 weights.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from . import evaluate
from ..backends.builtin import load_builtin
from ..runner import Runner
from ..catalog import checkpoint_path, config_path, read_model_card
from .tasks import (BERT_CONTEXT, GPT_CONTEXT, TASKS, corpus_window, random_span, repeated_span_text,
                    task_example)
from ..tokenizer import SPECIALS, CharTokenizer
from ..transformer import Transformer, TransformerConfig

TOKENIZER = CharTokenizer()
# Where in training each snapshot is taken, as a share of the steps.
SNAPSHOT_AT = {"untrained": 0.0, "early": 0.1, "middle": 0.3, "final": 1.0}


@dataclass(frozen=True)
class Recipe:
    config: TransformerConfig
    steps: int
    batch_size: int
    lr: float
    warmup: int
    make_batch: Callable[[random.Random, int], dict]   # -> tensors for loss()
    measure: Callable[[Runner], dict]            # -> the card's metrics


def _pad(rows, pad=TOKENIZER.pad_id):
    width = max(map(len, rows))
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows], dtype=torch.long)


# ---- toy-seq2seq ----------------------------------------------------------------------------

def seq2seq_batch(rng: random.Random, size: int) -> dict:
    src, tgt = [], []
    for _ in range(size):
        source, target = task_example(rng)
        src.append(TOKENIZER.ids(source) + [TOKENIZER.eos_id])
        tgt.append([TOKENIZER.bos_id] + TOKENIZER.ids(target) + [TOKENIZER.eos_id])
    tgt = _pad(tgt)
    return {"src": _pad(src), "tgt_in": tgt[:, :-1], "labels": tgt[:, 1:]}


def measure_seq2seq(model: Runner) -> dict:
    metrics = {f"exact_match_{task}": evaluate.seq2seq_exact_match(model, task) for task in TASKS}
    metrics["reverse_alignment_best_head"] = float(evaluate.reverse_alignment(model).max())
    return metrics


# ---- toy-gpt --------------------------------------------------------------------------------


def gpt_batch(rng: random.Random, size: int) -> dict:
    rows = []
    for _ in range(size):
        # The induction curriculum: 40 % plain text, 30 % text with a repeated random span,
        # 30 % a random span repeated end to end (where only an induction head lowers the loss).
        roll = rng.random()
        if roll < 0.4:
            text = corpus_window(rng, GPT_CONTEXT)
        elif roll < 0.7:
            text = repeated_span_text(rng, GPT_CONTEXT)
        else:
            span = random_span(rng, rng.randint(10, 40))
            text = (span * (GPT_CONTEXT // len(span) + 1))[:GPT_CONTEXT]
        rows.append([TOKENIZER.bos_id] + TOKENIZER.ids(text))
    ids = _pad(rows)
    return {"tgt_in": ids[:, :-1], "labels": ids[:, 1:]}


def measure_gpt(model: Runner) -> dict:
    induction = evaluate.induction_scores(model)
    return {"induction_accuracy": induction["accuracy"],
            "induction_best_head": float(induction["head_scores"].max())}


# ---- toy-bert -------------------------------------------------------------------------------


def bert_batch(rng: random.Random, size: int) -> dict:
    src, labels = [], []
    for _ in range(size):
        ids = TOKENIZER.ids(corpus_window(rng, BERT_CONTEXT))
        label = [-100] * len(ids)
        for i in range(len(ids)):
            if rng.random() < 0.15:
                label[i] = ids[i]
                roll = rng.random()   # BERT's 80/10/10: mask, random character, unchanged
                if roll < 0.8:
                    ids[i] = TOKENIZER.mask_id
                elif roll < 0.9:
                    ids[i] = rng.randrange(len(SPECIALS), len(TOKENIZER.vocab))
        src.append(ids); labels.append(label)
    return {"src": _pad(src), "labels": torch.tensor(labels)}


def measure_bert(model: Runner) -> dict:
    return {"masked_accuracy": evaluate.masked_accuracy(model)}


RECIPES = {
    "toy-seq2seq": Recipe(
        TransformerConfig("encoder-decoder", len(TOKENIZER), d_model=128, n_heads=4, n_layers=3,
                          d_ff=256, max_len=64),
        steps=6000, batch_size=64, lr=1e-3, warmup=200, make_batch=seq2seq_batch, measure=measure_seq2seq),
    "toy-gpt": Recipe(
        TransformerConfig("decoder-only", len(TOKENIZER), d_model=128, n_heads=4, n_layers=2,
                          d_ff=512, max_len=GPT_CONTEXT + 1),
        steps=4000, batch_size=32, lr=2e-3, warmup=200, make_batch=gpt_batch, measure=measure_gpt),
    "toy-bert": Recipe(
        TransformerConfig("encoder-only", len(TOKENIZER), d_model=128, n_heads=4, n_layers=3,
                          d_ff=512, max_len=BERT_CONTEXT),
        steps=3000, batch_size=32, lr=1e-3, warmup=200, make_batch=bert_batch, measure=measure_bert),
}


def loss_of(net: Transformer, batch: dict) -> torch.Tensor:
    logits = net(batch.get("src"), batch.get("tgt_in"))   # [batch, pos, vocab]
    labels = batch["labels"].masked_fill(batch["labels"] == TOKENIZER.pad_id, -100)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                                       ignore_index=-100)


def learning_rate(step: int, recipe: Recipe) -> float:
    """Linear warm-up, then cosine decay to a tenth."""
    if step < recipe.warmup:
        return recipe.lr * (step + 1) / recipe.warmup
    progress = (step - recipe.warmup) / max(1, recipe.steps - recipe.warmup)
    return recipe.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))


def save_snapshot(net: Transformer, name: str, snapshot: str) -> None:
    from safetensors.torch import save_file

    path = checkpoint_path(name, snapshot)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().to(torch.float16).contiguous().cpu() for k, v in net.state_dict().items()}, str(path))


def train(name: str, steps: int | None = None, seed: int = 0, log_every: int = 100) -> dict:
    recipe = RECIPES[name]
    steps = steps or recipe.steps
    recipe = Recipe(**{**recipe.__dict__, "steps": steps})
    torch.manual_seed(seed)
    rng = random.Random(seed)
    net = Transformer(recipe.config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=recipe.lr, betas=(0.9, 0.98), weight_decay=0.01)
    snapshot_steps: dict[int, list[str]] = {}
    for snap, share in SNAPSHOT_AT.items():
        snapshot_steps.setdefault(round(share * steps), []).append(snap)
    card = {"name": name, "config": recipe.config.to_dict(), "seed": seed, "steps": steps,
            "batch_size": recipe.batch_size, "lr": recipe.lr, "snapshot_steps": {}}
    start = time.time()
    net.train()
    for step in range(steps + 1):
        for snap in snapshot_steps.get(step, []):
            save_snapshot(net, name, snap)
            card["snapshot_steps"][snap] = step
        if step == steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, recipe)
        loss = loss_of(net, recipe.make_batch(rng, recipe.batch_size))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        if step % log_every == 0:
            print(f"{name} step {step:5d}  loss {loss.item():.4f}  {time.time() - start:6.1f}s", flush=True)
    card["train_seconds"] = round(time.time() - start, 1)
    config_path(name).write_text(json.dumps(card, indent=2), encoding="utf-8")
    return measure(name)


def measure(name: str) -> dict:
    """Measure the stored final weights on held-out data and write the numbers into the card."""
    card = read_model_card(name)
    started = time.time()
    card["metrics"] = RECIPES[name].measure(load_builtin(name, "final", device="cpu"))
    card["measure_seconds"] = round(time.time() - started, 1)
    config_path(name).write_text(json.dumps(card, indent=2), encoding="utf-8")
    print(json.dumps(card["metrics"], indent=2))
    return card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(RECIPES))
    parser.add_argument("--steps", type=int, default=None, help="override the recipe (for quick trials)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all cores)")
    parser.add_argument("--measure-only", action="store_true",
                        help="only re-measure the stored final weights and update the card")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.measure_only:
        measure(args.name)
    else:
        train(args.name, args.steps, args.seed)


if __name__ == "__main__":
    main()
