"""Tests of `evaluate_log_likelihood` and `posterior_moments` on tiny models."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.evaluation import evaluate_log_likelihood
from keras_avb.evaluation import importance_log_likelihood
from keras_avb.evaluation import posterior_moments


def _data():
    rng = np.random.default_rng(0)
    return np.eye(4, dtype="float32")[rng.integers(0, 4, 6)]


def _vae():
    x_in = keras.Input((4,))
    h = keras.layers.Dense(8, activation="tanh")(x_in)
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    return keras_avb.VAE(encoder, decoder, seed=0)


def _avb(adaptive_contrast):
    x_in, eps_in = keras.Input((4,)), keras.Input((3,))
    h = keras.layers.Dense(8, activation="elu")(keras.layers.Concatenate()([x_in, eps_in]))
    encoder = keras.Model([x_in, eps_in], keras.layers.Dense(2)(h))
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    adversary = keras_avb.layers.ResidualAdversary(units=8, num_blocks=1)
    return keras_avb.AVB(
        encoder, decoder, adversary, adaptive_contrast=adaptive_contrast, seed=0
    )


def test_vae_importance_is_the_iwae_bound_with_the_posterior():
    model, x = _vae(), _data()
    mean, variance = posterior_moments(model, x)
    mean_direct, log_variance = model.encoder(x)
    np.testing.assert_allclose(mean, keras.ops.convert_to_numpy(mean_direct), rtol=1e-5)
    np.testing.assert_allclose(
        variance, np.exp(keras.ops.convert_to_numpy(log_variance)), rtol=1e-5
    )
    wrapped = evaluate_log_likelihood(model, x, method="importance", num_samples=64, seed=1)
    direct = importance_log_likelihood(
        model.decoder, model.likelihood, model.prior, x,
        proposal=(mean, variance), num_samples=64, seed=1,
    )
    np.testing.assert_allclose(wrapped.log_likelihood, direct.log_likelihood, rtol=1e-5)
    # log p(x) of 4-pixel binary data is below 0.
    assert np.all(wrapped.log_likelihood < 0)


@pytest.mark.parametrize("adaptive_contrast", [True, False])
def test_avb_moments_and_ais(adaptive_contrast):
    model, x = _avb(adaptive_contrast), _data()
    mean, variance = posterior_moments(model, x)
    assert mean.shape == (6, 2) and np.all(variance >= model.contrast_epsilon)
    # The moments describe the encoder's samples.
    draws = np.stack([keras.ops.convert_to_numpy(model.encode(x)) for _ in range(200)])
    np.testing.assert_allclose(mean, draws.mean(0), atol=4 * np.sqrt(draws.var(0).max() / 16) + 1e-3)
    estimate = evaluate_log_likelihood(model, x, method="ais", num_steps=5, num_chains=2, seed=2)
    assert estimate.log_likelihood.shape == (6,)
    assert np.all(np.isfinite(estimate.log_likelihood))


def test_wrapper_errors():
    with pytest.raises(ValueError, match="method"):
        evaluate_log_likelihood(_vae(), _data(), method="exact")
    with pytest.raises(ValueError, match="AVB or keras_avb.VAE"):
        evaluate_log_likelihood(keras.Sequential([keras.Input((4,))]), _data())
