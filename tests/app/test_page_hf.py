"""Hugging Face models in the app: loaded by folder from the sidebar, drawn on every page,
refused with a message (previous model kept), hidden in hosted mode, reopened from a link."""
import pytest

from tests.apptest import assert_clean, canvas, charts, pictures, start
from tests.tiny_hf import TEXT, build


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    def get(family):
        path = tmp_path_factory.mktemp(family)
        build(family, path)
        return str(path)
    return get


def load_by_path(at, path):
    at.text_input(key="model_path").set_value(path)
    at.button(key="model_path.load").click()
    return at.run()


def test_a_folder_typed_in_the_sidebar_becomes_the_model(folder):
    path = folder("bert")
    at = start()
    at = load_by_path(at, path)
    assert_clean(at)
    assert at.selectbox(key="w.model").value == path
    assert path in at.selectbox(key="w.model").options
    assert at.query_params["model"] in (path, [path])
    assert not charts(at) and canvas(at, "explore.canvas")[0]["overview"]["layers"]
    header, arrays = canvas(at, "explore.canvas")          # the loaded BERT's own attention
    assert header["kind"] == "encoder" and arrays["q"].shape[0] == header["heads"]
    # a Hugging Face model has no training snapshots to slide through
    assert not [s for s in at.select_slider if s.key == "w.snapshot"]


def test_a_bad_folder_gives_a_message_and_keeps_the_model(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickled")
    at = start(model="toy-gpt")
    for bad in (str(tmp_path), str(tmp_path / "missing")):
        at = load_by_path(at, bad)
        assert not at.exception
        assert at.selectbox(key="w.model").value == "toy-gpt"
        assert any("could not be loaded" in e.value for e in at.sidebar.error), [e.value for e in at.error]
        # the page still draws the previous model: its overview and its canvas
        assert not charts(at) and canvas(at, "explore.canvas")[0]["overview"]["layers"] and canvas(at, "explore.canvas")[0]["kind"] == "decoder"


def test_hosted_mode_has_no_path_field(monkeypatch):
    from ui import hosting
    monkeypatch.setattr(hosting, "HOSTED", True)     # read from the environment at import
    at = start()
    assert_clean(at)
    assert not [t for t in at.text_input if t.key == "model_path"]


@pytest.mark.parametrize("family,page", [("gpt2", "generation"), ("bart", "generation"), ("bart", "explore"),
                                         ("llama", "anatomy"), ("t5", "aggregates"), ("gpt2", "intervene")])
def test_a_linked_folder_reopens_on_every_kind_of_page(folder, family, page):
    path = folder(family)
    extra = {"heads_off": "decoder.0.1"} if page == "intervene" else {}
    at = start(model=path, page=page, text=TEXT, **extra)
    assert_clean(at)
    assert at.selectbox(key="w.model").value == path
    assert pictures(at), "the page draws its pictures"


def test_a_hub_name_downloads_only_when_allowed():
    at = start(model="toy-gpt")
    at = load_by_path(at, "someone/not-cached-model")
    assert any("Allow a download from the Hugging Face Hub" in e.value for e in at.sidebar.error)
    at.checkbox(key="model_path.download").check()
    at = load_by_path(at, "someone/not-cached-model")   # tests run with HF_HUB_OFFLINE=1
    assert any("HF_HUB_OFFLINE is set" in e.value for e in at.sidebar.error)
    assert at.selectbox(key="w.model").value == "toy-gpt" and not at.exception
