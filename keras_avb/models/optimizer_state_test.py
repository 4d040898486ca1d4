"""`load_weights` into a freshly compiled model restores the optimizer state."""

import warnings

import numpy as np
import pytest
from keras import ops

from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_avb
from keras_avb.testing import tiny_vae


def avb():
    return tiny_avb(seed=0)


@pytest.mark.parametrize("make", [avb, tiny_vae], ids=["avb", "vae"])
def test_load_weights_restores_the_optimizer_state(make, tmp_path):
    path = str(tmp_path / "model.weights.h5")
    model = make()
    model.fit(four_point_data(96), batch_size=32, verbose=0)
    model.save_weights(path)

    restored = make()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restored.load_weights(path)
    skipped = [str(w.message) for w in caught if "Skipping variable loading" in str(w.message)]
    assert not skipped, skipped
    assert int(restored.optimizer.iterations) == 3
    saved = [ops.convert_to_numpy(v) for v in model.optimizer.variables]
    loaded = [ops.convert_to_numpy(v) for v in restored.optimizer.variables]
    assert len(saved) == len(loaded) > 4
    for a, b in zip(saved, loaded):
        np.testing.assert_array_equal(a, b)
