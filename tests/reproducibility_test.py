"""`keras.utils.set_random_seed` makes training runs repeatable."""

import keras
import numpy as np
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def train_once(seed):
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        adaptive_contrast=True,
    )
    model.compile()
    history = model.fit(four_point_data(64), batch_size=16, epochs=2, verbose=0)
    return [ops.convert_to_numpy(v) for v in model.weights], history.history


def test_same_seed_same_run_and_other_seed_other_run():
    weights_a, history_a = train_once(7)
    weights_b, history_b = train_once(7)
    weights_c, _ = train_once(8)
    for a, b in zip(weights_a, weights_b):
        np.testing.assert_array_equal(a, b)
    assert history_a == history_b
    assert any(not np.array_equal(a, c) for a, c in zip(weights_a, weights_c))
