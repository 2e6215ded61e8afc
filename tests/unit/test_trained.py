"""The shipped weights do what the README says, on held-out inputs drawn now from a fixed seed."""
import json

import pytest
import torch

import model
from model.training import evaluate
from model.catalog import config_path
from model.training.tasks import TASKS, is_held_out, random_task_input
from model.training.train import RECIPES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def seq2seq():
    return model.load("toy-seq2seq")


@pytest.mark.parametrize("task", sorted(TASKS))
def test_seq2seq_exact_match(seq2seq, task):
    assert evaluate.seq2seq_exact_match(seq2seq, task, n=500) >= 0.97


def test_seq2seq_reverse_cross_attention_is_the_mirror(seq2seq):
    alignment = evaluate.reverse_alignment(seq2seq, n=200)     # [layer, head]
    assert alignment.max() >= 0.90, alignment.round(2)


def test_seq2seq_answers_a_typed_example(seq2seq):
    assert seq2seq.trace("reverse: hello world").output_text == "dlrow olleh"
    assert seq2seq.trace("sort: banana").output_text == "aaabnn"
    assert seq2seq.trace("swap: one two three").output_text == "three two one"


def test_held_out_inputs_are_never_trained_on():
    import random
    rng = random.Random(0)
    assert not any(is_held_out(random_task_input(rng, "train")) for _ in range(2000))
    assert all(is_held_out(random_task_input(rng, "heldout")) for _ in range(200))


def test_gpt_induction():
    scores = evaluate.induction_scores(model.load("toy-gpt"), n=100)
    assert scores["accuracy"] >= 0.90
    assert scores["head_scores"].max() >= 0.5, scores["head_scores"].round(2)


def test_bert_masked_accuracy():
    assert evaluate.masked_accuracy(model.load("toy-bert"), n=300) >= 0.60


@pytest.mark.parametrize("name", model.BUILTIN_NAMES)
def test_untrained_snapshot_is_the_seeded_initialisation(name):
    card = json.loads(config_path(name).read_text())
    torch.manual_seed(card["seed"])
    fresh = model.Transformer(RECIPES[name].config).state_dict()
    stored = model.load(name, snapshot="untrained", device="cpu").net.state_dict()
    for key, value in fresh.items():
        torch.testing.assert_close(stored[key], value.to(torch.float16).float(), msg=key)


@pytest.mark.parametrize("name", model.BUILTIN_NAMES)
def test_card_matches_the_recipe(name):
    card = json.loads(config_path(name).read_text())
    assert card["config"] == RECIPES[name].config.to_dict()
    assert set(card["snapshot_steps"]) == set(model.SNAPSHOTS)
    assert card["metrics"], "the card carries measured metrics"
