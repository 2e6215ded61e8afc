"""What a model can read (ui/model_guide.py): facts taken from training and the config, examples
the model does right, and warnings for input it was not trained on."""
import pytest

import model
from model.training import train
from model.training.tasks import MAX_TASK_LEN, TASK_ALPHABET, TASKS, TRAINING_TEXT, task_prefix
from model.tokenizer import CHARACTERS
from ui import model_guide as guide
from ui.i18n import translator
from ui.runs import NEW_TOKENS

EN, ZH = translator("en"), translator("zh")
HAS_MINILM = "minilm" in model.available()


def run(network, text):
    """The trace as the app runs it, and the guide's warnings for it."""
    new_tokens = NEW_TOKENS if network.arch.generates and not network.arch.has_encoder else 0
    trace = network.trace(text, max_new_tokens=new_tokens)
    return trace, guide.input_warnings(guide.reading_of(network), trace, EN, new_tokens)


# ---- the facts come from training and the config ------------------------------------------------

def test_training_facts_are_the_ones_training_uses():
    """TRAINING_TEXT states what train.py's batches are made of, not a copy that may drift."""
    assert TRAINING_TEXT["toy-seq2seq"].alphabet == TASK_ALPHABET
    assert TRAINING_TEXT["toy-seq2seq"].max_chars == MAX_TASK_LEN == 24
    assert TRAINING_TEXT["toy-seq2seq"].tasks == tuple(TASKS) == ("copy", "reverse", "sort", "swap")
    assert TRAINING_TEXT["toy-gpt"].max_chars == train.GPT_CONTEXT
    assert train.RECIPES["toy-gpt"].config.max_len == train.GPT_CONTEXT + 1      # + <bos>
    assert TRAINING_TEXT["toy-bert"].max_chars == train.BERT_CONTEXT == train.RECIPES["toy-bert"].config.max_len
    assert TRAINING_TEXT["toy-gpt"].alphabet == TRAINING_TEXT["toy-bert"].alphabet == CHARACTERS


@pytest.mark.parametrize("name,context,room", [("toy-seq2seq", 64, 63), ("toy-gpt", 129, 128),
                                               ("toy-bert", 128, 128)])
def test_reading_of_a_built_in_model(loaded, name, context, room):
    network = loaded(name)
    reading = guide.reading_of(network)
    assert reading.context == network.config.max_len == context
    assert reading.room == room           # the text's share: <eos> (seq2seq) or <bos> (gpt) take one
    assert reading.training is TRAINING_TEXT[name]
    # the room is real: `room` characters are read whole, one more is cut
    read = network.backend.source if network.arch.has_encoder else network.backend.prompt
    assert read("a" * room)[1] == 0 and read("a" * (room + 1))[1] == 1


@pytest.mark.skipif(not HAS_MINILM, reason="the minilm package is not installed")
def test_reading_of_minilm(loaded):
    reading = guide.reading_of(loaded("minilm"))
    assert reading.training is None and reading.context == 512 and reading.room == 510   # [CLS] ... [SEP]
    line = guide.reads_line(reading, EN)
    assert "not trained here" in line and "510" in line and "30522" in line


def test_the_reads_line_says_tasks_alphabet_and_length(loaded):
    line = guide.reads_line(guide.reading_of(loaded("toy-seq2seq")), EN)
    for task in TASKS:
        assert f"“{task}:”" in line
    assert "lowercase letters a–z, digits 0–9 and space" in line and "24" in line and "63" in line
    zh = guide.reads_line(guide.reading_of(loaded("toy-seq2seq")), ZH)
    assert "小写字母 a–z、数字 0–9和空格" in zh and "63" in zh
    gpt = guide.reads_line(guide.reading_of(loaded("toy-gpt")), EN)
    assert "printable ASCII" in gpt and "128" in gpt


def test_describe_alphabet():
    assert guide.describe_alphabet(TASK_ALPHABET, EN) == "lowercase letters a–z, digits 0–9 and space"
    assert guide.describe_alphabet(CHARACTERS, EN) == ("printable ASCII (English letters, digits, punctuation, "
                                                       "space) and newline")
    assert guide.describe_alphabet("abcdefghijklmnopqrstuvwxyzé", EN) == "lowercase letters a–z and the characters é"


# ---- examples: text the model does right --------------------------------------------------------

def test_toy_seq2seq_examples_cover_every_task_and_are_answered_exactly(loaded):
    network = loaded("toy-seq2seq")
    examples = guide.reading_of(network).examples
    assert {next(t for t in TASKS if e.startswith(task_prefix(t))) for e in examples} == set(TASKS)
    for example in examples:
        task = next(t for t in TASKS if example.startswith(task_prefix(t)))
        trace, warnings = run(network, example)
        assert trace.output_text == TASKS[task](example[len(task_prefix(task)):]), example
        assert warnings == [], example


def test_toy_gpt_examples(loaded):
    network = loaded("toy-gpt")
    examples = guide.reading_of(network).examples
    trace, warnings = run(network, "the span xK7pQ2mZ9w is repeated: xK7pQ2")
    assert "the span xK7pQ2mZ9w is repeated: xK7pQ2" in examples
    assert trace.output_text.startswith("mZ9w") and warnings == []     # the span's rest, copied
    for example in examples:
        assert run(network, example)[1] == []


def test_toy_bert_examples_are_filled_right(loaded):
    originals = {"This m[MASK]thod retu[MASK]ns the val[MASK]e of the attribute.":
                 "This method returns the value of the attribute.",
                 "imp[MASK]rt the m[MASK]dule and call its func[MASK]ion": "import the module and call its function"}
    network = loaded("toy-bert")
    assert set(guide.reading_of(network).examples) == set(originals)
    for example, original in originals.items():
        trace, warnings = run(network, example)
        assert trace.output_text == original and warnings == []


# ---- warnings before the output ------------------------------------------------------------------

def test_toy_seq2seq_capitals_and_length_are_warned_in_typed_order(loaded):
    trace, warnings = run(loaded("toy-seq2seq"), "copy: Attention Is All You Need")
    assert trace.output_text != "Attention Is All You Need"          # what the warnings are about
    assert warnings == [
        "toy-seq2seq was trained on lowercase letters a–z, digits 0–9 and space only; it never saw these "
        "characters: A, I, Y, N",
        "toy-seq2seq was trained on at most 24 characters after the task prefix; this text has 25. Expect mistakes."]


def test_toy_seq2seq_without_a_task_prefix(loaded):
    _, warnings = run(loaded("toy-seq2seq"), "hello world")
    assert len(warnings) == 1 and "expects a task first" in warnings[0]
    assert "“copy:”, “reverse:”, “sort:”, “swap:”" in warnings[0]
    # with a prefix but no space after it: still not a task it knows
    assert any("expects a task first" in w for w in run(loaded("toy-seq2seq"), "reverse:hello")[1])
    assert run(loaded("toy-seq2seq"), "reverse: hello")[1] == []


def test_unknown_characters_are_listed_as_typed_not_sorted(loaded):
    _, warnings = run(loaded("toy-bert"), "注意力 is all")
    assert warnings == ["Not in toy-bert's vocabulary, so it reads each of these as the same unknown token: "
                        "注, 意, 力"]                               # sorted would be 力, 意, 注
    # toy-seq2seq: unknown (not in its vocabulary) is said once, not again as untrained
    _, warnings = run(loaded("toy-seq2seq"), "reverse: 好a你b好")
    assert warnings == ["Not in toy-seq2seq's vocabulary, so it reads each of these as the same unknown token: 好, 你"]


def test_characters_in_a_warning_cannot_become_markdown(loaded):
    assert guide.shown_characters(["*", "_", "$", "[", "\u200b", "\t", "`", "<"]) == (
        "\\*, \\_, \\$, \\[, \\\\u200b, \\\\t, \\`, \\<")
    _, warnings = run(loaded("toy-seq2seq"), "reverse: a*b_c$d")
    assert warnings == ["toy-seq2seq was trained on lowercase letters a–z, digits 0–9 and space only; it never "
                        "saw these characters: \\*, \\_, \\$"]


def test_toy_gpt_says_why_nothing_is_generated(loaded):
    network = loaded("toy-gpt")
    trace, warnings = run(network, "abcdefgh" * 16)                   # 128 characters: the whole context
    assert trace.output_text == ""
    assert warnings == ["The text fills toy-gpt's context (128 characters), so there is no room to continue it: "
                        "nothing is generated. Shorten the text to see a continuation."]
    trace, warnings = run(network, "abcdefgh" * 25)                   # 200: cut, and no room either
    assert trace.truncated == 72 and trace.output_text == ""
    assert warnings[0] == "The input was too long for this model (129 tokens): 72 tokens were cut from the end."
    assert "no room to continue" in warnings[1]
    trace, warnings = run(network, "abcdefgh" * 15)                   # 120: 8 characters of room
    assert len(trace.output_text) == 8
    assert warnings == ["Only 8 more characters fit in toy-gpt's context (128 characters): the continuation stops "
                        "there."]


def test_warnings_are_translated(loaded):
    network = loaded("toy-seq2seq")
    warnings = guide.input_warnings(guide.reading_of(network), network.trace("copy: Hello"), ZH)
    assert warnings == ["toy-seq2seq 只用小写字母 a–z、数字 0–9和空格训练过，从未见过这些字符：H"]


# ---- Chinese ----------------------------------------------------------------------------------------

def test_the_built_in_models_read_no_chinese(loaded):
    counts = guide.chinese_counts(["toy-seq2seq", "toy-gpt", "toy-bert"], tokenizer_of=None)
    assert counts == {"toy-seq2seq": 0, "toy-gpt": 0, "toy-bert": 0}
    trace = loaded("toy-gpt").trace("中文")
    assert trace.decoder_unknown[1:] == [True, True]


@pytest.mark.skipif(not HAS_MINILM, reason="the minilm package is not installed")
def test_minilm_reads_some_chinese_characters(loaded):
    """MiniLM's WordPiece vocabulary holds a few hundred CJK characters: those it reads, the
    rest it reads as [UNK]. The guide's count is its vocabulary's."""
    network = loaded("minilm")
    counts = guide.chinese_counts(["toy-gpt", "minilm"], lambda name: loaded(name).tokenizer)
    assert counts["toy-gpt"] == 0 and 200 < counts["minilm"] < 1000
    tokens, _ = network.backend.source("中文你好")
    assert tokens.labels[1:-1] == ["中", "文", "你", "好"]
    assert tokens.unknown[1:-1] == [False, False, True, True]      # 中, 文 in its vocabulary; 你, 好 not
    _, warnings = run(network, "中文你好")
    assert warnings == ["Not in minilm's vocabulary, so it reads each of these as the same unknown token: 你, 好"]
