import math

import keras
import numpy as np
from keras import ops

from keras_avb.layers.adaptive_contrast import AdaptiveContrast


def gaussian_log_density(z, mean, variance):
    return -0.5 * np.sum(
        (z - mean) ** 2 / variance + np.log(variance) + math.log(2 * math.pi), axis=-1
    )


def test_exact_for_a_gaussian_q():
    rng = np.random.default_rng(0)
    mean = rng.normal(size=(5, 3)).astype("float32")
    variance = rng.uniform(0.2, 3.0, size=(5, 3)).astype("float32")
    z = (mean + np.sqrt(variance) * rng.normal(size=(5, 3))).astype("float32")
    layer = AdaptiveContrast(epsilon=1e-4)
    z_norm, log_r = layer([z, mean, variance])
    np.testing.assert_allclose(
        ops.convert_to_numpy(z_norm), (z - mean) / np.sqrt(variance + 1e-4), rtol=1e-5
    )
    # log r is the log-density of N(mean, variance + epsilon).
    np.testing.assert_allclose(
        ops.convert_to_numpy(log_r),
        gaussian_log_density(z, mean, variance + 1e-4),
        rtol=1e-5,
    )


def test_normalised_gaussian_samples_are_standard_normal():
    rng = np.random.default_rng(1)
    mean = np.array([[2.0, -1.0]], "float32")
    variance = np.array([[4.0, 0.25]], "float32")
    z = (mean + np.sqrt(variance) * rng.normal(size=(20000, 2))).astype("float32")
    z_norm, _ = AdaptiveContrast(epsilon=0.0)(
        [z, np.repeat(mean, len(z), 0), np.repeat(variance, len(z), 0)]
    )
    z_norm = ops.convert_to_numpy(z_norm)
    np.testing.assert_allclose(z_norm.mean(0), [0.0, 0.0], atol=0.03)
    np.testing.assert_allclose(z_norm.std(0), [1.0, 1.0], atol=0.03)


def test_moments_get_no_gradient_and_serialization_round_trips():
    layer = AdaptiveContrast(epsilon=1e-3, name="ac")
    clone = AdaptiveContrast.from_config(layer.get_config())
    assert clone.epsilon == 1e-3 and clone.name == "ac"
    assert keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    ).epsilon == 1e-3
    assert layer.compute_output_shape([(4, 2), (4, 2), (4, 2)]) == ((4, 2), (4,))
