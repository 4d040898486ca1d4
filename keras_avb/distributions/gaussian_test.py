import math

import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_avb.distributions.gaussian import LOG_2PI
from keras_avb.distributions.gaussian import normal_log_prob


def _numpy(x):
    return ops.convert_to_numpy(x)


def test_log_2pi():
    assert LOG_2PI == math.log(2.0 * math.pi)


def test_standard_normal_matches_scipy():
    z = np.random.default_rng(0).normal(size=(5, 3)).astype("float32")
    expected = stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z)
    np.testing.assert_allclose(_numpy(normal_log_prob(z)), expected, rtol=1e-5)


def test_diagonal_gaussian_matches_scipy():
    rng = np.random.default_rng(1)
    z, mean = rng.normal(size=(2, 4, 3)).astype("float32")
    variance = rng.uniform(0.2, 3.0, size=(4, 3)).astype("float32")
    expected = [
        stats.multivariate_normal(m, np.diag(v)).logpdf(row)
        for row, m, v in zip(z, mean, variance)
    ]
    got = normal_log_prob((z - mean) / np.sqrt(variance), np.log(variance))
    np.testing.assert_allclose(_numpy(got), expected, rtol=1e-5)


def test_full_covariance_matches_scipy():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(3, 3))
    covariance = a @ a.T + np.eye(3)
    chol = np.linalg.cholesky(covariance)
    mean = rng.normal(size=3)
    z = rng.normal(size=(6, 3))
    z_norm = np.linalg.solve(chol, (z - mean).T).T
    log_det = np.full((6,), np.linalg.slogdet(covariance)[1])
    got = normal_log_prob(z_norm.astype("float32"), log_det=log_det.astype("float32"))
    expected = stats.multivariate_normal(mean, covariance).logpdf(z)
    np.testing.assert_allclose(_numpy(got), expected, rtol=1e-5)


def test_log_det_and_log_variance_agree_on_a_diagonal():
    rng = np.random.default_rng(3)
    z_norm = rng.normal(size=(4, 2)).astype("float32")
    log_variance = rng.normal(size=(4, 2)).astype("float32")
    np.testing.assert_allclose(
        _numpy(normal_log_prob(z_norm, log_variance)),
        _numpy(normal_log_prob(z_norm, log_det=log_variance.sum(-1))),
        rtol=1e-5,
    )


def test_rejects_both_log_variance_and_log_det():
    with pytest.raises(ValueError, match="not both"):
        normal_log_prob(np.zeros((1, 2)), np.zeros((1, 2)), log_det=np.zeros((1,)))
