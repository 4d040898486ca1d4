import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops

from keras_avb.layers.basis_noise_encoder import BasisNoiseEncoder
from keras_avb.testing.layer_test_case import TestCase


def test_output_shapes_and_positive_variance():
    head = BasisNoiseEncoder(latent_dim=3, num_bases=4, noise_dim=5, noise_units=(8,))
    h = keras.random.normal((6, 7), seed=0)
    eps = keras.random.normal((6, 20), seed=1)
    z, mean, variance = head([h, eps])
    assert tuple(z.shape) == tuple(mean.shape) == tuple(variance.shape) == (6, 3)
    assert np.all(ops.convert_to_numpy(variance) > 0)
    assert head.noise_shape == (20,)


def test_moments_match_monte_carlo():
    head = BasisNoiseEncoder(
        latent_dim=2,
        num_bases=3,
        noise_dim=4,
        noise_units=(16, 16),
        coefficient_offset=0.0,
        initial_mean_stddev=1.0,
    )
    features = np.random.default_rng(0).normal(size=(1, 5)).astype("float32")
    # Moments from one batch of noise ...
    batch = np.repeat(features, 4000, axis=0)
    _, mean, variance = head([batch, keras.random.normal((4000, 12), seed=2)])
    # ... against the Monte Carlo moments of z from independent noise.
    z, _, _ = head([np.repeat(features, 20000, 0), keras.random.normal((20000, 12), seed=3)])
    z = ops.convert_to_numpy(z)
    mean = ops.convert_to_numpy(mean)[0]
    variance = ops.convert_to_numpy(variance)[0]
    np.testing.assert_allclose(mean, z.mean(0), atol=0.05 * np.sqrt(z.var(0)).max())
    np.testing.assert_allclose(variance, z.var(0), rtol=0.08)
    assert np.all(variance > 1e-3)  # the test is not vacuous


def test_moments_are_the_same_for_every_example_with_the_same_features():
    head = BasisNoiseEncoder(latent_dim=2, num_bases=2, noise_dim=3, noise_units=(4,))
    h = np.ones((8, 3), "float32")
    _, mean, variance = head([h, keras.random.normal((8, 6), seed=0)])
    mean = ops.convert_to_numpy(mean)
    np.testing.assert_allclose(mean, np.repeat(mean[:1], 8, 0), rtol=1e-5)


def test_serialization_round_trip():
    head = BasisNoiseEncoder(latent_dim=2, num_bases=3, noise_dim=4, noise_units=(8,))
    h = np.ones((2, 5), "float32")
    eps = np.zeros((2, 12), "float32")
    expected = head([h, eps])[0]
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(head))
    assert clone.built  # the build config travels with the layer
    clone.set_weights(head.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone([h, eps])[0]), ops.convert_to_numpy(expected), rtol=1e-6
    )
    assert clone.get_config() == head.get_config()


def test_full_covariance_matches_monte_carlo_and_the_diagonal_head():
    options = dict(latent_dim=3, num_bases=3, noise_dim=4, noise_units=(16, 16),
                   coefficient_offset=0.0, initial_mean_stddev=1.0)
    full = BasisNoiseEncoder(covariance="full", **options)
    features = np.random.default_rng(1).normal(size=(1, 5)).astype("float32")
    batch = np.repeat(features, 4000, axis=0)
    noise = keras.random.normal((4000, 12), seed=4)
    _, mean, covariance = full([batch, noise])
    assert tuple(covariance.shape) == (4000, 3, 3)
    diagonal = BasisNoiseEncoder(**options)
    diagonal.build(([None, 5], [None, 12]))
    diagonal.set_weights(full.get_weights())
    _, mean_diag, variance = diagonal([batch, noise])
    covariance = ops.convert_to_numpy(covariance)[0]
    np.testing.assert_allclose(np.diagonal(covariance), ops.convert_to_numpy(variance)[0],
                               rtol=1e-4)
    np.testing.assert_allclose(ops.convert_to_numpy(mean), ops.convert_to_numpy(mean_diag),
                               rtol=1e-5, atol=1e-6)
    z, _, _ = full([np.repeat(features, 20000, 0), keras.random.normal((20000, 12), seed=5)])
    z_cov = np.cov(ops.convert_to_numpy(z).T)
    scale = np.sqrt(np.outer(np.diagonal(z_cov), np.diagonal(z_cov)))
    np.testing.assert_allclose(covariance / scale, z_cov / scale, atol=0.05)
    assert np.abs(z_cov / scale - np.eye(3)).max() > 0.1  # correlated: not vacuous


def test_full_covariance_config_round_trips_and_bad_value_is_rejected():
    head = BasisNoiseEncoder(latent_dim=2, covariance="full")
    assert BasisNoiseEncoder.from_config(head.get_config()).covariance == "full"
    assert head.compute_output_shape(((None, 4), (None, 1024)))[2] == (None, 2, 2)
    with pytest.raises(ValueError, match="`covariance` must be one of"):
        BasisNoiseEncoder(latent_dim=2, covariance="dense")


def test_each_basis_mlp_is_initialised_with_its_own_fan_in():
    # The stacked kernels hold one dense layer per basis: with num_bases = 16
    # a fan-in of num_bases * fan_in (the convolution reading of the shape)
    # left basis vectors of variance ~1e-5 after four layers.
    head = BasisNoiseEncoder(latent_dim=8, num_bases=16, noise_dim=64)
    head.build(((None, 10), (None, 16 * 64)))
    for kernel in head.basis_kernels:
        fan_in = kernel.shape[1]
        variance = float(np.var(ops.convert_to_numpy(kernel)))
        assert 0.9 < variance * fan_in < 1.1
    v = ops.convert_to_numpy(head.basis_vectors(keras.random.normal((2000, 16 * 64), seed=0)))
    assert 0.1 < v.var(axis=0).mean() < 10.0


class BasisNoiseEncoderLayerTest(TestCase):
    """Keras' own layer harness, mixed precision included."""

    @parameterized.named_parameters(
        ("diagonal", "diagonal", (4, 2)),
        ("full", "full", (4, 2, 2)),
    )
    def test_layer_harness(self, covariance, spread_shape):
        self.run_layer_test(
            BasisNoiseEncoder,
            {
                "latent_dim": 2,
                "num_bases": 3,
                "noise_dim": 4,
                "noise_units": (8,),
                "coefficient_offset": 0.0,
                "covariance": covariance,
            },
            input_shape=((4, 5), (4, 12)),
            expected_output_shape=((4, 2), (4, 2), spread_shape),
            expected_output_dtype=("float32", "float32", "float32"),
            # mean and coefficient Dense layers, and two layers of basis
            # MLPs (stacked kernel and bias each).
            expected_num_trainable_weights=2 + 2 + 2 * 2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )
