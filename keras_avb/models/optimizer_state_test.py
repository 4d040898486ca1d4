"""`load_weights` into a freshly compiled model restores the optimizer state."""

import warnings

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def avb():
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1, name="adversary"),
        seed=0,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3), adversary_optimizer=keras.optimizers.Adam(1e-3)
    )
    return model


def vae():
    x = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x)
    encoder = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    model = keras_avb.VAE(encoder, tiny_decoder(), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


@pytest.mark.parametrize("make", [avb, vae], ids=["avb", "vae"])
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
