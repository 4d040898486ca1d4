import numpy as np
import pytest

from keras_avb.evaluation.divergences import kl_divergence_knn


def _gaussian_kl(mean_p, cov_p, mean_q, cov_q):
    d = mean_p.shape[0]
    cov_q_inv = np.linalg.inv(cov_q)
    diff = mean_q - mean_p
    return 0.5 * (
        np.trace(cov_q_inv @ cov_p)
        + diff @ cov_q_inv @ diff
        - d
        + np.linalg.slogdet(cov_q)[1]
        - np.linalg.slogdet(cov_p)[1]
    )


def _pair(d, n, seed):
    rng = np.random.default_rng(seed)
    mean_p, mean_q = np.zeros(d), np.full(d, 0.3)
    cov_p, cov_q = np.diag(np.linspace(0.5, 1.5, d)), np.eye(d)
    p = rng.multivariate_normal(mean_p, cov_p, size=n)
    q = rng.multivariate_normal(mean_q, cov_q, size=n)
    return p, q, _gaussian_kl(mean_p, cov_p, mean_q, cov_q)


def test_two_dims_matches_closed_form():
    # Exact KL = 0.234. Over seeds, the estimate with n = m = 5000 has a
    # standard deviation of about 0.035 and no visible bias; 0.12 is > 3 sd.
    p, q, exact = _pair(2, 5000, seed=0)
    assert abs(kl_divergence_knn(p, q) - exact) < 0.12


def test_two_dims_with_k_greater_than_one():
    p, q, exact = _pair(2, 5000, seed=1)
    assert abs(kl_divergence_knn(p, q, k=5) - exact) < 0.1


def test_ten_dims_matches_closed_form():
    # Exact KL = 0.732. In 10 dimensions the estimator is biased downwards
    # for finite samples: with n = m = 5000 its mean over seeds is about
    # 0.61 (sd 0.035). The tolerance covers that known bias plus 3 sd.
    p, q, exact = _pair(10, 5000, seed=2)
    estimate = kl_divergence_knn(p, q)
    assert abs(estimate - exact) < 0.25
    # ... and it still tells this pair from two samples of one distribution.
    p2 = np.random.default_rng(3).multivariate_normal(
        np.zeros(10), np.diag(np.linspace(0.5, 1.5, 10)), size=5000
    )
    same = kl_divergence_knn(p, p2)
    assert abs(same) < 0.15
    assert estimate > same + 0.3


def test_larger_shift_gives_larger_estimate():
    rng = np.random.default_rng(4)
    p = rng.normal(size=(3000, 2))
    estimates = [
        kl_divergence_knn(p, rng.normal(loc=shift, size=(3000, 2)))
        for shift in (0.5, 1.0, 2.0)
    ]
    exact = [0.5 * 2 * s**2 for s in (0.5, 1.0, 2.0)]  # d * s^2 / 2
    assert estimates[0] < estimates[1] < estimates[2]
    # Small divergences are estimated well; large ones (here 4 nats, with
    # p's samples in q's tail) are underestimated at this sample size.
    np.testing.assert_allclose(estimates[:2], exact[:2], atol=0.15)
    assert 0.75 * exact[2] < estimates[2] < exact[2] + 0.2


def test_one_dimensional_input_and_errors():
    rng = np.random.default_rng(5)
    p, q = rng.normal(size=4000), rng.normal(loc=1.0, size=4000)
    assert abs(kl_divergence_knn(p, q) - 0.5) < 0.1
    with pytest.raises(ValueError, match="same d"):
        kl_divergence_knn(np.zeros((10, 2)), np.zeros((10, 3)))
    with pytest.raises(ValueError, match="repeated points"):
        kl_divergence_knn(np.zeros((10, 2)), rng.normal(size=(10, 2)))
    with pytest.raises(ValueError, match="NaN"):
        kl_divergence_knn(np.full((10, 2), np.nan), rng.normal(size=(10, 2)))
