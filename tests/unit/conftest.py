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
