"""Tests of `importance_log_likelihood` against exact log-likelihoods."""

import keras
import numpy as np
import pytest

from keras_avb.distributions import Bernoulli
from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation import importance_log_likelihood
from keras_avb.evaluation import linear_gaussian_problem
from keras_avb.evaluation.ais_test import bernoulli_problem

BACKEND = keras.backend.backend()


def _problem(num_examples=12):
    problem = linear_gaussian_problem(
        num_examples=num_examples, data_dim=4, scale=0.7, seed=1
    )
    std = np.sqrt(problem.posterior_variance)
    proposal = (problem.posterior_mean + 0.25 * std, 1.5 * problem.posterior_variance)
    return problem, proposal


def test_linear_gaussian_matches_the_exact_log_likelihood():
    problem, proposal = _problem()
    estimate = importance_log_likelihood(
        problem.decoder, Gaussian(problem.scale), StandardNormal(2), problem.x,
        proposal=proposal, num_samples=5000, batch_size=5, samples_per_batch=2000,
        seed=1,
    )
    error = estimate.log_likelihood - problem.log_likelihood
    assert np.max(np.abs(error)) < 0.05, error
    assert np.all(estimate.standard_error < 0.05)
    assert np.all(estimate.effective_sample_size > 500)
    assert np.all(estimate.effective_sample_size <= 5000 + 1e-6)


def test_iwae_bound_rises_with_the_number_of_samples():
    problem = linear_gaussian_problem(num_examples=32, data_dim=8, scale=0.3, seed=1)
    std = np.sqrt(problem.posterior_variance)
    # A poor proposal: shifted by one posterior std and 3x too wide.
    proposal = (problem.posterior_mean + std, 3.0 * problem.posterior_variance)
    means = []
    for num_samples in (1, 3, 1000):
        estimate = importance_log_likelihood(
            problem.decoder, Gaussian(problem.scale), None, problem.x,
            proposal=proposal, num_samples=num_samples, seed=2,
        )
        means.append(np.mean(estimate.log_likelihood - problem.log_likelihood))
    print("mean errors", means)
    # Each mean gap to log p(x) shrinks by over 0.1 nats.
    assert means[1] - means[0] > 0.1 and means[2] - means[1] > 0.1, means
    assert abs(means[2]) < 0.05, means


def test_standard_error_matches_the_spread_of_repeated_estimates():
    problem, proposal = _problem()
    # 400 independent estimates for one example: rows of the same x.
    x = np.repeat(problem.x[:1], 400, axis=0)
    proposal = tuple(np.repeat(p[:1], 400, axis=0) for p in proposal)
    estimate = importance_log_likelihood(
        problem.decoder, Gaussian(problem.scale), StandardNormal(2), x,
        proposal=proposal, num_samples=50, batch_size=200, seed=3,
    )
    spread = np.std(estimate.log_likelihood)
    ratio = np.mean(estimate.standard_error) / spread
    assert 0.75 < ratio < 1.33, (np.mean(estimate.standard_error), spread)
    # log p(x) from the mean of the 400 estimates of p(x).
    pooled = np.log(np.mean(np.exp(estimate.log_likelihood - problem.log_likelihood[0])))
    assert abs(pooled) < 0.02


def test_bernoulli_decoder_with_prior_proposal_agrees_with_quadrature():
    decoder, x, exact, _ = bernoulli_problem()
    # 4500 = 2000 + 2000 + 500 samples per example: a smaller last pass.
    estimate = importance_log_likelihood(
        decoder, Bernoulli(), StandardNormal(2), x,
        num_samples=4500, samples_per_batch=2000, batch_size=3, seed=4,
    )
    error = estimate.log_likelihood - exact
    assert np.max(np.abs(error)) < 0.05, error


def test_seeds_chunks_and_errors(capsys):
    problem, proposal = _problem()
    kwargs = dict(
        decoder=problem.decoder, likelihood=Gaussian(problem.scale), prior=None,
        x=problem.x, proposal=proposal, num_samples=30, batch_size=5,
    )
    first = importance_log_likelihood(seed=5, verbose=1, **kwargs)
    assert "sample" in capsys.readouterr().out
    second = importance_log_likelihood(seed=5, **kwargs)
    third = importance_log_likelihood(seed=6, **kwargs)
    np.testing.assert_allclose(first.log_likelihood, second.log_likelihood, rtol=1e-6)
    assert not np.allclose(first.log_likelihood, third.log_likelihood)
    one = importance_log_likelihood(seed=5, **{**kwargs, "num_samples": 1})
    assert np.all(np.isnan(one.standard_error))
    np.testing.assert_allclose(one.effective_sample_size, 1.0)
    with pytest.raises(ValueError, match="shape"):
        importance_log_likelihood(**{**kwargs, "proposal": (proposal[0][:2], proposal[1][:2])})
    with pytest.raises(ValueError, match="num_samples"):
        importance_log_likelihood(**{**kwargs, "num_samples": 0})
