"""Tests of `linear_gaussian_problem`'s exact answers, computed independently.

The model's parameters are read back from its decoder; the marginal
log-density is SciPy's multivariate normal of N(b, W W^T + sigma^2 I), and
the posterior comes from conditioning the joint Gaussian of (z, x), not from
the precision form the module uses.
"""

import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_avb.evaluation import linear_gaussian_problem


def _parameters(problem):
    kernel, bias = problem.decoder.layers[-1].get_weights()
    return kernel.T.astype("float64"), bias.astype("float64")  # W (D, d), b (D,)


def test_log_likelihood_is_the_marginal_density():
    problem = linear_gaussian_problem(num_examples=7, latent_dim=3, data_dim=4, scale=0.3, seed=5)
    weights, bias = _parameters(problem)
    marginal = stats.multivariate_normal(bias, weights @ weights.T + 0.3**2 * np.eye(4))
    np.testing.assert_allclose(problem.log_likelihood, marginal.logpdf(problem.x), rtol=1e-10)
    assert problem.log_likelihood.shape == (7,)


def test_posterior_is_the_conditional_of_the_joint_gaussian():
    problem = linear_gaussian_problem(num_examples=6, latent_dim=3, data_dim=5, scale=0.8, seed=2)
    weights, bias = _parameters(problem)
    # (z, x) is jointly Gaussian: Cov(z, x) = W^T, Cov(x) = W W^T + sigma^2 I.
    gain = weights.T @ np.linalg.inv(weights @ weights.T + 0.8**2 * np.eye(5))
    mean = (problem.x.astype("float64") - bias) @ gain.T
    covariance = np.eye(3) - gain @ weights
    np.testing.assert_allclose(problem.posterior_mean, mean, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        problem.posterior_variance, np.tile(np.diag(covariance), (6, 1)), rtol=1e-5
    )
    # The data shrink the prior's unit variance.
    assert np.all((problem.posterior_variance > 0) & (problem.posterior_variance < 1))


def test_decoder_is_the_mean_of_x_given_z():
    problem = linear_gaussian_problem(num_examples=3, latent_dim=2, data_dim=5, seed=0)
    weights, bias = _parameters(problem)
    z = np.random.default_rng(0).normal(size=(4, 2)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(problem.decoder(z)), z @ weights.T + bias, rtol=1e-5, atol=1e-5
    )


def test_data_are_drawn_from_the_marginal():
    n = 4000
    problem = linear_gaussian_problem(num_examples=n, latent_dim=2, data_dim=3, scale=0.5, seed=3)
    weights, bias = _parameters(problem)
    covariance = weights @ weights.T + 0.25 * np.eye(3)
    # Sampling standard deviations of the mean and of each covariance entry.
    mean_sd = np.sqrt(np.diag(covariance) / n)
    cov_sd = np.sqrt((np.outer(np.diag(covariance), np.diag(covariance)) + covariance**2) / n)
    assert np.all(np.abs(problem.x.mean(axis=0) - bias) < 4.5 * mean_sd)
    assert np.all(np.abs(np.cov(problem.x, rowvar=False) - covariance) < 4.5 * cov_sd)


def test_types_and_seeds():
    problem = linear_gaussian_problem(num_examples=4, seed=1)
    assert problem.x.dtype == np.float32 and problem.x.shape == (4, 5)
    assert problem.posterior_mean.dtype == problem.posterior_variance.dtype == np.float32
    assert problem.scale == pytest.approx(0.5) and isinstance(problem.scale, float)
    again = linear_gaussian_problem(num_examples=4, seed=1)
    np.testing.assert_array_equal(problem.x, again.x)
    np.testing.assert_array_equal(problem.log_likelihood, again.log_likelihood)
    assert not np.allclose(problem.x, linear_gaussian_problem(num_examples=4, seed=2).x)
