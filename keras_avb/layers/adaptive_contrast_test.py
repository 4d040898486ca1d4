import math

import keras
import numpy as np
from keras import ops

from keras_avb.layers.adaptive_contrast import AdaptiveContrast
from keras_avb.testing.layer_test_case import TestCase


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


def random_covariances(rng, batch, dim):
    factors = rng.normal(size=(batch, dim, dim))
    return (factors @ factors.transpose(0, 2, 1) + 0.1 * np.eye(dim)).astype("float32")


def test_full_covariance_log_r_is_the_correlated_gaussian_density():
    rng = np.random.default_rng(2)
    mean = rng.normal(size=(6, 3)).astype("float32")
    covariance = random_covariances(rng, 6, 3)
    z = (mean + rng.normal(size=(6, 3))).astype("float32")
    z_norm, log_r = AdaptiveContrast(epsilon=1e-4)([z, mean, covariance])
    shifted = covariance + 1e-4 * np.eye(3, dtype="float32")
    residual = (z - mean).astype("float64")
    quadratic = np.einsum("bi,bi->b", residual, np.linalg.solve(shifted, residual[..., None])[..., 0])
    expected = -0.5 * (quadratic + np.linalg.slogdet(shifted)[1] + 3 * math.log(2 * math.pi))
    np.testing.assert_allclose(ops.convert_to_numpy(log_r), expected, rtol=1e-4)
    # |z_norm|^2 is the Mahalanobis distance: z_norm = L^-1 (z - m).
    np.testing.assert_allclose(
        np.sum(ops.convert_to_numpy(z_norm) ** 2, axis=-1), quadratic, rtol=1e-4
    )


def test_full_covariance_whitens_correlated_gaussian_samples():
    rng = np.random.default_rng(3)
    covariance = np.array([[1.0, 0.95], [0.95, 1.0]], "float32")
    mean = np.array([1.0, -2.0], "float32")
    z = rng.multivariate_normal(mean, covariance, size=20000).astype("float32")
    batch = lambda a: np.repeat(a[None], len(z), 0)  # noqa: E731
    z_white, _ = AdaptiveContrast(epsilon=0.0)([z, batch(mean), batch(covariance)])
    z_white = ops.convert_to_numpy(z_white)
    np.testing.assert_allclose(np.cov(z_white.T), np.eye(2), atol=0.03)
    # Diagonal moments only standardise: the correlation stays.
    z_std, _ = AdaptiveContrast(epsilon=0.0)(
        [z, batch(mean), batch(np.diagonal(covariance).copy())]
    )
    assert np.corrcoef(ops.convert_to_numpy(z_std).T)[0, 1] > 0.9


def test_shared_covariance_matches_one_per_example():
    rng = np.random.default_rng(4)
    z = rng.normal(size=(6, 3)).astype("float32")
    mean = np.repeat(rng.normal(size=(1, 3)).astype("float32"), 6, 0)
    shared = random_covariances(rng, 1, 3)
    layer = AdaptiveContrast(epsilon=1e-4)
    z_shared, log_r_shared = layer([z, mean, shared])
    z_each, log_r_each = layer([z, mean, np.repeat(shared, 6, 0)])
    np.testing.assert_allclose(
        ops.convert_to_numpy(z_shared), ops.convert_to_numpy(z_each), rtol=1e-5, atol=1e-6
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(log_r_shared), ops.convert_to_numpy(log_r_each), rtol=1e-5
    )
    assert tuple(log_r_shared.shape) == (6,)


class AdaptiveContrastLayerTest(TestCase):
    """Keras' own layer harness, mixed precision included."""

    def test_layer_harness_diagonal(self):
        self.run_layer_test(
            AdaptiveContrast,
            {"epsilon": 1e-3},
            input_shape=((4, 3), (4, 3), (4, 3)),
            expected_output_shape=((4, 3), (4,)),
            expected_output_dtype=("float32", "float32"),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
            assert_built_after_instantiation=True,
        )

    def test_layer_harness_full_covariance(self):
        # The covariances must be positive definite for the Cholesky factor,
        # so the inputs are given rather than drawn by the harness (as a
        # tuple: TensorFlow's generator dataset of the training check
        # rejects a list).
        rng = np.random.default_rng(0)
        z = rng.normal(size=(4, 3)).astype("float32")
        mean = rng.normal(size=(4, 3)).astype("float32")
        self.run_layer_test(
            AdaptiveContrast,
            {"epsilon": 1e-3},
            input_data=(z, mean, random_covariances(rng, 4, 3)),
            expected_output_shape=((4, 3), (4,)),
            expected_output_dtype=("float32", "float32"),
            expected_num_trainable_weights=0,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
            assert_built_after_instantiation=True,
        )
