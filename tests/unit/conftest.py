"""Fixtures shared by the unit tests."""
import pytest

import model


@pytest.fixture(scope="module")
def loaded():
    """loaded(name): the model on the CPU, loaded once per test module."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = model.load(name, device="cpu")
        return cache[name]
    return get


@pytest.fixture(scope="module")
def hf_model(tmp_path_factory):
    """hf_model(family): a tiny seeded Hugging Face model of that family (tests/tiny_hf.py),
    saved in a folder and loaded from it on the CPU, once per test module."""
    from tests.tiny_hf import build
    cache = {}

    def get(family):
        if family not in cache:
            folder = tmp_path_factory.mktemp(family)
            build(family, folder)
            cache[family] = model.load(str(folder), device="cpu")
        return cache[family]
    return get
