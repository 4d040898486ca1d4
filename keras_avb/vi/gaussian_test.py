"""Tests of `GaussianVI`'s Gaussian against NumPy and SciPy.

Fitting to targets with known optima (mean-field and full-rank) is tested
through `fit_posterior` in `api_test.py`.
"""

import math

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_avb.vi.gaussian import VARIATIONAL
from keras_avb.vi.gaussian import GaussianVI

LOC = np.array([0.5, -1.0, 2.0], "float32")
PARAMS = np.array([[0.3, 9.0, 9.0], [0.5, -0.4, 9.0], [-0.7, 0.2, 0.1]], "float32")
LOG_SCALE = np.array([0.3, -0.4, 0.1], "float32")


def gaussian(z):
    return -0.5 * ops.sum(ops.square(z), axis=-1)


def _model(full_rank, batch_size=8, target=gaussian):
    model = GaussianVI(target, 3, full_rank=full_rank, batch_size=batch_size, seed=0)
    model.loc.assign(LOC)
    model.scale_params.assign(PARAMS if full_rank else LOG_SCALE)
    return model


def _expected_scale(full_rank):
    """L: strictly lower part of the parameters plus an exponentiated diagonal."""
    if full_rank:
        return np.tril(PARAMS, -1) + np.diag(np.exp(np.diag(PARAMS)))
    return np.diag(np.exp(LOG_SCALE))


@pytest.mark.parametrize("full_rank", [False, True])
def test_starts_at_the_standard_normal(full_rank):
    model = GaussianVI(gaussian, 3, full_rank=full_rank)
    np.testing.assert_array_equal(model.mean, np.zeros(3))
    np.testing.assert_allclose(model.covariance, np.eye(3))
    entropy = float(ops.convert_to_numpy(model.entropy()))
    assert entropy == pytest.approx(stats.multivariate_normal(np.zeros(3)).entropy(), rel=1e-6)
    # One player: all of q's parameters, with the compiled optimizer.
    optimizer = keras.optimizers.SGD()
    model.compile(optimizer)
    variables, player_optimizer = model.players()[VARIATIONAL]
    assert player_optimizer is optimizer and len(variables) == 2
    assert {id(v) for v in variables} == {id(model.loc), id(model.scale_params)}
    assert model.update_schedule == ((VARIATIONAL,),)


@pytest.mark.parametrize("full_rank", [False, True])
def test_covariance_and_entropy_match_scipy(full_rank):
    model = _model(full_rank)
    scale = _expected_scale(full_rank)
    np.testing.assert_allclose(ops.convert_to_numpy(model.scale_tril()), scale, rtol=1e-6)
    np.testing.assert_allclose(model.covariance, scale @ scale.T, rtol=1e-5)
    np.testing.assert_allclose(model.mean, LOC)
    entropy = stats.multivariate_normal(LOC, scale @ scale.T).entropy()
    assert float(ops.convert_to_numpy(model.entropy())) == pytest.approx(entropy, rel=1e-5)


def test_the_upper_triangle_of_the_full_rank_parameters_is_unused():
    model = _model(full_rank=True)
    before = model.covariance
    model.scale_params.assign(np.tril(PARAMS) - 5.0 * np.triu(np.ones((3, 3)), 1))
    np.testing.assert_array_equal(model.covariance, before)


@pytest.mark.parametrize("full_rank", [False, True])
def test_call_maps_noise_and_sample_has_the_moments(full_rank):
    model = _model(full_rank)
    scale = _expected_scale(full_rank)
    noise = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(model(noise)), LOC + noise @ scale.T, rtol=1e-5, atol=1e-5
    )
    n = 20000
    samples = model.sample(n, seed=1)
    assert samples.shape == (n, 3)
    np.testing.assert_array_equal(samples, model.sample(n, seed=1))
    # Standard errors: sqrt(C_ii / n) for the mean, sqrt((C_ii C_jj + C_ij^2)
    # / n) for a covariance entry; checked to 4.5 of them.
    covariance = scale @ scale.T
    diagonal = np.diag(covariance)
    assert np.all(np.abs(samples.mean(0) - LOC) < 4.5 * np.sqrt(diagonal / n))
    cov_sd = np.sqrt((np.outer(diagonal, diagonal) + covariance**2) / n)
    assert np.all(np.abs(np.cov(samples, rowvar=False) - covariance) < 4.5 * cov_sd)


@pytest.mark.parametrize("full_rank", [False, True])
def test_loss_is_the_negative_elbo(full_rank):
    # Target: N(m, P^-1) up to a constant; then E_q[-log p~(z)] is
    # 0.5 (tr(P S) + d^T P d) with d = mu - m, S the covariance of q.
    mode = np.array([1.0, 0.0, -1.0], "float32")
    precision = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.3], [0.0, 0.3, 0.5]], "float32")

    def target(z):
        d = z - ops.convert_to_tensor(mode)
        return -0.5 * ops.sum(ops.matmul(d, ops.convert_to_tensor(precision)) * d, axis=-1)

    n = 20000
    model = _model(full_rank, batch_size=n, target=target)
    losses, values = model.compute_losses(None, (VARIATIONAL,), training=True)
    scale = _expected_scale(full_rank).astype("float64")
    covariance = scale @ scale.T
    d = LOC - mode
    p_s = precision @ covariance
    expected_cross = 0.5 * (np.trace(p_s) + d @ precision @ d)
    # Var(0.5 x^T P x) for x ~ N(d, S) is 0.5 tr(PSPS) + d^T PSP d.
    sd = math.sqrt((0.5 * np.trace(p_s @ p_s) + d @ p_s @ precision @ d) / n)
    entropy = stats.multivariate_normal(LOC, covariance).entropy()
    assert float(ops.convert_to_numpy(values["entropy"])) == pytest.approx(entropy, rel=1e-5)
    loss = float(ops.convert_to_numpy(losses[VARIATIONAL]))
    assert loss == pytest.approx(float(ops.convert_to_numpy(values["loss"])))
    assert abs(loss - (expected_cross - entropy)) < 4.5 * sd


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(target_log_prob_fn="log_prob"), "`target_log_prob_fn` must be callable"),
        (dict(batch_size=0), "`batch_size` must be an integer >= 1. Received: 0"),
        (dict(batch_size=True), "`batch_size` must be an integer >= 1. Received: True"),
        (dict(batch_size=2.5), "`batch_size` must be an integer >= 1. Received: 2.5"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        GaussianVI(**{"target_log_prob_fn": gaussian, "event_size": 2, **kwargs})
