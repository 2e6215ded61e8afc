"""viz/text.py: the figures' words in English and Chinese, and every figure function drawing in
Chinese with no English word left in what it shows.

The helpers here (figure_strings, english_words) are what tests/app/test_chart_language.py checks
the pages' figures with: the strings a reader sees in a figure, and the rule for "an English word".
"""
import json
import re
import string


from tests import ROOT
from tests.invariants import hand_record
from viz import text as vt
from viz.labels import VISIBLE, token_label

# ---- what counts as an English word ------------------------------------------------------------

# Formula names that stay as they are in every language (the source text writes them so too:
# softmax, QKᵀ, XW^Q, α_ij, d_head), the authors the rollout cites, and a unit. Nothing else made
# of ASCII letters may appear.
ALLOWED = {"softmax", "QK", "XW", "ij", "d_head", "d_model", "px", "Abnar", "Zuidema"}
MODEL_NAMES = ("toy-seq2seq", "toy-gpt", "toy-bert", "minilm")
# Token text is never translated; these special tokens can appear in any model's labels.
SPECIAL_TOKENS = ("<bos>", "<eos>", "<pad>", "<unk>", "<s>", "</s>", "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]")


def _without_tokens(text: str, tokens) -> str:
    """text with every occurrence of a token (as typed, as a plotly label, with ␣ stand-ins)
    removed where it stands as a word of its own."""
    forms = set()
    for token in set(tokens) | set(SPECIAL_TOKENS):
        forms |= {token, token_label(token), VISIBLE.get(token, token)}
    for form in sorted((f for f in forms if len(f) >= 2), key=len, reverse=True):
        text = re.sub(rf"(?<![A-Za-z]){re.escape(form)}(?![A-Za-z])", " ", text)
    return text


def english_words(text, tokens=()) -> list[str]:
    """The English words in a figure string: runs of ASCII letters (identifiers such as d_head
    count as one) with at least two letters in a row, that are not in ALLOWED, once markup,
    plotly's %{...} placeholders, entities, model names and token text are taken out."""
    text = _without_tokens(str(text), tokens)
    text = re.sub(r"%\{[^}]*\}", " ", text)            # plotly placeholders: %{y}, %{z:.4f}
    text = re.sub(r"<[^>]*>", " ", text)               # markup: <br>, <sub>, <span style=...>
    text = re.sub(r"&[a-z]+;", " ", text)              # &lt; &gt; &amp;
    for name in MODEL_NAMES:
        text = text.replace(name, " ")
    words = re.findall(r"[A-Za-z][A-Za-z0-9_]*", text)
    return [w for w in words if re.search(r"[A-Za-z]{2}", w) and w not in ALLOWED]


# ---- which strings a figure shows ---------------------------------------------------------------

LEGEND_TYPES = ("scatter", "bar")


def _strings(value):
    """Every string in a value (a string, or nested lists of them); numbers and None are skipped."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _text(value):
    """A title-like property's text: a string, or a dict with "text"."""
    return value.get("text") if isinstance(value, dict) else value


def figure_strings(fig: dict) -> list[tuple[str, str]]:
    """(where, text) of every human-readable string in a figure's JSON: title and subtitle, axis
    titles and tick text (and the category names an axis shows when it has no tick text), colour
    bar titles, annotations (subplot titles included), legend names, hover templates and hover
    text, text drawn in cells. Token labels are among them; english_words() takes those out."""
    layout = fig.get("layout", {})
    found = []

    def add(where, value):
        found.extend((where, s) for s in _strings(value) if s.strip())

    title = layout.get("title", {})
    add("title", _text(title))
    if isinstance(title, dict):
        add("subtitle", _text(title.get("subtitle", {})))
    for name, axis in layout.items():
        if name.startswith(("xaxis", "yaxis")) and isinstance(axis, dict):
            add(f"{name}.title", _text(axis.get("title", {})))
            if axis.get("showticklabels", True) and axis.get("visible", True):
                add(f"{name}.ticktext", axis.get("ticktext"))
        if name.startswith("coloraxis") and isinstance(axis, dict):
            add(f"{name}.colorbar", _text(axis.get("colorbar", {}).get("title", {})))
    for annotation in layout.get("annotations", []):
        add("annotation", annotation.get("text"))
    add("legend.title", _text(layout.get("legend", {}).get("title", {})))
    for i, trace in enumerate(fig.get("data", [])):
        where = f"data[{i}]"
        add(f"{where}.colorbar", _text(trace.get("colorbar", {}).get("title", {})))
        template = trace.get("hovertemplate")
        if trace.get("hoverinfo") != "skip":
            add(f"{where}.hovertemplate", template)
            add(f"{where}.hovertext", trace.get("hovertext"))
            if "%{customdata" in "".join(_strings(template)):
                add(f"{where}.customdata", trace.get("customdata"))
        add(f"{where}.text", trace.get("text"))
        add(f"{where}.texttemplate", trace.get("texttemplate"))
        if (trace.get("type", "scatter") in LEGEND_TYPES and trace.get("showlegend", True)
                and layout.get("showlegend", True)):
            add(f"{where}.name", trace.get("name"))
        for letter in ("x", "y"):
            axis = layout.get(f"{letter}axis{trace.get(f'{letter}axis', letter)[1:]}", {})
            # Category names show as ticks where the axis does not name its own tick text.
            if (not axis.get("ticktext") and axis.get("tickmode") != "array" and axis.get("visible", True)
                    and axis.get("showticklabels", True)):
                add(f"{where}.{letter}", trace.get(letter))
    return found


def english_in(fig: dict, tokens=()) -> list[tuple[str, str, list[str]]]:
    """(where, text, its English words) for every figure string that has any."""
    return [(where, text, words) for where, text in figure_strings(fig) if (words := english_words(text, tokens))]


# ---- the rule itself -----------------------------------------------------------------------------

def test_the_english_word_rule():
    assert english_words("head 0") == ["head"]
    assert english_words("第 0 层 · 头 3 · softmax 注意力权重 α") == []
    assert english_words("QKᵀ：原始分数 q·k") == [] and english_words("（= 1/√32，即 ÷√d_k）") == []
    assert english_words("d_head 的第 d 个分量") == [] and english_words("Σ|Δα| 1e-06 0.1768 n/a") == []
    assert english_words("查询 %{y}<br>键 %{x}<br>权重 %{z:.6g}<extra></extra>") == []
    assert english_words('<span style="color:#d55e00"><i>x</i><sup>?</sup></span>: 不在词表中，被读作 &lt;unk&gt;') == []
    assert english_words("query %{y}") == ["query"] and english_words("every 2nd label") == ["every", "nd", "label"]
    # token text is not translated: the tokens of the input are taken out, words among them too
    assert english_words("第 0 步：模型选择 cat", tokens=["cat"]) == []
    assert english_words("&lt;bos&gt; 与 [CLS]") == []
    assert english_words("step 0: cat", tokens=["cat"]) == ["step"]


def test_figure_strings_find_every_kind_of_text():
    fig = {"layout": {"title": {"text": "T", "subtitle": {"text": "S"}},
                      "xaxis": {"title": {"text": "X"}, "ticktext": ["a", "b"], "tickmode": "array"},
                      "yaxis": {"title": "Y"}, "coloraxis": {"colorbar": {"title": {"text": "C"}}},
                      "annotations": [{"text": "A"}]},
           "data": [{"type": "heatmap", "y": ["row one", "row two"], "x": ["(0)", "(1)"],
                     "hovertemplate": "H %{customdata}", "customdata": [["D"]], "text": [["t"]],
                     "colorbar": {"title": {"text": "B"}}},
                    {"type": "scatter", "name": "legend name", "hoverinfo": "skip", "hovertemplate": "hidden"}]}
    texts = {text for _, text in figure_strings(fig)}
    assert {"T", "S", "X", "a", "b", "Y", "C", "A", "row one", "row two", "H %{customdata}", "D", "t", "B",
            "legend name"} <= texts
    # a skipped hover is never seen; categories are hidden behind an axis's own tick text
    assert "hidden" not in texts and "(0)" not in texts


# ---- the tables ----------------------------------------------------------------------------------

def _fields(text: str) -> set[str]:
    """The values a string asks for; the English ordinal ({nth}) is {n} in other languages."""
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    return {"n" if name == "nth" else name for name in names}


def test_english_and_chinese_have_the_same_keys_and_values():
    assert set(vt.EN) == set(vt.ZH)
    assert all(key.startswith("fig.") for key in vt.EN)
    for key in vt.EN:
        assert _fields(vt.EN[key]) == _fields(vt.ZH[key]), key
        assert vt.ZH[key].strip(), key


def test_chinese_figure_text_has_no_english_word():
    for key, text in vt.ZH.items():
        shown = re.sub(r"\{[^}]*\}", " ", text)           # {layer}: a value, filled in
        assert not english_words(shown), (key, text, english_words(shown))


def test_the_app_has_one_table_with_the_figures_words():
    from ui import i18n
    for lang, table in (("en", vt.EN), ("zh", vt.ZH)):
        t = i18n.translator(lang)
        for key, text in table.items():
            assert i18n.TEXTS[lang][key] == text
        assert t("fig.layer", layer=3) == vt.translator(lang)("fig.layer", layer=3)
    assert i18n.translator("zh")("fig.layer", layer=3) == "第 3 层"


def test_viz_imports_neither_ui_nor_streamlit():
    for path in sorted((ROOT / "viz").glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"^\s*(import|from)\s+(streamlit|ui)\b", source, re.M), path.name


def test_ordinals_are_english():
    assert [vt.ordinal(n) for n in (1, 2, 3, 4, 5, 10, 11, 12, 13, 21, 22, 23, 101, 111, 112)] == \
        ["1st", "2nd", "3rd", "4th", "5th", "10th", "11th", "12th", "13th", "21st", "22nd", "23rd", "101st",
         "111th", "112th"]


# ---- every figure function, in Chinese ---------------------------------------------------------

ZH = vt.translator("zh")
CHARS = list("reverse: hello world, the cat sat on the mat. ") * 3        # a character model's tokens
WORDS = [f"w{i}ord" for i in range(150)]                                   # a word-piece model's


def _figures():
    """(name, figure, tokens) of every figure viz draws, on hand-made records that reach the
    branches the pages may not: masks, padding, unknown tokens, position bias, long inputs."""
    from model.trace import GenerationStep
    from viz import aggregate_figures as agg, anatomy, generation as gen, intervene, worked
    from model.worked_example import worked_example

    causal = hand_record(kind="decoder", causal=True, n_heads=3, query_tokens=list("abcde"), bias=True, pad_rows=(4,))
    cross = hand_record(kind="cross", n_heads=2, query_tokens=["<bos>", "a", "b"], key_tokens=list("xyz"))
    encoder = hand_record(kind="encoder", n_heads=2, query_tokens=list("abcd"))
    long_chars = hand_record(kind="encoder", n_heads=1, d_head=2, query_tokens=CHARS)
    layers = [hand_record(kind="encoder", layer=i, seed=i, query_tokens=list("abcd")) for i in range(4)]
    shifted = [hand_record(kind="encoder", layer=i, seed=i + 10, query_tokens=list("abcd")) for i in range(4)]
    step = GenerationStep(index=2, token="c", token_id=3, top=[("c", 0.6), ("d", 0.3)],
                          records=[hand_record(kind="decoder", causal=True, query_tokens=list("ab"), layer=0),
                                   hand_record(kind="cross", query_tokens=list("ab"), key_tokens=list("xyz"), layer=0)])
    ex = worked_example(0, causal=True, n_heads=2)
    titles = worked.panel_titles(ZH)
    yield "agg.entropy", agg.entropy_figure(layers, t=ZH)
    yield "agg.distance", agg.distance_figure([cross], t=ZH)
    yield "anatomy.qkv.long", anatomy.qkv_figure(long_chars, 0, t=ZH)
    for record in (causal, encoder):
        yield "anatomy.qkv", anatomy.qkv_figure(record, 0, 1, 2, t=ZH)
        yield "anatomy.headview", anatomy.head_view_figure(record, [0, 1], t=ZH)
    yield "gen.step", gen.step_prediction_figure(step, t=ZH)
    yield "gen.teacher", gen.teacher_forcing_figure(list("<ab"), list("abc"), [[("a", 0.9)], [("x", 0.5)], [("c", 1.0)]], t=ZH)
    yield "int.summary", intervene.change_summary_figure(layers, shifted, [("encoder", 0, 1)], t=ZH)
    yield "worked.qkv", worked.panels_figure(worked.projection_panels(ex, titles), t=ZH)
    yield "worked.attention", worked.panels_figure(worked.attention_panels(ex["heads"][0], True, titles), t=ZH)
    yield "worked.output", worked.panels_figure(worked.output_panels(ex, titles), t=ZH)


TOKENS = set(CHARS) | set(WORDS) | set("abcdexyz") | {"<bos>"}


def test_every_figure_drawn_in_chinese_shows_no_english_word():
    found = []
    for name, fig in _figures():
        spec = json.loads(fig.to_json())
        found += [(name, where, text, words) for where, text, words in english_in(spec, TOKENS)]
    assert not found, "\n".join(f"{n} {w}: {t!r} -> {words}" for n, w, t, words in found)


def test_english_stays_the_default_and_the_same_figure():
    """t defaults to English: a figure drawn without t is the one drawn with English's t."""
    from viz import aggregate_figures as agg
    records = [hand_record(kind="decoder", causal=True)]
    assert agg.entropy_figure(records).to_json() == agg.entropy_figure(records, t=vt.translator("en")).to_json()
    assert agg.entropy_figure(records).layout.title.text.startswith("decoder attention")
