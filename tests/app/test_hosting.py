"""Hosted mode (ATTENTION_EXPLORER_HOSTED=1): only built-in and allowlisted models, no local
paths, bounded input, generation and caches. ui/hosting reads the environment at import, so each
test reloads it under the environment it needs, and the fixture restores it."""
import importlib

import pytest

import model
from ui import hosting
from tests.apptest import start



@pytest.fixture
def mode(monkeypatch):
    """mode(hosted, allowlist=None): ui.hosting reloaded under that environment."""
    def set_mode(hosted: bool, allowlist=None):
        monkeypatch.setenv(hosting.HOSTED_ENV, "1" if hosted else "0")
        if allowlist is None:
            monkeypatch.delenv(hosting.ALLOWLIST_ENV, raising=False)
        else:
            monkeypatch.setenv(hosting.ALLOWLIST_ENV, allowlist)
        importlib.reload(hosting)
        return hosting

    yield set_mode
    monkeypatch.undo()
    importlib.reload(hosting)


def test_settings_follow_the_environment(mode):
    local = mode(False)
    assert local.allows_local_paths() and local.allows_downloads()
    assert local.allowed_models(["toy-gpt", "minilm", "/some/folder"]) == ["toy-gpt", "minilm", "/some/folder"]
    hosted = mode(True)
    assert not hosted.allows_local_paths() and not hosted.allows_downloads()
    assert hosted.allowlist() == ("minilm",)
    assert hosted.allowed_models(["toy-gpt", "minilm", "/some/folder"]) == ["toy-gpt", "minilm"]
    assert hosted.MAX_INPUT_CHARS == 2000 and hosted.bounded_new_tokens(10_000) == hosted.MAX_NEW_TOKENS
    assert hosted.TRACE_CACHE_ENTRIES <= 8 and hosted.STEPS_CACHE_ENTRIES <= 8
    none = mode(True, allowlist="")
    assert none.allowed_models(["toy-gpt", "minilm"]) == ["toy-gpt"]
    listed = mode(True, allowlist=" minilm , other-model,minilm")
    assert listed.allowlist() == ("minilm", "other-model")
    # an allowlisted name is offered only when it is available here
    assert listed.allowed_models(["toy-bert", "minilm"]) == ["toy-bert", "minilm"]


def test_hosted_offers_built_in_and_allowlisted_models_only(mode):
    mode(True, allowlist="")
    at = start()
    assert not at.exception and not at.error
    assert at.selectbox(key="w.model").options == [n for n in model.available() if n in model.BUILTIN_NAMES]
    # no field to load a model by path
    assert not [t for t in at.text_input if t.key == "model_path"]


def test_hosted_refuses_a_link_to_a_local_folder(mode, tmp_path):
    mode(True)
    folder = tmp_path / "some-model"
    folder.mkdir()
    at = start(model=str(folder))
    assert not at.exception and not at.error
    assert any("could not be used" in w.value for w in at.warning)
    assert str(folder) not in at.selectbox(key="w.model").options
    assert at.selectbox(key="w.model").value == model.DEFAULT_MODEL


def test_hosted_cuts_long_input_with_a_note(mode):
    mode(True)
    at = start(model="toy-seq2seq")
    at.text_input(key="w.text").set_value("reverse: " + "x" * 2991).run()
    at.text_input(key="w.target").set_value("y" * 2100).run()
    assert not at.exception and not at.error
    notes = [w.value for w in at.warning]
    assert any("The text had 3000 characters" in n and "(1000 were cut)" in n for n in notes), notes
    assert any("The target had 2100 characters" in n and "(100 were cut)" in n for n in notes), notes
    # the link carries the cut text, so a shared link opens what was actually shown
    assert len(at.query_params["text"][0] if isinstance(at.query_params["text"], list)
               else at.query_params["text"]) == 2000


def test_hosted_bounds_generation(mode, monkeypatch):
    mode(True)
    monkeypatch.setattr(hosting, "MAX_NEW_TOKENS", 5)   # below toy-seq2seq's max_len, so the cap shows
    asked = []
    original = model.Runner.generate_steps

    def recording(self, text, max_new_tokens=20, **kwargs):
        asked.append(max_new_tokens)
        return original(self, text, max_new_tokens=max_new_tokens, **kwargs)

    monkeypatch.setattr(model.Runner, "generate_steps", recording)
    at = start(page="generation", model="toy-seq2seq", text="copy: bounded generation")
    assert not at.exception and not at.error
    # an encoder-decoder asks for max_len (64) steps; hosted, at most MAX_NEW_TOKENS run
    assert asked and max(asked) == 5


def test_local_mode_keeps_the_path_field(mode):
    mode(False)
    at = start()
    assert not at.exception and not at.error
    assert [t for t in at.text_input if t.key == "model_path"]
