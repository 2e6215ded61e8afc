"""Faults a server meets: a corrupted or missing checkpoint, a model that raises mid-forward, CUDA
out of memory. Each gives a message in the page, never a traceback, and the app goes on serving."""
import shutil
import uuid
from pathlib import Path

import pytest
import torch

import model
import model.catalog
import model.transformer
from tests.apptest import pictures, start

ASSETS = Path(model.catalog.ASSETS)


def errors(at) -> list[str]:
    return [e.value for e in at.error]


def assert_serves(at):
    """A page that works: no exception, no error, its pictures drawn."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, errors(at)
    assert pictures(at)


def unique(prefix: str) -> str:
    """Text no earlier run has cached, so the model really runs."""
    return f"{prefix} {uuid.uuid4().hex[:8]}"


@pytest.fixture
def assets(tmp_path, monkeypatch):
    """A private copy of assets/ that the model layer reads instead of the real one."""
    copy = tmp_path / "assets"
    for name in model.BUILTIN_NAMES:
        shutil.copytree(ASSETS / name, copy / name)
    monkeypatch.setattr(model.catalog, "ASSETS", copy)
    return copy


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupted_checkpoint_gives_a_message_and_other_models_still_serve(assets, damage):
    path = assets / "toy-gpt" / "final.safetensors"
    data = path.read_bytes()
    path.write_bytes({"garbage": b"\x00not a safetensors file" * 50, "truncated": data[: len(data) // 2],
                      "empty": b""}[damage])
    at = start(model="toy-gpt", text=unique("abc"))
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1 and "could not be loaded" in errors(at)[0] and "corrupted" in errors(at)[0]
    # the same session moves on to another model...
    at.selectbox(key="w.model").set_value("toy-bert").run()
    assert_serves(at)
    # ...and a new session works
    assert_serves(start(model="toy-seq2seq"))


def test_missing_snapshot_gives_a_message(assets):
    (assets / "toy-gpt" / "early.safetensors").unlink()
    at = start(model="toy-gpt", snapshot="early")
    assert not at.exception
    assert len(at.error) == 1 and "checkpoint file missing" in errors(at)[0]
    at.select_slider(key="w.snapshot").set_value("final").run()
    assert_serves(at)


def test_missing_final_checkpoint_leaves_the_model_out(assets):
    (assets / "toy-bert" / "final.safetensors").unlink()
    assert "toy-bert" not in model.available()
    at = start(model="toy-bert")
    assert not at.exception and not at.error
    assert any("could not be used" in w.value for w in at.warning)     # the link's model is refused
    assert "toy-bert" not in at.selectbox(key="w.model").options
    assert_serves(at)


def test_missing_config_gives_a_message(assets):
    (assets / "toy-seq2seq" / "config.json").unlink()
    # a rebuilt checkpoint (new mtime), so the app loads it afresh rather than from its cache
    checkpoint = assets / "toy-seq2seq" / "final.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes())
    at = start(model="toy-seq2seq", text=unique("copy: x"))
    assert not at.exception
    assert len(at.error) == 1 and "config file missing" in errors(at)[0]
    assert_serves(start(model="toy-gpt"))


def test_no_models_at_all(monkeypatch):
    monkeypatch.setattr(model, "available", lambda: [])
    at = start()
    assert not at.exception
    assert len(at.error) == 1 and "No model files were found" in errors(at)[0]


def test_model_raising_mid_forward(monkeypatch):
    """The first attention layer has run when the feed-forward raises: a short message, no
    traceback, and the next run (this session's and a new one) works."""
    def broken(self, x):
        raise RuntimeError("simulated failure inside the forward pass")

    original = model.transformer.FeedForward.forward
    monkeypatch.setattr(model.transformer.FeedForward, "forward", broken)
    text = unique("the cat")
    at = start(model="toy-bert", text=text)
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.error) == 1 and "Something went wrong while running the model" in errors(at)[0]
    assert "simulated" not in errors(at)[0]            # the details stay in the server log
    monkeypatch.setattr(model.transformer.FeedForward, "forward", original)
    at.run()                                            # the failure was not cached: same text works now
    assert_serves(at)
    assert_serves(start(model="toy-bert", text=text))


@pytest.fixture
def out_of_memory_once(monkeypatch):
    """FeedForward raises CUDA out of memory on its first call, then works; model.load's devices
    are recorded."""
    original = model.transformer.FeedForward.forward
    state = {"raised": 0, "devices": []}

    def forward(self, x):
        if not state["raised"]:
            state["raised"] += 1
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (simulated)")
        return original(self, x)

    load = model.load

    def recording_load(name, *args, **kwargs):
        state["devices"].append(kwargs.get("device", "auto"))
        return load(name, *args, **kwargs)

    monkeypatch.setattr(model.transformer.FeedForward, "forward", forward)
    monkeypatch.setattr(model, "load", recording_load)
    return state


def test_cuda_out_of_memory_falls_back_to_cpu(out_of_memory_once):
    at = start(model="toy-seq2seq", text=unique("reverse: oom"))
    assert_serves(at)
    assert out_of_memory_once["raised"] == 1
    assert any("ran out of memory" in w.value and "CPU" in w.value for w in at.warning)
    # the retry ran on a copy loaded for the CPU (cached apart from the GPU one)
    assert "cpu" in out_of_memory_once["devices"]
    # the next input runs as usual, without the note
    at.text_input(key="w.text").set_value(unique("reverse: next")).run()
    assert_serves(at)
    assert not any("ran out of memory" in w.value for w in at.warning)


def test_cuda_out_of_memory_while_generating_step_by_step(out_of_memory_once, monkeypatch):
    """The step-through on Generation runs the model through its own cache: it falls back too."""
    text = unique("the cat sat")
    # the page's trace first (no fault yet), then the fault hits the step-by-step generation
    out_of_memory_once["raised"] = 1
    at = start(page="generation", model="toy-gpt", text=text)
    assert_serves(at)
    out_of_memory_once["raised"] = 0
    at.number_input(key="w.new_tokens").set_value(5).run()
    assert_serves(at)
    assert out_of_memory_once["raised"] == 1
    assert any("ran out of memory" in w.value for w in at.warning)
    assert "Step t" in [s.label for s in at.slider]


def test_hosted_messages_leave_out_the_servers_directories(assets, monkeypatch):
    from ui import hosting
    monkeypatch.setattr(hosting, "HOSTED", True)
    monkeypatch.setattr(hosting, "APP_ROOT", str(assets.parent))    # the copy stands in for the app
    (assets / "toy-gpt" / "final.safetensors").write_bytes(b"")
    at = start(model="toy-gpt", text=unique("abc"))
    assert not at.exception and len(at.error) == 1
    message = errors(at)[0]
    assert "assets/toy-gpt/final.safetensors" in message and str(assets.parent) not in message
