"""Fixtures of the black-box VI tests: seeding, and a quiet PyTorch on a busy CPU."""

import keras
import pytest

if keras.backend.backend() == "torch":
    import torch

    # The tests use tiny tensors; on a shared 2-core machine, PyTorch's
    # intra-op thread pool spin-waits and makes each small op ~20x slower.
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seeded():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    yield
