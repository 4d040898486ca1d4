"""Tests of the target helpers: TFP distributions on flat vectors, argument checks.

The rejections that `fit_posterior` reports (bad targets, bad event sizes,
TFP under torch, a mismatched TFP event size) are tested through it in
`api_test.py` and `api_bad_input_test.py`.
"""

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_avb import backend
from keras_avb.distributions import StandardNormal
from keras_avb.vi.targets import check_target
from keras_avb.vi.targets import resolve_target
from keras_avb.vi.targets import tfp_log_prob_fn

BACKEND = keras.backend.backend()
needs_tfp = pytest.mark.skipif(
    BACKEND == "torch",
    reason="needs TensorFlow Probability, which has no PyTorch substrate "
    "(runs under the tensorflow and jax backends)",
)
LOC = np.arange(6, dtype="float32").reshape(2, 3)


def _joint():
    """a ~ N(1, 0.5), b ~ N(LOC, 2) of shape (2, 3), c | a ~ N(a, 1)."""
    tfd = backend.tfp().distributions
    return tfd.JointDistributionSequential(
        [
            tfd.Normal(1.0, 0.5),
            tfd.Independent(tfd.Normal(LOC, 2.0), reinterpreted_batch_ndims=2),
            lambda b, a: tfd.Normal(a, 1.0),
        ]
    )


def _expected_log_prob(z):
    """The joint's log-density with SciPy, on the flat layout [a, b (row-major), c]."""
    a, b, c = z[:, 0], z[:, 1:7], z[:, 7]
    return (
        stats.norm.logpdf(a, 1.0, 0.5)
        + stats.norm.logpdf(b, LOC.reshape(1, 6), 2.0).sum(-1)
        + stats.norm.logpdf(c, a, 1.0)
    )


def _flat_points(n=5, size=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, size)).astype("float32")


@needs_tfp
def test_a_pinned_distribution_is_the_unnormalised_posterior_of_its_free_parts():
    tfd = backend.tfp().distributions
    joint = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0), lambda m: tfd.Normal(m, 2.0)])
    log_prob, event_size = tfp_log_prob_fn(joint.experimental_pin(None, 0.5))
    assert event_size == 1
    z = np.array([[0.3], [-1.0]], "float32")
    expected = stats.norm.logpdf(z[:, 0]) + stats.norm.logpdf(0.5, z[:, 0], 2.0)
    np.testing.assert_allclose(
        ops.convert_to_numpy(log_prob(ops.convert_to_tensor(z))), expected, rtol=1e-5
    )


@needs_tfp
def test_tfp_log_prob_fn_splits_the_flat_vector_in_the_order_of_the_parts():
    log_prob, event_size = tfp_log_prob_fn(_joint())
    assert event_size == 8
    z = _flat_points()
    got = ops.convert_to_numpy(log_prob(ops.convert_to_tensor(z)))
    np.testing.assert_allclose(got, _expected_log_prob(z.astype("float64")), rtol=1e-5)


@needs_tfp
def test_resolve_target_takes_a_distribution_or_its_log_prob_method():
    jd = _joint()
    z = _flat_points(seed=1)
    for target, event_size in ((jd, None), (jd.log_prob, None), (jd, 8)):
        log_prob, size = resolve_target(target, event_size)
        assert size == 8
        np.testing.assert_allclose(
            ops.convert_to_numpy(log_prob(ops.convert_to_tensor(z))),
            _expected_log_prob(z.astype("float64")),
            rtol=1e-5,
        )
        check_target(log_prob, size)


def gaussian(z):
    return -0.5 * ops.sum(ops.square(z), axis=-1)


def test_resolve_target_passes_a_callable_through():
    log_prob, size = resolve_target(gaussian, np.int64(3))
    assert log_prob is gaussian
    assert size == 3 and type(size) is int
    # A bound `log_prob` of an object that is not a TFP distribution is
    # just a callable.
    prior = StandardNormal(2)
    log_prob, size = resolve_target(prior.log_prob, 2)
    assert log_prob == prior.log_prob and size == 2


@pytest.mark.parametrize(
    "target, event_size, message",
    [
        (gaussian, True, "`event_size` must be an integer >= 1. Received: True"),
        (gaussian, -2, "`event_size` must be an integer >= 1. Received: -2"),
        (gaussian, "3", "`event_size` must be an integer >= 1. Received: '3'"),
        (3.0, 2, "must be a callable .* Received: 3.0"),
    ],
)
def test_resolve_target_names_the_problem(target, event_size, message):
    with pytest.raises(ValueError, match=message):
        resolve_target(target, event_size)


def test_check_target_calls_the_target_on_a_batch_of_the_event_size():
    seen = []

    def recorder(z):
        seen.append(tuple(z.shape))
        return gaussian(z)

    check_target(recorder, 4, batch=5)
    assert seen == [(5, 4)]


def test_check_target_accepts_minus_infinity_at_some_points():
    # A truncated target (mass on z_0 > 0 only) is valid; only -inf at
    # every checked point is refused (see api_bad_input_test.py).
    def half_normal(z):
        return ops.where(z[:, 0] > 0, gaussian(z), -np.inf)

    values = ops.convert_to_numpy(
        half_normal(ops.convert_to_tensor(np.random.default_rng(0).normal(size=(3, 2))))
    )
    assert np.any(np.isneginf(values)) and np.any(np.isfinite(values))
    check_target(half_normal, 2)
