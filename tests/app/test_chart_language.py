"""Every chart of every page speaks the interface language: opened in Chinese (lang=zh), no figure
of any page and model shows an English word (the rule and the strings checked: tests/unit/test_viz_text.py).
Token text, numbers and formula names are not translated and are allowed."""
import functools
import re

import pytest

import app
import model
from tests.apptest import assert_clean, canvases, charts, start
from tests.browser.audit import ALLOWED_WORDS
from tests.unit.test_viz_text import english_in, english_words

PAGE_WORDS = {word.lower() for word in ALLOWED_WORDS}

MODELS = [name for name in ("toy-seq2seq", "toy-gpt", "toy-bert", "minilm") if name in model.available()]
PAGES = ("explore", "anatomy", "generation", "worked-example", "aggregates", "intervene")
STAGES = ("scores", "scaled", "biased", "mask", "masked")
TARGET = "dlrow olleh"     # toy-seq2seq's teacher forcing: the decoder reads this


@functools.lru_cache(maxsize=None)
def network(name):
    return model.load(name)


@functools.lru_cache(maxsize=None)
def tokens_of(name) -> frozenset:
    """Every token the app can write for this model's example text: source, target, output, the
    top predictions, and a teacher-forced target's. Token text is never translated."""
    net = network(name)
    new = app.NEW_TOKENS if net.architecture == "decoder-only" else 0
    traces = [net.trace(app.DEFAULT_TEXTS[name], max_new_tokens=new)]
    if net.arch.reads_target:
        traces.append(net.trace(app.DEFAULT_TEXTS[name], TARGET))
    found = set()
    for trace in traces:
        found |= set(trace.encoder_tokens) | set(trace.decoder_tokens)
        found |= {token for candidates in trace.predictions for token, _ in candidates}
    return frozenset(found)


def links(page: str, name: str) -> list[dict]:
    """The views of `page` to open for this model: every kind, every stage, both decoder inputs."""
    net = network(name)
    kinds = list(net.arch.kinds)
    if page == "explore":
        return [dict(kind=k) for k in kinds] + [dict(kind=kinds[0], stage=s, head="mean" if s == "scaled" else 1)
                                                for s in STAGES]
    if page in ("anatomy", "aggregates"):
        return [dict(kind=k) for k in kinds]
    if page == "intervene":
        return [dict(heads_off=f"{k}.0.0,{k}.0.1") for k in kinds]
    if page == "generation" and net.arch.reads_target:
        return [{}, dict(target=TARGET)]
    return [{}]


def follow_ups(at, page: str):
    """Views reached by widgets rather than links, each yielded once it is drawn: teacher forcing
    for a model without a target field, the worked example's causal mask and two heads."""
    if page == "generation":
        radio = next((r for r in at.radio if r.value in ("teacher", "free")), None)
        if radio is not None and radio.value == "free":
            radio.set_value("teacher").run()
            yield "teacher forcing"
    if page == "worked-example":
        for toggle in at.toggle:
            toggle.set_value(True)
        at.run()
        yield "causal, two heads"


def english_on_page(at, view: str, tokens) -> tuple[int, list]:
    """(pictures drawn, (view, picture, where, text, English words) of every string with any):
    every plotly chart's strings, and every attention canvas's (the interface's words it was
    sent, its titles and names; the browser writes nothing else but numbers and tokens)."""
    assert_clean(at)
    drawn = charts(at)
    found = [(view, key, where, text, words) for key, fig in drawn.items()
             for where, text, words in english_in(fig, tokens)]
    mounted = canvases(at)
    for key, (header, _) in mounted.items():
        strings = [(f"text.{name}", value) for name, value in header["text"].items()]
        strings += [("title", header.get("title", ""))] + [("names", n) for n in header.get("names", [])]
        strings += [("values", n) for n in header.get("values", [])]
        # "{layer}" is a slot the browser fills with a number, not a word on the page; the words
        # a page may show in Latin letters (formula names, PNG, Esc) are the lecture audit's
        for where, text in strings:
            words = [w for w in english_words(re.sub(r"\{\w+\}", "", text), tokens)
                     if w.lower() not in PAGE_WORDS]
            if words:
                found.append((view, key, where, text, words))
    return len(drawn) + len(mounted), found


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("name", MODELS)
def test_every_chart_is_in_chinese(name, page):
    tokens = tokens_of(name)
    found, drawn = [], 0
    for link in links(page, name):
        at = start(page=page, model=name, lang="zh", **link)
        n, english = english_on_page(at, str(link), tokens)
        drawn, found = drawn + n, found + english
        for step in follow_ups(at, page):          # each step redraws `at`: checked in turn
            n, english = english_on_page(at, f"{link} + {step}", tokens)
            drawn, found = drawn + n, found + english
    if page != "generation" or network(name).arch.generates:
        assert drawn, "the page drew no chart to check"
    assert not found, "\n".join(f"{view} {key} {where}: {text!r} -> {words}"
                                for view, key, where, text, words in found[:40])
