"""Tests that the estimators say when their standard errors cannot be trusted.

With too few effective samples the delta-method standard error is computed
from weights that miss the bulk of the posterior: it is then many times
smaller than the real error. The linear-Gaussian model gives the exact
log p(x) to measure the real error against.
"""

import warnings

import numpy as np
import pytest

from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation import LogLikelihoodEstimate
from keras_avb.evaluation import LowEffectiveSampleSizeWarning
from keras_avb.evaluation import ais_log_likelihood
from keras_avb.evaluation import importance_log_likelihood
from keras_avb.evaluation import linear_gaussian_problem
from keras_avb.evaluation import reliability_threshold


def _six_dim_problem():
    return linear_gaussian_problem(
        num_examples=16, latent_dim=6, data_dim=12, scale=0.5, seed=0
    )


def _estimate(problem, proposal):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        estimate = importance_log_likelihood(
            problem.decoder, Gaussian(problem.scale), StandardNormal(6), problem.x,
            proposal=proposal, num_samples=1000, seed=0, verbose=0,
        )
    ess_warnings = [
        w for w in caught if issubclass(w.category, LowEffectiveSampleSizeWarning)
    ]
    return estimate, ess_warnings


def test_prior_proposal_in_six_dimensions_warns_and_flags_the_standard_error():
    problem = _six_dim_problem()
    estimate, caught = _estimate(problem, proposal=None)
    error = np.abs(estimate.log_likelihood - problem.log_likelihood)
    # The situation the warning is for: the reported standard error is far
    # smaller than the real error.
    assert np.median(error / estimate.standard_error) > 5, (error, estimate.standard_error)
    assert len(caught) == 1
    assert "standard_error_reliable" in str(caught[0].message)
    assert "proposal is the prior" in str(caught[0].message)
    assert estimate.standard_error_reliable.dtype == bool
    assert not np.any(estimate.standard_error_reliable[error > 3 * estimate.standard_error])
    assert estimate.num_unreliable >= 12
    assert "UNRELIABLE" in estimate.summary()


def test_posterior_proposal_does_not_warn_and_its_standard_error_holds():
    problem = _six_dim_problem()
    proposal = (problem.posterior_mean, 1.5 * problem.posterior_variance)
    estimate, caught = _estimate(problem, proposal=proposal)
    assert caught == []
    assert np.all(estimate.standard_error_reliable)
    assert estimate.num_unreliable == 0
    assert "UNRELIABLE" not in estimate.summary()
    error = estimate.log_likelihood - problem.log_likelihood
    # Calibrated: the errors have about the reported spread.
    ratio = np.sqrt(np.mean(error**2) / np.mean(estimate.standard_error**2))
    assert 0.5 < ratio < 2.0, ratio


def test_ais_flags_examples_whose_weight_sits_on_one_chain():
    problem = _six_dim_problem()
    with pytest.warns(LowEffectiveSampleSizeWarning, match="num_chains"):
        # Two intermediate distributions from the prior: hardly annealed.
        estimate = ais_log_likelihood(
            problem.decoder, Gaussian(problem.scale), StandardNormal(6),
            problem.x[:4], num_steps=2, num_chains=5, seed=0, verbose=0,
        )
    threshold = reliability_threshold(5)
    np.testing.assert_array_equal(
        estimate.standard_error_reliable, estimate.effective_sample_size >= threshold
    )
    assert estimate.num_unreliable >= 1


def test_flags_follow_the_threshold():
    # Per example: equal weights (ESS 40) and one dominant weight (ESS ~1).
    log_weights = np.zeros((2, 40))
    log_weights[1, 1:] = -50.0
    estimate = LogLikelihoodEstimate.from_log_weights(log_weights)
    assert reliability_threshold(40) == 10.0
    np.testing.assert_array_equal(estimate.standard_error_reliable, [True, False])
    with pytest.warns(LowEffectiveSampleSizeWarning):
        estimate.warn_if_unreliable()
    # A single weight has no standard error at all: flagged, never warned.
    single = LogLikelihoodEstimate.from_log_weights(np.zeros((3, 1)))
    assert not np.any(single.standard_error_reliable)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        single.warn_if_unreliable()
