"""Pytest set-up shared by every test: a fresh Keras session and seed."""

import keras
import pytest


@pytest.fixture(autouse=True)
def _clear_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
