"""Pytest set-up shared by every test: a fresh Keras session and seed."""

import keras
import pytest

if keras.backend.backend() == "torch":
    import torch

    # The tests run tiny models, for which PyTorch's intra-op thread pool
    # costs more than it gains, and on a busy 2-core machine it thrashes
    # (a 200-step fit took 13x longer with 2 threads than with 1).
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _clear_session():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
