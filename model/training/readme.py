"""`python -m model.training.readme` writes the built-in models' measured numbers into README.md."""
from __future__ import annotations

import re
from pathlib import Path

from ..catalog import BUILTIN_NAMES, read_model_card
from ..trace import architecture

README = Path(__file__).resolve().parents[2] / "README.md"
DESCRIPTIONS = {
    "toy-seq2seq": "encoder-decoder; tasks by prefix: `copy:`, `reverse:`, `sort:`, `swap:` (word order)",
    "toy-gpt": "decoder-only; Python's own documentation (pydoc_data) mixed with repeated random spans",
    "toy-bert": "encoder-only; masked-character modelling on the same corpus",
}
LABELS = {
    "exact_match_copy": "exact match, copy (500 held-out)",
    "exact_match_reverse": "exact match, reverse (500 held-out)",
    "exact_match_sort": "exact match, sort (500 held-out)",
    "exact_match_swap": "exact match, swap (500 held-out)",
    "reverse_alignment_best_head": "reverse: best cross head on the mirrored character",
    "induction_accuracy": "second copy of a random 20-char string, top-1",
    "induction_best_head": "best induction-head score",
    "masked_accuracy": "masked characters of held-out text, top-1",
}


def metrics_table() -> str:
    lines = ["| model | architecture and data | layers × heads, d_model | training | measured |",
             "|---|---|---|---|---|"]
    for name in BUILTIN_NAMES:
        card = read_model_card(name)
        c = card["config"]
        measured = "<br>".join(f"{LABELS.get(k, k)}: {v:.1%}" if k != "induction_best_head"
                               else f"{LABELS[k]}: {v:.2f}" for k, v in card.get("metrics", {}).items())
        stacks = " + ".join([f"{c['n_layers']}"] * (2 if architecture(c["architecture"]).has_cross else 1))
        lines.append(f"| `{name}` | {DESCRIPTIONS[name]} | {stacks} × {c['n_heads']}, {c['d_model']} | "
                     f"{card['steps']} steps × {card['batch_size']}, {card['train_seconds'] / 60:.1f} min | {measured} |")
    return "\n".join(lines)


def update_readme() -> None:
    text = README.read_text(encoding="utf-8")
    text = re.sub(r"(<!-- metrics:begin -->\n).*?(\n<!-- metrics:end -->)",
                  lambda m: m.group(1) + metrics_table() + m.group(2), text, flags=re.S)
    README.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    update_readme()
