import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.distributions import Bernoulli
from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation.quadrature import latent_grid
from keras_avb.evaluation.quadrature import quadrature_log_likelihood


def _linear_decoder(kernel, bias):
    latent_dim, data_dim = kernel.shape
    decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(data_dim)])
    decoder.layers[0].set_weights([kernel.astype("float32"), bias.astype("float32")])
    return decoder


def _gaussian_log_density(x, mean, cov):
    d = mean.shape[0]
    diff = x - mean
    _, log_det = np.linalg.slogdet(cov)
    maha = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff)
    return -0.5 * (maha + log_det + d * np.log(2 * np.pi))


def test_latent_grid_midpoints_and_volume():
    points, log_volume = latent_grid(2, num_points=4, limit=2.0)
    points = ops.convert_to_numpy(points)
    assert points.shape == (16, 2)
    np.testing.assert_allclose(np.unique(points[:, 0]), [-1.5, -0.5, 0.5, 1.5])
    np.testing.assert_allclose(float(log_volume), 0.0, atol=1e-7)


@pytest.mark.parametrize("latent_dim", [1, 2])
def test_linear_gaussian_decoder_matches_closed_form(latent_dim):
    # x = W^T z + b + s * noise, z ~ N(0, I)  =>  x ~ N(b, W^T W + s^2 I).
    rng = np.random.default_rng(1)
    data_dim, scale = 3, 0.5
    kernel = rng.normal(size=(latent_dim, data_dim))
    bias = rng.normal(size=(data_dim,))
    cov = kernel.T @ kernel + scale**2 * np.eye(data_dim)
    x = rng.multivariate_normal(bias, cov, size=7).astype("float32")
    x[0] = bias + 4.0  # also a point far in the tail
    log_px = quadrature_log_likelihood(
        _linear_decoder(kernel, bias),
        Gaussian(scale=scale),
        StandardNormal(latent_dim),
        x,
        num_points=200 if latent_dim == 2 else 2000,
        limit=7.0,
    )
    expected = _gaussian_log_density(x.astype("float64"), bias, cov)
    np.testing.assert_allclose(ops.convert_to_numpy(log_px), expected, atol=2e-3)


def test_bernoulli_decoder_matches_monte_carlo():
    keras.utils.set_random_seed(3)
    decoder = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(4),
        ]
    )
    # Make the decoder depend strongly on z, so that p(x) is far from what
    # the decoder gives at any single z.
    kernel, bias = decoder.layers[0].get_weights()
    decoder.layers[0].set_weights([3.0 * kernel, bias])
    x = np.eye(4, dtype="float32")
    log_px = ops.convert_to_numpy(
        quadrature_log_likelihood(decoder, Bernoulli(), None, x, num_points=200)
    )

    # Brute-force Monte Carlo: p(x) = E_{z ~ N(0, I)} p(x | z), with the
    # decoder evaluated in NumPy from its weights.
    (k1, b1), (k2, b2) = [layer.get_weights() for layer in decoder.layers]
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400_000, 2))
    logits = np.tanh(z @ k1 + b1) @ k2 + b2
    log_px_z = x @ logits.T - np.sum(np.logaddexp(0.0, logits), axis=1)  # (4, n)
    px_z = np.exp(log_px_z)
    mc_mean = px_z.mean(axis=1)
    mc_stderr = px_z.std(axis=1) / np.sqrt(z.shape[0])
    assert np.all(np.abs(np.exp(log_px) - mc_mean) < 4.0 * mc_stderr + 1e-6)
    # The four probabilities of a 4-state model cannot exceed 1 in total.
    assert np.exp(log_px).sum() < 1.0


def test_chunk_sizes_do_not_change_the_result():
    keras.utils.set_random_seed(4)
    decoder = keras.Sequential(
        [keras.Input((2,)), keras.layers.Dense(6, activation="elu"), keras.layers.Dense(4)]
    )
    x = np.eye(4, dtype="float32")[[0, 1, 2, 3, 1, 0, 2]]
    args = (decoder, "bernoulli", None, x)
    reference = ops.convert_to_numpy(quadrature_log_likelihood(*args, num_points=40))
    chunked = ops.convert_to_numpy(
        quadrature_log_likelihood(
            *args, num_points=40, grid_batch_size=333, data_batch_size=3
        )
    )
    np.testing.assert_allclose(chunked, reference, rtol=1e-5, atol=1e-5)
    # Equal data points get equal log-likelihoods.
    np.testing.assert_allclose(chunked[1], chunked[4], rtol=1e-6)


def test_rejects_grids_that_are_too_large():
    decoder = keras.Sequential([keras.Input((10,)), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match="too large"):
        quadrature_log_likelihood(
            decoder, "bernoulli", None, np.eye(4, dtype="float32"), num_points=100
        )
