"""Tests of `ais_log_likelihood` against exact log-likelihoods."""

import keras
import numpy as np
import pytest

from keras_avb.distributions import Bernoulli
from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation import ais_log_likelihood
from keras_avb.evaluation import linear_gaussian_problem

BACKEND = keras.backend.backend()


def _problem():
    problem = linear_gaussian_problem(num_examples=12, data_dim=4, scale=0.7, seed=1)
    # A Gaussian near the posterior, as Adaptive Contrast's r(z|x) would be.
    std = np.sqrt(problem.posterior_variance)
    initial = (problem.posterior_mean + 0.25 * std, 1.5 * problem.posterior_variance)
    return problem, initial


def bernoulli_problem(num_examples=8, data_dim=12, seed=0):
    """A random tanh-MLP Bernoulli decoder on a 2-dim latent, data and log p(x) on a grid."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=(2, 16)).astype("float32")
    b1 = rng.normal(size=(16,)).astype("float32")
    w2 = (rng.normal(size=(16, data_dim)) / 2).astype("float32")
    b2 = rng.normal(size=(data_dim,)).astype("float32")
    decoder = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="tanh"),
            keras.layers.Dense(data_dim),
        ]
    )
    decoder.set_weights([w1, b1, w2, b2])

    def logits(z):
        return np.tanh(z @ w1 + b1) @ w2 + b2

    z = rng.normal(size=(num_examples, 2))
    x = (rng.uniform(size=(num_examples, data_dim)) < 1 / (1 + np.exp(-logits(z))))
    x = x.astype("float32")
    # Midpoint rule on [-7, 7]^2 with 701 x 701 cells, in float64.
    width = 14.0 / 701
    axis = -7.0 + width * (np.arange(701) + 0.5)
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), -1).reshape(-1, 2)
    grid_logits = logits(grid)
    log_prior = -0.5 * np.sum(grid**2, -1) - np.log(2 * np.pi)
    log_lik = x @ grid_logits.T - np.sum(np.logaddexp(0.0, grid_logits), -1)
    joint = log_lik + log_prior + 2 * np.log(width)
    top = joint.max(axis=1, keepdims=True)
    exact = np.log(np.exp(joint - top).sum(axis=1)) + top[:, 0]
    # The posterior's mean and variance on the grid, for a Gaussian like AC's.
    posterior = np.exp(joint - exact[:, None])
    mean = posterior @ grid
    variance = posterior @ grid**2 - mean**2
    return decoder, x, exact, (mean.astype("float32"), variance.astype("float32"))


def test_linear_gaussian_matches_the_exact_log_likelihood():
    problem, initial = _problem()
    estimate = ais_log_likelihood(
        problem.decoder,
        Gaussian(problem.scale),
        StandardNormal(2),
        problem.x,
        initial=initial,
        num_steps=200,
        num_chains=64,
        step_size=0.5,
        seed=3,
    )
    error = estimate.log_likelihood - problem.log_likelihood
    assert np.max(np.abs(error)) < 0.05, error
    assert estimate.log_weights.shape == (12, 64)
    assert np.all(estimate.effective_sample_size > 1.0)
    assert np.all(estimate.effective_sample_size <= 64.0 + 1e-6)
    # The step sizes adapt towards an acceptance probability in [0.6, 0.7].
    assert 0.45 < np.mean(estimate.acceptance_rate) < 0.85


def test_estimates_rise_towards_the_exact_value_with_more_steps():
    problem = linear_gaussian_problem(num_examples=32, data_dim=8, scale=0.3, seed=1)
    errors = []
    # From the prior, whose mass lies mostly far from the posterior's.
    for num_steps in (1, 5, 100):
        estimate = ais_log_likelihood(
            problem.decoder,
            Gaussian(problem.scale),
            StandardNormal(2),
            problem.x,
            num_steps=num_steps,
            num_chains=32,
            step_size=0.5,
            seed=4,
        )
        errors.append(estimate.log_likelihood - problem.log_likelihood)
    medians = [float(np.median(e)) for e in errors]
    print("median errors", medians)
    # The errors are heavy-tailed at few steps (one poor set of chains can be
    # tens of nats off), so compare medians. Measured (JAX, TensorFlow,
    # PyTorch): 1 step -0.91/-0.73/-0.61, 5 steps -0.60/-0.61/-0.15,
    # 100 steps -0.07/-0.06/+0.01.
    assert medians[0] + 0.05 < medians[1] and medians[1] + 0.1 < medians[2], medians
    # The longest run is within 0.2 nats of the exact value on average.
    assert abs(errors[-1].mean()) < 0.2, errors[-1]


def test_bernoulli_decoder_agrees_with_quadrature():
    decoder, x, exact, (mean, variance) = bernoulli_problem()
    estimate = ais_log_likelihood(
        decoder, Bernoulli(), StandardNormal(2), x, initial=(mean, 1.5 * variance),
        num_steps=100, num_chains=64, step_size=0.5, seed=5,
    )
    error = estimate.log_likelihood - exact
    assert np.max(np.abs(error)) < 0.05, error


def test_chunks_progress_bar_and_seed(capsys):
    problem, initial = _problem()
    kwargs = dict(
        decoder=problem.decoder,
        likelihood=Gaussian(problem.scale),
        prior=None,  # a standard normal of the decoder's input size
        x=problem.x[:5],
        initial=(initial[0][:5], initial[1][:5]),
        num_steps=6,
        num_chains=3,
        batch_size=2,  # chunks of 2, 2 and a padded 1
        seed=7,
    )
    first = ais_log_likelihood(verbose=1, **kwargs)
    assert "example-step" in capsys.readouterr().out
    second = ais_log_likelihood(**kwargs)
    assert first.log_weights.shape == (5, 3)
    assert np.all(np.isfinite(first.log_weights))
    np.testing.assert_allclose(first.log_weights, second.log_weights, rtol=1e-5)
    third = ais_log_likelihood(**{**kwargs, "seed": 8})
    assert not np.allclose(first.log_weights, third.log_weights)


def test_callable_initial_and_errors():
    problem, initial = _problem()
    args = (problem.decoder, Gaussian(problem.scale), StandardNormal(2), problem.x)

    def moments(x_chunk):
        # Look the rows up by value: the chunk is a slice of problem.x.
        rows = [int(np.argmin(np.abs(problem.x - row).sum(-1))) for row in x_chunk]
        return initial[0][rows], initial[1][rows]

    estimate = ais_log_likelihood(
        *args, initial=moments, num_steps=3, num_chains=2, batch_size=5, seed=0
    )
    assert estimate.log_likelihood.shape == (12,)
    with pytest.raises(ValueError, match="shape"):
        ais_log_likelihood(*args, initial=(initial[0][:3], initial[1][:3]), num_steps=2)
    with pytest.raises(ValueError, match="positive"):
        ais_log_likelihood(*args, initial=(initial[0], -initial[1]), num_steps=2)
    with pytest.raises(ValueError, match="adaptation"):
        ais_log_likelihood(*args, adaptation="global")
