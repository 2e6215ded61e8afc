"""Hostile input on every page, in hosted mode (what a public server gets): text typed into the
boxes, text and other values arriving in a link, and matrix cells on the worked example. Nothing
may raise or end in the generic error; input that is cut or refused says so.

Cost: each input runs the app once or twice (0.05-1 s). Typed inputs share one session per
page and model, as a visitor typing one thing after another would; linked inputs open a new
session each, as a shared link does. Every page sees every kind of input.
"""
from __future__ import annotations

import importlib
import unicodedata

import pytest
from streamlit.testing.v1 import AppTest

from ui import hosting
from ui.i18n import translator
from ui.state import MAX_TEXT_CHARS, PAGES
from tests import ROOT
from tests.apptest import pictures

pytestmark = pytest.mark.slow

APP = str(ROOT / "app.py")
TIMEOUT = 180
MODELS = ("toy-seq2seq", "toy-gpt", "toy-bert")
# Intervene draws nothing until something is switched off.
HEADS_OFF = {"toy-seq2seq": "cross.1.2", "toy-gpt": "decoder.0.1", "toy-bert": "encoder.2.3"}


# ---- the inputs --------------------------------------------------------------------------------

def sample(start: int, count: int = 12, step: int = 1) -> str:
    """`count` code points of a block from `start`, skipping surrogates (no UTF-8 can carry them)."""
    return "".join(chr(c) for c in range(start, start + count * step, step) if not 0xD800 <= c <= 0xDFFF)


UNICODE_BLOCKS = {   # block name -> first code point sampled
    "Latin-1 Supplement": 0xC0, "Latin Extended-A": 0x100, "Latin Extended-B": 0x180, "IPA Extensions": 0x250,
    "Spacing Modifier Letters": 0x2B0, "Combining Diacritical Marks": 0x300, "Greek and Coptic": 0x391,
    "Cyrillic": 0x410, "Armenian": 0x531, "Hebrew": 0x5D0, "Arabic": 0x627, "Syriac": 0x710, "Thaana": 0x780,
    "NKo": 0x7CA, "Samaritan": 0x800, "Devanagari": 0x905, "Bengali": 0x985, "Gurmukhi": 0xA05,
    "Gujarati": 0xA85, "Oriya": 0xB05, "Tamil": 0xB85, "Telugu": 0xC05, "Kannada": 0xC85, "Malayalam": 0xD05,
    "Sinhala": 0xD85, "Thai": 0xE01, "Lao": 0xE81, "Tibetan": 0xF40, "Myanmar": 0x1000, "Georgian": 0x10D0,
    "Hangul Jamo": 0x1100, "Ethiopic": 0x1200, "Cherokee": 0x13A0, "Canadian Syllabics": 0x1401,
    "Ogham": 0x1680, "Runic": 0x16A0, "Tagalog": 0x1700, "Khmer": 0x1780, "Mongolian": 0x1820,
    "Limbu": 0x1900, "Tai Le": 0x1950, "Buginese": 0x1A00, "Balinese": 0x1B05, "Sundanese": 0x1B83,
    "Lepcha": 0x1C00, "Ol Chiki": 0x1C5A, "Vedic Extensions": 0x1CD0, "Phonetic Extensions": 0x1D00,
    "Latin Extended Additional": 0x1E00, "Greek Extended": 0x1F00, "General Punctuation": 0x2010,
    "Superscripts and Subscripts": 0x2070, "Currency Symbols": 0x20A0, "Combining Marks for Symbols": 0x20D0,
    "Letterlike Symbols": 0x2100, "Number Forms": 0x2150, "Arrows": 0x2190, "Mathematical Operators": 0x2200,
    "Miscellaneous Technical": 0x2300, "Control Pictures": 0x2400, "Optical Character Recognition": 0x2440,
    "Enclosed Alphanumerics": 0x2460, "Box Drawing": 0x2500, "Block Elements": 0x2580,
    "Geometric Shapes": 0x25A0, "Miscellaneous Symbols": 0x2600, "Dingbats": 0x2701, "Braille": 0x2800,
    "Glagolitic": 0x2C00, "Tifinagh": 0x2D30, "CJK Radicals Supplement": 0x2E80, "Kangxi Radicals": 0x2F00,
    "CJK Symbols and Punctuation": 0x3000, "Hiragana": 0x3041, "Katakana": 0x30A1, "Bopomofo": 0x3105,
    "Hangul Compatibility Jamo": 0x3131, "Kanbun": 0x3190, "CJK Extension A": 0x3400,
    "CJK Unified Ideographs": 0x4E00, "Yi Syllables": 0xA000, "Vai": 0xA500, "Hangul Syllables": 0xAC00,
    "Private Use Area": 0xE000, "CJK Compatibility Ideographs": 0xF900, "Alphabetic Presentation Forms": 0xFB1D,
    "Arabic Presentation Forms-A": 0xFB50, "Variation Selectors": 0xFE00, "Vertical Forms": 0xFE10,
    "Combining Half Marks": 0xFE20, "Arabic Presentation Forms-B": 0xFE70, "Halfwidth and Fullwidth Forms": 0xFF01,
    "Specials": 0xFFF0, "Linear B Syllabary": 0x10000, "Gothic": 0x10330, "Deseret": 0x10400,
    "Cuneiform": 0x12000, "Egyptian Hieroglyphs": 0x13000, "Musical Symbols": 0x1D100,
    "Mathematical Alphanumeric Symbols": 0x1D400, "Mahjong Tiles": 0x1F000, "Playing Cards": 0x1F0A1,
    "Miscellaneous Symbols and Pictographs": 0x1F300, "Emoticons": 0x1F600, "Transport and Map Symbols": 0x1F680,
    "Supplemental Symbols and Pictographs": 0x1F900, "CJK Extension B": 0x20000, "CJK Extension G": 0x30000,
    "Tags": 0xE0020, "Supplementary Private Use Area-A": 0xF0000, "Supplementary Private Use Area-B": 0x10FFF0,
}

NAMED = {
    # empty and whitespace only
    "empty": "", "space": " ", "spaces": " " * 40, "tab": "\t", "newline": "\n", "crlf": "\r\n" * 5,
    "mixed whitespace": " \t\n\r\x0b\x0c ", "nbsp": "\u00a0", "ideographic space": "\u3000" * 3,
    "line separator": "\u2028\u2029", "em and thin spaces": "\u2003\u2009\u200a\u205f",
    # Chinese and other CJK prose
    "chinese": "注意力机制让模型在处理每个词时关注输入中的其他词。",
    "chinese with latin": "reverse: 你好, world 世界!", "japanese": "吾輩は猫である。名前はまだ無い。",
    "korean": "안녕하세요 세계", "traditional chinese": "自注意力與多頭注意力",
    # right to left
    "hebrew": "שלום עולם", "arabic": "مرحبا بالعالم", "persian": "سلام دنیا", "urdu": "ہیلو دنیا",
    "rtl and ltr": "abc שלום def مرحبا 123", "rlo override": "abc\u202edcba\u202c", "bidi isolates":
    "x\u2067مرحبا\u2069y\u2066abc\u2069", "rlm lrm": "\u200fabc\u200e", "arabic digits": "١٢٣٤٥",
    # zero-width and invisible
    "zwsp": "\u200b", "zwsp inside": "a\u200bb\u200bc", "zwj zwnj": "a\u200d\u200cb", "word joiner": "a\u2060b",
    "bom": "\ufeffhello", "soft hyphen": "hy\u00adphen", "invisible times": "a\u2062b\u2064c",
    "only invisible": "\u200b\u200c\u200d\u2060\ufeff", "hangul filler": "\u3164\u115f",
    "mongolian vowel separator": "\u180e",
    # combining characters
    "e acute decomposed": "cafe\u0301", "combining alone": "\u0301\u0302\u0303", "zalgo": "z\u0336\u0353\u0361a\u0337\u0354l\u0338g\u0339o\u0340" * 4,
    "many marks": "a" + "\u0300\u0301\u0302\u0303\u0304" * 40, "devanagari conjunct": "क्षत्रिय",
    "thai tone marks": "ก่้๊๋", "hangul jamo composing": "\u1100\u1161\u11a8",
    "normalisation pair": unicodedata.normalize("NFD", "Ångström ǅ ﬁ"),
    # emoji sequences
    "emoji": "😀😃😄😁", "zwj family": "👨‍👩‍👧‍👦", "skin tones": "👍🏻👍🏼👍🏽👍🏾👍🏿", "flags": "🇨🇳🇺🇸🇮🇱🇸🇦",
    "keycaps": "1️⃣#️⃣*️⃣", "rainbow flag": "🏳️‍🌈", "tag sequence flag": "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
    "emoji with text": "I ❤️ attention 🤖", "variation selector 16": "☺\ufe0f♥\ufe0e",
    # control characters and NUL
    "nul": "\x00", "nul inside": "a\x00b\x00c", "c0 controls": "".join(chr(c) for c in range(32)),
    "del and c1": "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0)), "ansi escapes": "\x1b[31mred\x1b[0m\x1b]0;title\x07",
    "backspaces": "abc\b\b\bxyz", "bell and form feed": "\x07\x0c\x0b", "only nul": "\x00" * 20,
    "noncharacters": "\ufffe\uffff\U0010ffff\U0001fffe", "replacement char": "\ufffd\ufffd",
    # markup and script
    "script tag": "<script>alert(1)</script>", "img onerror": '<img src=x onerror="window.__pwned=1">',
    "svg onload": "<svg/onload=alert(1)>", "iframe": "<iframe src=javascript:alert(1)></iframe>",
    "javascript url": "javascript:alert(document.cookie)", "style tag": "<style>*{display:none}</style>",
    "html comment": "<!-- x --><b>bold</b>", "entities": "&lt;script&gt;&amp;&quot;&#x3C;&#60;",
    "markdown link": "[click](javascript:alert(1))", "markdown image": "![x](http://127.0.0.1:1/x.png)",
    "markdown emphasis": "**bold** _it_ `code` # heading", "latex": r"$$\href{javascript:alert(1)}{x}$$",
    "latex inline": r"$x^2$ \(y\)", "template": "{{7*7}} ${7*7} <%= 7*7 %>", "format string": "{0} {} {text} %s %n %x",
    "braces only": "{", "plotly tags": '<a href="javascript:alert(1)">x</a><br><sup>up</sup>',
    "attribute break": "\" onmouseover=\"alert(1)\" x=\"", "closing tags": "</div></body></html>",
    "polyglot": "jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk=alert() )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/</scRipt/--!>\\x3csVg/<sVg/oNloAd=alert()//>\\x3e",
    # SQL and shell
    "sql or": "' OR 1=1 --", "sql drop": "'; DROP TABLE users; --", "sql union": "1 UNION SELECT password FROM users",
    "sql quote": "\" OR \"\"=\"", "shell subst": "$(rm -rf /)", "shell backticks": "`reboot`",
    "shell chain": "; cat /etc/passwd && curl http://127.0.0.1:1 | sh", "path traversal": "../../../../etc/passwd",
    "windows path": "C:\\Windows\\System32\\cmd.exe", "percent encoded": "%00%2e%2e%2f%3Cscript%3E",
    "null byte path": "file.txt\x00.png", "url": "http://127.0.0.1:8501/?page=admin&model=../../etc",
    # the models' own special tokens and formats
    "special tokens": "<bos><eos><pad><unk>", "mask tokens": "[MASK][MASK][MASK]", "bert specials": "[CLS] x [SEP]",
    "gpt specials": "<|endoftext|></s><s>", "broken mask": "[MASK [MAS] MASK]", "task prefix only": "reverse:",
    "task prefixes": "copy: sort: swap: reverse:", "json": '{"__proto__": {"x": 1}, "constructor": null}',
    "numbers": "NaN inf -0 1e308 0x10", "long number": "9" * 300,
    # long, one of each kind
    "long line": "the cat sat on the mat. " * 100, "long word": "a" * 1999, "newlines": "\n" * 500 + "x",
}

WORST = {   # every page gets these
    "100,000 characters": "abc def " * 12_500,
    "100,000 Chinese": "注意力" * 33_334,
    "100,000 whitespace": " \t\n" * 33_334,
    "100,000 NUL and controls": "".join(chr(c % 32) for c in range(100_000)),
    "50,000 emoji": "👨‍👩‍👧‍👦" * 7_143,
    "100,000 combining": "e" + "\u0301" * 99_999,
    "script, RTL, zero-width": "<script>alert(1)</script>\u202e\u200bمرحبا\u200d👍🏽",
}


def hostile_texts() -> list[tuple[str, str]]:
    block_texts = [(f"block {name}", sample(start)) for name, start in UNICODE_BLOCKS.items()]
    return list(NAMED.items()) + block_texts


TEXTS = hostile_texts()

# Malformed query parameters: (params, a note is expected). Values are strings as a URL carries them.
MALFORMED = [
    ({"page": "admin"}, True), ({"page": ""}, True), ({"page": "EXPLORE"}, True), ({"page": "explore\x00"}, True),
    ({"page": "../../etc/passwd"}, True), ({"page": "<script>alert(1)</script>"}, True),
    ({"model": "/etc/passwd"}, True), ({"model": "../assets/toy-gpt"}, True), ({"model": "TOY-GPT"}, True),
    ({"model": "bert-base-uncased"}, True), ({"model": "minilm\x00"}, True), ({"model": ""}, True),
    ({"model": "http://127.0.0.1:1/model"}, True),
    ({"layer": "-1"}, True), ({"layer": "1e9"}, True), ({"layer": "abc"}, True), ({"layer": ""}, True),
    ({"layer": "9" * 5000}, True), ({"layer": "1.5"}, True), ({"layer": "0x1"}, True), ({"layer": "١"}, False),
    ({"head": "MEAN"}, True), ({"head": "-0"}, False), ({"head": "99"}, False), ({"head": "²"}, True),
    ({"head": "mean\x00"}, True), ({"kind": "cross", "model": "toy-bert"}, False), ({"kind": "self"}, True),
    ({"stage": "<script>alert(1)</script>"}, True), ({"stage": "weights; DROP TABLE"}, True),
    ({"lang": "zh-CN"}, True), ({"lang": "../../"}, True), ({"snapshot": "latest"}, True),
    ({"pad_to": "-5"}, True), ({"pad_to": "100000"}, True), ({"pad_to": "3.5"}, True), ({"pad_to": "4096"}, False),
    ({"query": "99999"}, True), ({"key": "4096"}, False), ({"query": "nan"}, True),
    ({"heads_off": "decoder.².0"}, True), ({"heads_off": "decoder." + "9" * 5000 + ".0"}, True),
    ({"heads_off": ",,,,"}, False), ({"heads_off": "x" * 10_000}, True), ({"heads_off": "cross.0.0," * 2000}, False),
    ({"heads_off": "decoder.1"}, True), ({"heads_off": "<img src=x onerror=alert(1)>"}, True),
    ({"lecture": "maybe"}, False), ({"lecture": "1" * 10_000}, False), ({"hide_special": "\x00"}, False),
    ({"text": "a" * (MAX_TEXT_CHARS + 1)}, True), ({"text": "注" * 50_000}, True),
    ({"target": "b" * 10_000, "model": "toy-seq2seq"}, True), ({"text": "\x00" * 3000}, True),
    ({"unknown_param": "<script>", "x" * 100: "y"}, False),
    ({"page": "anatomy", "query": "4000", "key": "4000"}, False),
    ({"page": "intervene", "heads_off": "decoder.99.99,encoder.0.99"}, False),
]


# ---- running them ------------------------------------------------------------------------------

@pytest.fixture(scope="module", autouse=True)
def hosted():
    """The whole module runs in hosted mode, as the Docker image does (ui/hosting reads it at import)."""
    patch = pytest.MonkeyPatch()
    patch.setenv(hosting.HOSTED_ENV, "1")
    importlib.reload(hosting)
    assert hosting.HOSTED and hosting.MAX_INPUT_CHARS == MAX_TEXT_CHARS
    yield
    patch.undo()
    importlib.reload(hosting)


def start(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def link(page: str, name: str) -> dict:
    params = {"page": page, "model": name}
    if page == "intervene":
        params["heads_off"] = HEADS_OFF[name]
    return params


def problems(at, label: str) -> list[str]:
    """What went wrong in this run: exceptions, or the generic error that hides one."""
    out = [f"{label}: exception {e.message[:300]}" for e in at.exception]
    out += [f"{label}: error {e.value[:300]}" for e in at.error]
    return out


def check_text_run(at, page: str, name: str, text: str, label: str, via_link: bool) -> list[str]:
    """No exception; a cut or empty input says so; otherwise the page draws its charts."""
    found = problems(at, label)
    if page == "worked-example":
        return found + ([] if pictures(at) else [f"{label}: the worked example drew nothing"])
    warnings = " ".join(w.value for w in at.warning)
    if len(text) > hosting.MAX_INPUT_CHARS:
        if via_link:
            if f"kept the first {MAX_TEXT_CHARS}" not in " ".join(c.value for c in at.code):
                found.append(f"{label}: no note that the link's text was cut")
        elif str(len(text) - hosting.MAX_INPUT_CHARS) not in warnings:
            found.append(f"{label}: no note saying how much was cut: {warnings[:200]!r}")
    used = hosting.clip(text)[0]
    if not used.strip():
        if not any(i.value in EMPTY_MESSAGES for i in at.info):
            found.append(f"{label}: empty input without the 'type some text' message")
    elif not (page == "generation" and name == "toy-bert") and not pictures(at):
        found.append(f"{label}: no picture for a non-empty input")
    return found


def type_into(at, name: str, text: str) -> AppTest:
    at.text_input(key="w.text").set_value(text)
    if name == "toy-seq2seq":          # the target box takes the same input (teacher forcing)
        at.text_input(key="w.target").set_value(text[::-1])
    return at.run()


def edit_cell(at, text: str) -> AppTest:
    """The worked example's own input: a matrix cell (numbers only), here given the hostile text."""
    key = next(de.key for de in at.data_editor if ".X." in de.key or de.key.endswith(".X"))
    at.session_state[key] = {"edited_rows": {0: {"1": text}}, "added_rows": [], "deleted_rows": []}
    return at.run()


def is_allowed_number(text: str) -> bool:
    """Would the worked example take this cell as a number?"""
    from ui.pages.worked_example import LIMIT
    try:
        value = float(text)
    except ValueError:
        return False
    return abs(value) <= LIMIT


EMPTY_MESSAGES = {translator(lang)("msg.empty") for lang in ("en", "zh")}
CASES = [(page, name) for page in PAGES for name in MODELS]


def share(index: int) -> list[tuple[str, str]]:
    """This (page, model) pair's share of the texts: every 18th, so every pair gets all kinds."""
    return TEXTS[index::len(CASES)]


def test_there_are_at_least_200_hostile_inputs():
    assert len(TEXTS) + len(MALFORMED) + len(WORST) >= 200, (len(TEXTS), len(MALFORMED), len(WORST))
    # every page sees the texts typed (its own field) and linked, on every built-in model
    assert all(share(i) for i in range(len(CASES)))


@pytest.mark.parametrize("page,name", CASES)
def test_typed_input(page, name):
    """One session per page and model; each text typed in turn (the worked example: into a cell)."""
    index = CASES.index((page, name))
    at = start(**link(page, name))
    found = problems(at, "start")
    for label, text in share(index):
        if page == "worked-example":
            at = edit_cell(at, text)
            found += problems(at, label)
            if not at.warning and not is_allowed_number(text):
                found.append(f"{label}: a non-number in a matrix cell gave no message")
            at = edit_cell(at, "0.5")   # corrected: the example comes back
            found += check_text_run(at, page, name, text, f"{label} (corrected)", via_link=False)
        else:
            at = type_into(at, name, text)
            found += check_text_run(at, page, name, text, label, via_link=False)
            if at.text_input(key="w.text").value != text:     # the input really went in, unchanged
                found.append(f"{label}: the text box does not hold the typed text")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page,name", CASES)
def test_linked_input(page, name):
    """The same texts arriving in a shared link, each opening a new session (the next pair's share,
    so a text seen typed on one page arrives linked on another)."""
    index = CASES.index((page, name))
    found = []
    for label, text in share((index + 1) % len(CASES)):
        params = link(page, name) | {"text": text}
        if index % 2:                  # half the links also hide special tokens and pad the batch
            params |= {"hide_special": "1", "pad_to": "40"}
        if name == "toy-seq2seq":
            params["target"] = text[::-1]
        at = start(**params)
        found += check_text_run(at, page, name, text, label, via_link=True)
        if page != "worked-example" and at.text_input(key="w.text").value != text[:MAX_TEXT_CHARS]:
            found.append(f"{label}: the text box does not hold the linked text")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("number", range(len(MALFORMED)))
def test_malformed_query_parameters(number):
    """Each malformed link on a page in rotation: no exception, a note where a value was refused."""
    params, note_expected = MALFORMED[number]
    page = params.get("page") if params.get("page") in PAGES else PAGES[number % len(PAGES)]
    name = params.get("model") if params.get("model") in MODELS else MODELS[number % len(MODELS)]
    query = link(page, name) | params
    at = start(**query)
    found = problems(at, repr(params)[:80])
    if note_expected and not any("could not be used" in w.value for w in at.warning):
        found.append(f"{repr(params)[:80]}: refused without a note")
    assert not found, "\n".join(found)


@pytest.mark.parametrize("page", PAGES)
def test_worst_inputs_on_every_page(page):
    """The largest and strangest inputs, typed on every page (one session per page)."""
    name = "toy-seq2seq" if page in ("generation", "worked-example") else MODELS[PAGES.index(page) % len(MODELS)]
    # every other page in Chinese: the notes' translations take the same values
    at = start(**link(page, name) | ({"lang": "zh"} if PAGES.index(page) % 2 else {}))
    found = problems(at, "start")
    for label, text in WORST.items():
        if page == "worked-example":
            at = edit_cell(at, text)
            found += problems(at, label)
            at = edit_cell(at, "1")
            found += check_text_run(at, page, name, text, label, via_link=False)
        else:
            at = type_into(at, name, text)
            found += check_text_run(at, page, name, text, label, via_link=False)
    assert not found, "\n".join(found)


def test_worst_inputs_on_minilm():
    """The allowlisted Hugging Face model (hosted default) takes the worst inputs too."""
    import model
    if "minilm" not in model.available():
        pytest.skip("the minilm package is not installed")
    at = start(model="minilm")
    found = problems(at, "start")
    for label, text in list(WORST.items())[:4] + [("script", NAMED["img onerror"]), ("rtl", NAMED["rtl and ltr"])]:
        at = type_into(at, "minilm", text)
        found += check_text_run(at, "explore", "minilm", text, label, via_link=False)
    assert not found, "\n".join(found)


def test_clip_cuts_and_repairs():
    assert hosting.clip("a" * 2500) == ("a" * 2000, 500)
    assert hosting.clip("ok") == ("ok", 0)
    # a lone surrogate cannot come from a browser (its UTF-8 would not decode), but must not crash
    text, cut = hosting.clip("a\ud800b")
    assert cut == 0 and text.encode("utf-8") and text.startswith("a") and text.endswith("b")
    assert hosting.clip(None) == ("", 0)
