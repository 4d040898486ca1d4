"""Tests of the estimate container and the helpers the estimators share.

The statistics of `LogLikelihoodEstimate` are checked against direct NumPy
and SciPy computations (and, for the standard error, against the spread of
the estimator over repeated draws); the flags and the warning are tested in
`reliability_test.py`.
"""

import math
import re
import warnings

import keras
import numpy as np
import pytest
from keras import ops
from scipy import special
from scipy import stats

from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation import estimate
from keras_avb.evaluation.estimate import LogLikelihoodEstimate
from keras_avb.evaluation.estimate import LowEffectiveSampleSizeWarning
from keras_avb.evaluation.estimate import reliability_threshold


def _log_weights(seed=0):
    """Rows of log-weights from nearly equal to dominated by a few."""
    rng = np.random.default_rng(seed)
    spreads = np.array([0.01, 0.3, 1.0, 3.0])[:, None]
    return rng.normal(size=(4, 50)) * spreads + rng.normal(size=(4, 1))


# -- LogLikelihoodEstimate ------------------------------------------------------


def test_statistics_match_direct_computations():
    log_weights = _log_weights()
    result = LogLikelihoodEstimate.from_log_weights(log_weights)
    w = np.exp(log_weights)
    k = w.shape[1]
    np.testing.assert_allclose(result.log_likelihood, np.log(w.mean(axis=1)), rtol=1e-12)
    np.testing.assert_allclose(
        result.effective_sample_size, w.sum(1) ** 2 / (w**2).sum(1), rtol=1e-10
    )
    # The delta method: sd(log mean w) ~ sd(w) / (sqrt(K) mean(w)).
    delta_method = w.std(axis=1, ddof=1) / (np.sqrt(k) * w.mean(axis=1))
    np.testing.assert_allclose(result.standard_error, delta_method, rtol=1e-8)
    assert result.num_samples == k
    np.testing.assert_array_equal(result.log_weights, log_weights)
    assert result.mean == pytest.approx(np.mean(np.log(w.mean(axis=1))))


def test_standard_error_matches_the_spread_of_repeated_estimates():
    # Log-normal weights: E[w] = exp(mu + s^2 / 2) is the exact "p(x)".
    mu, s, k, repeats = -3.0, 0.5, 1000, 400
    log_weights = np.random.default_rng(1).normal(mu, s, size=(repeats, k))
    result = LogLikelihoodEstimate.from_log_weights(log_weights)
    spread = result.log_likelihood.std(ddof=1)
    # With 400 repeats the sample sd is within about 3.5% (1 sd) of its
    # expectation; 15% is over 4 sd.
    assert np.mean(result.standard_error) == pytest.approx(spread, rel=0.15)
    # Unbiased up to the Jensen gap -SE^2 / 2 (1.4e-4 here); the mean of
    # the 400 estimates has a sampling sd of about 8.5e-4.
    exact = mu + s**2 / 2
    assert abs(result.log_likelihood.mean() - exact) < 4 * spread / np.sqrt(repeats)


@pytest.mark.parametrize("shift", [-1e4, 800.0])
def test_log_weights_far_from_zero_stay_finite_and_shift(shift):
    # exp() of these under- or overflows; the log-sum-exp must not.
    log_weights = _log_weights()
    base = LogLikelihoodEstimate.from_log_weights(log_weights)
    shifted = LogLikelihoodEstimate.from_log_weights(log_weights + shift)
    np.testing.assert_allclose(shifted.log_likelihood, base.log_likelihood + shift, rtol=1e-12)
    np.testing.assert_allclose(shifted.standard_error, base.standard_error, rtol=1e-6)
    np.testing.assert_allclose(
        shifted.effective_sample_size, base.effective_sample_size, rtol=1e-6
    )


def test_rows_of_minus_infinity_give_minus_infinity():
    log_weights = np.array([[-np.inf, -np.inf], [0.0, -np.inf]])
    with np.errstate(all="ignore"):
        result = LogLikelihoodEstimate.from_log_weights(log_weights)
    assert result.log_likelihood[0] == -np.inf
    assert result.log_likelihood[1] == pytest.approx(-math.log(2.0))
    assert result.effective_sample_size[1] == pytest.approx(1.0)


def test_from_log_sums_agrees_with_from_log_weights():
    log_weights = _log_weights(seed=2)
    from_sums = LogLikelihoodEstimate.from_log_sums(
        special.logsumexp(log_weights, axis=1),
        special.logsumexp(2 * log_weights, axis=1),
        num_samples=log_weights.shape[1],
    )
    from_weights = LogLikelihoodEstimate.from_log_weights(log_weights)
    for field in ("log_likelihood", "standard_error", "effective_sample_size"):
        np.testing.assert_allclose(
            getattr(from_sums, field), getattr(from_weights, field), rtol=1e-10
        )
    np.testing.assert_array_equal(
        from_sums.standard_error_reliable, from_weights.standard_error_reliable
    )
    assert from_sums.log_weights is None


def test_a_single_weight_is_the_estimate_and_has_no_standard_error():
    result = LogLikelihoodEstimate.from_log_weights(np.array([[-2.5], [1.0]]))
    np.testing.assert_allclose(result.log_likelihood, [-2.5, 1.0])
    np.testing.assert_allclose(result.effective_sample_size, [1.0, 1.0])
    assert np.all(np.isnan(result.standard_error))


def test_summary_reports_the_standard_error_of_the_mean():
    result = LogLikelihoodEstimate.from_log_weights(_log_weights())
    n = result.log_likelihood.size
    expected = np.sqrt(np.sum(result.standard_error**2)) / n
    pattern = r"~ (-?[\d.]+) \+- ([\d.]+) \(mean of (\d+) examples; (\d+) samples"
    match = re.search(pattern, result.summary())
    assert match, result.summary()
    assert float(match.group(1)) == pytest.approx(result.log_likelihood.mean(), abs=1e-4)
    assert float(match.group(2)) == pytest.approx(expected, abs=1e-4)
    assert (int(match.group(3)), int(match.group(4))) == (n, 50)


def test_warning_carries_the_advice():
    result = LogLikelihoodEstimate.from_log_weights(np.log([[1.0] + [1e-9] * 39]))
    with pytest.warns(LowEffectiveSampleSizeWarning, match="Use a better proposal.$"):
        result.warn_if_unreliable(advice="Use a better proposal.")
    reliable = LogLikelihoodEstimate.from_log_weights(np.zeros((2, 40)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reliable.warn_if_unreliable(advice="never shown")


@pytest.mark.parametrize(
    "num_samples, expected",
    # K / 4 below 40, 10 from 40 to 1000, 1% of K above.
    [(2, 0.5), (39, 9.75), (40, 10.0), (500, 10.0), (1000, 10.0), (1001, 10.01), (4000, 40.0)],
)
def test_reliability_threshold_follows_the_documented_rule(num_samples, expected):
    assert reliability_threshold(num_samples) == pytest.approx(expected)


# -- Helpers --------------------------------------------------------------------


def test_to_numpy_keeps_the_dtype_and_converts_tensors():
    images = np.zeros((3, 2, 2), dtype="uint8")
    assert estimate.to_numpy(images).dtype == np.uint8
    converted = estimate.to_numpy(ops.ones((2, 3)))
    assert isinstance(converted, np.ndarray) and converted.shape == (2, 3)


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "`x` is None"),
        (np.zeros(5), r"batch axis .* got shape \(5,\)"),
        (np.array([["a", "b"]]), "must hold numbers; got dtype <U1"),
    ],
)
def test_to_numpy_rejects_what_is_not_a_batch_of_numbers(value, message):
    with pytest.raises(ValueError, match=message):
        estimate.to_numpy(value)


@pytest.mark.parametrize("num_examples, batch_size", [(10, 3), (9, 3), (2, 5), (0, 4), (7, 1)])
def test_chunks_cover_the_examples_once_in_order(num_examples, batch_size):
    pieces = estimate.chunks(num_examples, batch_size)
    covered = [i for start, stop in pieces for i in range(start, stop)]
    assert covered == list(range(num_examples))
    assert all(0 < stop - start <= batch_size for start, stop in pieces)
    assert len(pieces) == math.ceil(num_examples / batch_size)


def test_chunks_reject_an_empty_batch():
    with pytest.raises(ValueError, match="`batch_size` must be >= 1. Received: 0"):
        estimate.chunks(5, 0)


def test_pad_rows_repeats_the_last_row():
    array = np.arange(6).reshape(3, 2)
    padded = estimate.pad_rows(array, 5)
    np.testing.assert_array_equal(padded[:3], array)
    np.testing.assert_array_equal(padded[3:], [[4, 5], [4, 5]])
    assert estimate.pad_rows(array, 3) is array
    assert estimate.pad_rows(array, 2) is array


def test_resolve_prior():
    prior = StandardNormal(3)
    assert estimate.resolve_prior(prior, decoder=None) is prior
    decoder = keras.Sequential([keras.Input((4,)), keras.layers.Activation("tanh")])
    resolved = estimate.resolve_prior(None, decoder)
    assert isinstance(resolved, StandardNormal) and resolved.latent_dim == 4
    assert estimate.resolve_prior(None, decoder, latent_dim=6).latent_dim == 6
    with pytest.raises(ValueError, match="Pass `prior`"):
        estimate.resolve_prior(None, lambda z: z)


def test_gaussian_moments_from_arrays_and_from_a_callable():
    rng = np.random.default_rng(0)
    mean, variance = rng.normal(size=(6, 2)), rng.uniform(0.5, 2.0, size=(6, 2))
    x = rng.normal(size=(6, 3))
    got_mean, got_variance = estimate.gaussian_moments(
        (mean, variance), x[2:5], 2, 5, 2, "proposal"
    )
    assert got_mean.dtype == got_variance.dtype == np.float32
    np.testing.assert_allclose(got_mean, mean[2:5], rtol=1e-6)
    np.testing.assert_allclose(got_variance, variance[2:5], rtol=1e-6)
    seen = []

    def moments(x_chunk):
        seen.append(x_chunk)
        return ops.zeros((len(x_chunk), 2)), ops.ones((len(x_chunk), 2))

    got_mean, got_variance = estimate.gaussian_moments(moments, x[4:], 4, 6, 2, "proposal")
    np.testing.assert_array_equal(seen[0], x[4:])
    np.testing.assert_array_equal(got_variance, np.ones((2, 2)))
    assert estimate.gaussian_moments(None, x, 0, 6, 2, "proposal") is None


@pytest.mark.parametrize(
    "moments, message",
    [
        (np.zeros((2, 6, 2)), r"`initial` must be None, a `\(mean, variance\)` pair"),
        ((np.zeros((6, 3)), np.ones((6, 3))), r"of shape \(6, 2\) .* got \(6, 3\) and \(6, 3\)"),
        ((np.zeros((6, 2)), np.zeros((6, 2))), "variances of `initial` must be positive"),
        ((np.full((6, 2), np.nan), np.ones((6, 2))), "NaN"),
    ],
)
def test_gaussian_moments_name_the_problem(moments, message):
    with pytest.raises(ValueError, match=message):
        estimate.gaussian_moments(moments, np.zeros((6, 3)), 0, 6, 2, "initial")


def test_log_joint_matches_scipy():
    rng = np.random.default_rng(3)
    kernel, bias = rng.normal(size=(2, 3)), rng.normal(size=3)
    calls = []

    def decoder(z, training=None):
        calls.append(training)
        return ops.matmul(z, kernel.astype("float32")) + bias.astype("float32")

    z, x = rng.normal(size=(5, 2)), rng.normal(size=(5, 3))
    log_joint = estimate.make_log_joint(decoder, Gaussian(0.7), StandardNormal(2))
    got = ops.convert_to_numpy(log_joint(z.astype("float32"), x.astype("float32")))
    expected = stats.norm.logpdf(z).sum(-1) + stats.norm.logpdf(x, z @ kernel + bias, 0.7).sum(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    assert calls == [False]  # the decoder runs in inference mode


def test_new_seed():
    assert estimate.new_seed(7) == 7
    fresh = [estimate.new_seed(None) for _ in range(3)]
    assert all(isinstance(s, int) and 0 <= s < 2**30 for s in fresh)
    assert len(set(fresh)) == 3
    from_generator = estimate.new_seed(keras.random.SeedGenerator(11))
    assert isinstance(from_generator, int) and 0 <= from_generator < 2**30
    # A generator seeded alike gives the same seed: reproducible runs.
    assert estimate.new_seed(keras.random.SeedGenerator(11)) == from_generator
    # One generator gives a fresh seed at each call, as Keras' random ops do.
    generator = keras.random.SeedGenerator(11)
    seeds = [estimate.new_seed(generator) for _ in range(3)]
    assert seeds[0] == from_generator and len(set(seeds)) == 3


def test_stateless_runner_maps_the_decoder_variables_and_the_seed():
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    runner = estimate.StatelessRunner(decoder)
    assert [id(v) for v in runner.variables] == [id(v) for v in decoder.variables]
    values = [ops.zeros((2, 3)), ops.convert_to_tensor([1.0, 2.0, 3.0])]
    with runner.scope(values):
        out = ops.convert_to_numpy(decoder(ops.ones((4, 2))))
    np.testing.assert_allclose(out, np.tile([1.0, 2.0, 3.0], (4, 1)))
    # The decoder's own weights are untouched outside the scope.
    assert not np.allclose(ops.convert_to_numpy(decoder(ops.ones((1, 2)))), [1.0, 2.0, 3.0])

    def draw(seed, counter):
        with runner.scope(runner.variable_values(), runner.seed_state(seed, counter)):
            return ops.convert_to_numpy(keras.random.normal((4,), seed=runner.seed_generator))

    np.testing.assert_array_equal(draw(5, 0), draw(5, 0))
    assert not np.allclose(draw(5, 0), draw(5, 1))
    assert not np.allclose(draw(5, 0), draw(6, 0))
