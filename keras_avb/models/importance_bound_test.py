"""`iw_bound`: an importance-weighted lower bound on log p(x), checked against
the exact log-likelihood of a linear-Gaussian model."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.evaluation import linear_gaussian_problem
from keras_avb.testing import fixed_gaussian_encoder
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


class FixedGaussianEncoder(keras.layers.Layer):
    """q(z|x) = N(x A + c, C) with constant A, c and covariance C.

    Called on `[x, eps]` it returns `[z, mean, variance]`, the variance as
    the diagonal of C (`full=False`) or as C itself, one per example. With
    `returns="moments"` it is a VAE encoder returning `[mean, log_variance]`
    (diagonal C only).
    """

    def __init__(self, kernel, bias, covariance, full=False, returns="sample", **kwargs):
        super().__init__(**kwargs)
        self.kernel = np.asarray(kernel, "float32")
        self.bias = np.asarray(bias, "float32")
        self.covariance = np.asarray(covariance, "float32")
        self.chol = np.linalg.cholesky(covariance).astype("float32")
        self.full = full
        self.returns = returns

    def call(self, inputs):
        x = inputs[0] if self.returns == "sample" else inputs
        mean = ops.matmul(x, self.kernel) + self.bias
        batch = ops.shape(mean)[0]
        if self.returns == "moments":
            log_variance = ops.log(ops.convert_to_tensor(np.diag(self.covariance)))
            return [mean, ops.zeros_like(mean) + log_variance]
        z = mean + ops.matmul(inputs[1], ops.transpose(self.chol))
        if self.full:
            variance = ops.broadcast_to(self.covariance, (batch,) + self.covariance.shape)
        else:
            variance = ops.zeros_like(mean) + np.diag(self.covariance)
        return [z, mean, variance]


def posterior(problem):
    """The exact posterior's mean map (A, c) and covariance of the problem."""
    kernel, bias = (w.astype("float64") for w in problem.decoder.get_weights())
    weights = kernel.T  # x = W z + b
    latent_dim = weights.shape[1]
    covariance = np.linalg.inv(np.eye(latent_dim) + weights.T @ weights / problem.scale**2)
    a = weights @ covariance / problem.scale**2
    return a, -bias @ a, covariance


def avb(problem, encoder, **kwargs):
    model = keras_avb.AVB(
        encoder,
        problem.decoder,
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        likelihood=keras_avb.distributions.Gaussian(problem.scale),
        noise_shape=(problem.posterior_mean.shape[1],),
        seed=0,
        **kwargs,
    )
    model.build((None, problem.x.shape[1]))
    return model


def vae(problem, encoder, **kwargs):
    model = keras_avb.VAE(
        encoder,
        problem.decoder,
        likelihood=keras_avb.distributions.Gaussian(problem.scale),
        seed=0,
        **kwargs,
    )
    model.build((None, problem.x.shape[1]))
    return model


def test_exact_posterior_as_proposal_gives_log_px_from_one_sample():
    # p(x|z) p(z) / r(z|x) = p(x) for every z when r is the exact posterior,
    # so even one sample gives log p(x) exactly: AVB with a full-covariance
    # encoder (2-dim latent), the VAE with a 1-dim latent.
    problem = linear_gaussian_problem(num_examples=6, latent_dim=2, data_dim=5, seed=0)
    a, c, covariance = posterior(problem)
    model = avb(
        problem,
        FixedGaussianEncoder(a, c, covariance, full=True),
        contrast_epsilon=0.0,
        bound_samples=1,
    )
    bound = ops.convert_to_numpy(model.iw_bound(problem.x))
    np.testing.assert_allclose(bound, problem.log_likelihood, rtol=1e-4, atol=1e-3)

    problem = linear_gaussian_problem(num_examples=6, latent_dim=1, data_dim=4, seed=1)
    a, c, covariance = posterior(problem)
    model = vae(problem, FixedGaussianEncoder(a, c, covariance, returns="moments"), bound_samples=1)
    bound = ops.convert_to_numpy(model.iw_bound(problem.x))
    np.testing.assert_allclose(bound, problem.log_likelihood, rtol=1e-4, atol=1e-3)


def proposals(problem):
    """Models whose Gaussian proposals are not the posterior."""
    a, c, covariance = posterior(problem)
    # Diagonal, with a wrong scale: a loose bound for one sample.
    wide = np.diag(2.0 * np.diag(covariance))
    return {
        "avb_encoder_moments": avb(problem, FixedGaussianEncoder(a, c, wide), contrast_epsilon=0.0),
        # A black box: r uses moments estimated from `moment_samples` draws.
        "avb_black_box": avb(
            problem,
            fixed_gaussian_encoder(a, c, np.sqrt(np.diag(wide))),
            moment_samples=8,
        ),
        "vae": vae(problem, FixedGaussianEncoder(a, c, wide, returns="moments")),
    }


@pytest.mark.parametrize("kind", ["avb_encoder_moments", "avb_black_box", "vae"])
def test_bound_is_below_log_px_and_rises_with_the_samples(kind):
    problem = linear_gaussian_problem(num_examples=8, latent_dim=2, data_dim=5, seed=2)
    model = proposals(problem)[kind]
    repeats = 300
    x = np.repeat(problem.x, repeats, axis=0)
    gaps = {}
    for k in (1, 8, 64):
        model.bound_samples = k
        bound = ops.convert_to_numpy(model.iw_bound(x)).reshape(-1, repeats)
        gap = bound.mean(axis=1) - problem.log_likelihood
        error = bound.std(axis=1) / math.sqrt(repeats)
        # Below log p(x) for every example, up to 4 standard errors.
        assert np.all(gap < 4 * error + 1e-3), (k, gap, error)
        gaps[k] = gap.mean()
    # Tighter with more samples, and loose with one.
    assert gaps[1] < gaps[8] < gaps[64] <= 0.01, gaps
    assert gaps[1] < -0.2, gaps


def test_metric_in_evaluation_only_and_serialized():
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        bound_samples=4,
        seed=0,
    )
    model.compile()
    x = four_point_data(64)
    history = model.fit(x, validation_data=(x,), batch_size=32, verbose=0).history
    assert "iw_bound" not in history and "elbo" not in history
    assert np.isfinite(history["val_iw_bound"][0]) and "adversarial_elbo" in history
    logs = model.evaluate(x, batch_size=32, verbose=0, return_dict=True)
    # log p(x) <= 0 for binary data, and the bound is below it.
    assert logs["iw_bound"] < 0.0
    clone = keras_avb.AVB.from_config(model.get_config())
    assert clone.bound_samples == 4
    for cls in (keras_avb.AVB, keras_avb.VAE):
        with pytest.raises(ValueError, match="`bound_samples` must be an integer >= 1"):
            cls(tiny_black_box_encoder(), tiny_decoder(), *(
                [keras_avb.layers.ResidualAdversary(units=8)] if cls is keras_avb.AVB else []
            ), bound_samples=0)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_bound_in_float32_under_mixed_precision(covariance):
    # The encoder's float16 moments: the proposal (and its Cholesky factor)
    # is computed in float32.
    from keras_avb.layers import BasisNoiseEncoder

    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_float16")
    try:
        x_in, eps = keras.Input((4,)), keras.Input((6,))
        h = keras.layers.Dense(16, activation="softplus")(x_in)
        outputs = BasisNoiseEncoder(
            latent_dim=2, num_bases=3, noise_dim=2, noise_units=(8,), covariance=covariance
        )([h, eps])
        model = keras_avb.AVB(
            keras.Model([x_in, eps], outputs),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            adaptive_contrast=True,
            seed=0,
        )
        bound = model.iw_bound(four_point_data(16))
    finally:
        keras.config.set_dtype_policy(policy)
    assert bound.dtype == "float32" or "float32" in str(bound.dtype)
    bound = ops.convert_to_numpy(bound)
    assert bound.shape == (16,) and np.all(np.isfinite(bound)) and np.all(bound < 0.0)
