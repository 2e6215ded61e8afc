"""Hosted mode (ATTENTION_EXPLORER_HOSTED=1, on in the Docker image): what a public server allows.

A hosted app serves strangers, so what they can make it load and hold is bounded:
- models: the built-in ones plus an allowlist (ATTENTION_EXPLORER_ALLOWLIST, comma-separated,
  "minilm" by default); no local paths, no downloads;
- input: at most MAX_INPUT_CHARS characters of text and of target (longer input is cut, with a
  note saying how much); generation at most MAX_NEW_TOKENS tokens;
- memory: at most TRACE_CACHE_ENTRIES traces and STEPS_CACHE_ENTRIES step-throughs cached, and
  at most CONCURRENT_RUNS model runs at once (each run's intermediate tensors are transient
  memory the caches do not count).

Read once, at import, from the environment: a server's settings do not change while it runs.
No Streamlit and no torch here, so tests and the other modules can ask it anything.
"""
from __future__ import annotations

import os
import threading
from contextlib import nullcontext
from typing import Sequence

from model.catalog import BUILTIN_NAMES

from .i18n import register

HOSTED_ENV = "ATTENTION_EXPLORER_HOSTED"
ALLOWLIST_ENV = "ATTENTION_EXPLORER_ALLOWLIST"
DEFAULT_ALLOWLIST = ("minilm",)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


HOSTED = _flag(HOSTED_ENV)
# Characters of text and of target. Hosted: the URL's own bound (ui/state.MAX_TEXT_CHARS), far
# beyond any model here (the toy models read 64-129 tokens, MiniLM 512). Locally a pasted
# document may be longer, but a bound still keeps a 10 MB paste from reaching the tokenizer.
MAX_INPUT_CHARS = 2000 if HOSTED else 20_000
# Greedy generation steps (each reruns the whole prefix and keeps its records). Locally: unbounded
# here, the model's max_len bounds it.
MAX_NEW_TOKENS = 64 if HOSTED else None
# st.cache_resource max_entries. A trace of the toy models is 1.5-2.5 MB at full length, of
# MiniLM at 512 tokens about 170 MB (6 layers x 12 heads x 512^2 float32 scores and weights):
# hosted, 8 of those bound the trace cache at about 1.4 GB.
TRACE_CACHE_ENTRIES = 8 if HOSTED else 64
STEPS_CACHE_ENTRIES = 8 if HOSTED else 32
# Model runs at once; a hosted replica usually has a core or two, and a waiting run costs no memory.
CONCURRENT_RUNS = max(1, int(os.environ.get("ATTENTION_EXPLORER_CONCURRENT_RUNS", "2")))
_RUNS = threading.BoundedSemaphore(CONCURRENT_RUNS)


def allowlist() -> tuple[str, ...]:
    """Models beyond the built-in ones that a hosted server may load (ATTENTION_EXPLORER_ALLOWLIST)."""
    raw = os.environ.get(ALLOWLIST_ENV)
    if raw is None:
        return DEFAULT_ALLOWLIST
    return tuple(dict.fromkeys(name.strip() for name in raw.split(",") if name.strip()))


def allowed_models(available: Sequence[str]) -> list[str]:
    """The models this server offers: all that are available locally; hosted, the available
    built-in ones and the allowlisted ones (in allowlist order), nothing else."""
    if not HOSTED:
        return list(available)
    names = allowlist()
    return [n for n in available if n in BUILTIN_NAMES] + [n for n in names if n in available]


def allows_local_paths() -> bool:
    """May a user load a model from a folder path on the server? Never when hosted."""
    return not HOSTED


def allows_downloads() -> bool:
    """May a user make the server download a model? Never when hosted."""
    return not HOSTED


APP_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def public_error(message) -> str:
    """A load error as a visitor may read it: hosted, the server's own directories are left out
    (assets/toy-gpt/final.safetensors, not /home/user/app/assets/...); locally, unchanged."""
    text = str(message)
    if HOSTED:
        text = text.replace(APP_ROOT + os.sep, "").replace(APP_ROOT, ".")
        text = text.replace(os.path.expanduser("~") + os.sep, "~" + os.sep)
    return text


def clip(text, limit: int | None = None) -> tuple[str, int]:
    """(text cut to `limit` characters, how many were cut). Also makes the text valid Unicode:
    a lone surrogate (which no browser sends, but a crafted message can) would fail later when
    Streamlit encodes it as UTF-8, so it becomes U+FFFD here."""
    limit = MAX_INPUT_CHARS if limit is None else limit
    text = "" if text is None else str(text)
    cut = max(0, len(text) - limit)
    text = text[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text, cut


def bounded_new_tokens(requested: int) -> int:
    """Generation steps actually run: the request, capped when hosted."""
    requested = max(0, int(requested))
    return requested if MAX_NEW_TOKENS is None else min(requested, MAX_NEW_TOKENS)


def model_slot():
    """Context manager around one model run: at most CONCURRENT_RUNS at once when hosted."""
    return _RUNS if HOSTED else nullcontext()


register("en", {
    "msg.input_cut": ("The {field} had {total} characters; only the first {limit} are used "
                      "({cut} were cut). Shorten it to see all of it."),
    "msg.input_cut.text": "text",
    "msg.input_cut.target": "target",
    "msg.cuda_oom": ("The GPU ran out of memory for this input; it was computed on the CPU instead "
                     "(slower, same numbers)."),
})
register("zh", {
    "msg.input_cut": "{field}共有 {total} 个字符；只使用前 {limit} 个（截去了 {cut} 个）。缩短后即可看到全部。",
    "msg.input_cut.text": "文本",
    "msg.input_cut.target": "目标",
    "msg.cuda_oom": "GPU 内存不足，无法处理此输入；已改在 CPU 上计算（较慢，结果相同）。",
})
