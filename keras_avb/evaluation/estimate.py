"""What the log-likelihood estimators return, and the pieces they share.

`LogLikelihoodEstimate` holds per-example estimates of log p(x) with their
Monte Carlo standard errors and effective sample sizes. The helpers here
(chunking, moments of the Gaussian proposal, the statistics of importance
weights) are written with NumPy on the host and `keras.ops` on the device.
"""

import math
import warnings
from typing import NamedTuple
from typing import Optional

import keras
import numpy as np
from keras import ops

from keras_avb.distributions import priors as priors_lib
from keras_avb.utils import data_checks

#: The standard error of an example is flagged unreliable when its effective
#: sample size is below `MIN_EFFECTIVE_SAMPLES` effective samples (a quarter
#: of the samples when there are fewer than 40) or below
#: `MIN_EFFECTIVE_FRACTION` of the samples, whichever is larger; see
#: `reliability_threshold`.
MIN_EFFECTIVE_SAMPLES = 10
MIN_EFFECTIVE_FRACTION = 0.01


class LowEffectiveSampleSizeWarning(UserWarning):
    """Few importance weights carry the estimate: its standard error is unreliable.

    When a handful of weights dominate (a proposal far from the posterior),
    the spread of the weights seen so far says little about the spread of
    the estimator: the reported standard error can be many times smaller
    than the real error, and the estimate is then usually far below
    log p(x). The flags are in `LogLikelihoodEstimate.standard_error_reliable`.
    """


def reliability_threshold(num_samples):
    """The effective sample size below which a standard error is unreliable.

    `max(MIN_EFFECTIVE_FRACTION * K, min(MIN_EFFECTIVE_SAMPLES, K / 4))` for
    K weights per example: 10 for K from 40 to 1000, 1% of K above, K / 4
    below (1.25 for AIS's 5 chains).

    Example:

    >>> reliability_threshold(1000), reliability_threshold(5), reliability_threshold(10**5)
    (10.0, 1.25, 1000.0)
    """
    k = float(num_samples)
    return max(MIN_EFFECTIVE_FRACTION * k, min(float(MIN_EFFECTIVE_SAMPLES), k / 4.0))


class LogLikelihoodEstimate(NamedTuple):
    """Per-example estimates of log p(x) from importance weights.

    All fields are NumPy arrays with one entry per example (except
    `num_samples`), so the estimate does not depend on the backend.

    Attributes:
        log_likelihood: `log mean_k w_k`, the estimate of log p(x). Its
            expectation is a lower bound of log p(x) (Jensen).
        standard_error: the delta-method standard error of `log_likelihood`
            from the spread of the weights, `sqrt((K ESS^-1 - 1) / (K - 1))`;
            NaN with a single weight per example.
        effective_sample_size: `(sum_k w_k)^2 / sum_k w_k^2`, between 1 and
            the number of weights per example.
        num_samples: the number of weights (samples or AIS chains) per example.
        log_weights: the log-weights, shape `(examples, num_samples)`, where
            the estimator keeps them (AIS), else None.
        acceptance_rate: AIS only: the mean HMC acceptance probability over
            chains and transitions, per example.
        standard_error_reliable: per example, whether the effective sample
            size reaches `reliability_threshold(num_samples)` (10 of 1000
            samples, 1.25 of 5 chains). Where it is False, a few weights
            dominate and `standard_error` can be far smaller than the real
            error (on a 6-dimensional linear-Gaussian model with the prior
            as proposal: an ESS of about 1 of 1000 and an error about 18
            times the reported standard error); the estimators then warn
            with a `LowEffectiveSampleSizeWarning`. Always False with a
            single weight per example (the standard error is NaN).

    Example:

    >>> estimate = LogLikelihoodEstimate.from_log_weights(
    ...     np.log([[1.0, 1.0, 1.0, 1.0]]))
    >>> float(estimate.log_likelihood[0]), float(estimate.effective_sample_size[0])
    (0.0, 4.0)
    >>> float(estimate.standard_error[0])
    0.0
    >>> bool(estimate.standard_error_reliable[0])
    True
    """

    log_likelihood: np.ndarray
    standard_error: np.ndarray
    effective_sample_size: np.ndarray
    num_samples: int
    log_weights: Optional[np.ndarray] = None
    acceptance_rate: Optional[np.ndarray] = None
    standard_error_reliable: Optional[np.ndarray] = None

    @property
    def mean(self):
        """The mean of `log_likelihood` over the examples (a float).

        Example:

        >>> LogLikelihoodEstimate.from_log_weights(np.zeros((3, 2))).mean
        0.0
        """
        return float(np.mean(self.log_likelihood))

    @property
    def num_unreliable(self):
        """The number of examples whose standard error is flagged unreliable.

        Example:

        >>> LogLikelihoodEstimate.from_log_weights(
        ...     np.log([[1.0] * 8, [1.0] + [1e-9] * 7])).num_unreliable
        1
        """
        if self.standard_error_reliable is None:
            return 0
        return int(np.sum(~np.asarray(self.standard_error_reliable, dtype=bool)))

    def summary(self):
        """One line: the mean estimate, its standard error and the ESS.

        The standard error of the mean over examples is
        `sqrt(sum SE_i^2) / n`; when some examples are flagged unreliable,
        the line says how many and that the standard error understates the
        error.

        Example:

        >>> print(LogLikelihoodEstimate.from_log_weights(np.zeros((3, 4))).summary())
        log p(x) ~ 0.0000 +- 0.0000 (mean of 3 examples; 4 samples each, median ESS 4)
        """
        n = int(np.size(self.log_likelihood))
        standard_error = float(np.sqrt(np.sum(np.square(self.standard_error)))) / max(n, 1)
        line = (
            f"log p(x) ~ {self.mean:.4f} +- {standard_error:.4f} (mean of {n} "
            f"examples; {self.num_samples} samples each, median ESS "
            f"{float(np.median(self.effective_sample_size)):.3g})"
        )
        if self.num_unreliable:
            line += (
                f"; UNRELIABLE standard error for {self.num_unreliable} of {n} "
                f"examples (ESS < {reliability_threshold(self.num_samples):.3g}): "
                "the real error can be much larger"
            )
        return line

    def warn_if_unreliable(self, advice="", stacklevel=3):
        """Warns with a `LowEffectiveSampleSizeWarning` if any SE is unreliable.

        Called by the estimators once they are done. Nothing happens with a
        single weight per example, whose standard error is NaN anyway.

        Example:

        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     LogLikelihoodEstimate.from_log_weights(
        ...         np.log([[1.0] + [1e-9] * 7])).warn_if_unreliable()
        >>> [w.category.__name__ for w in caught]
        ['LowEffectiveSampleSizeWarning']
        """
        if self.num_samples < 2 or not self.num_unreliable:
            return
        n = int(np.size(self.log_likelihood))
        unreliable = ~np.asarray(self.standard_error_reliable, dtype=bool)
        median = float(np.median(self.effective_sample_size[unreliable]))
        message = (
            f"The effective sample size is below "
            f"{reliability_threshold(self.num_samples):.3g} of "
            f"{self.num_samples} samples for {self.num_unreliable} of {n} "
            f"examples (median ESS there {median:.3g}): a few importance "
            "weights dominate, so `standard_error` can be far smaller than the "
            "real error, and `log_likelihood` is then usually well below "
            "log p(x). `standard_error_reliable` flags these examples."
        )
        if advice:
            message += " " + advice
        warnings.warn(message, LowEffectiveSampleSizeWarning, stacklevel=stacklevel)

    @classmethod
    def from_log_weights(cls, log_weights, **fields):
        """The estimate from a `(examples, K)` array of log-weights.

        Example:

        >>> est = LogLikelihoodEstimate.from_log_weights(np.log([[1.0, 3.0]]))
        >>> round(float(est.log_likelihood[0]), 4), round(float(est.effective_sample_size[0]), 2)
        (0.6931, 1.6)
        """
        log_weights = np.asarray(log_weights, dtype="float64")
        num_samples = log_weights.shape[1]
        lse = _logsumexp(log_weights, axis=1)
        lse2 = _logsumexp(2.0 * log_weights, axis=1)
        return cls.from_log_sums(lse, lse2, num_samples, log_weights=log_weights, **fields)

    @classmethod
    def from_log_sums(cls, log_sum, log_sum_squares, num_samples, **fields):
        """The estimate from `log sum_k w_k` and `log sum_k w_k^2` per example.

        Example:

        >>> est = LogLikelihoodEstimate.from_log_sums(
        ...     np.log([2.0]), np.log([2.0]), num_samples=2)
        >>> float(est.log_likelihood[0]), float(est.standard_error[0])
        (0.0, 0.0)
        """
        log_sum = np.asarray(log_sum, dtype="float64")
        log_sum_squares = np.asarray(log_sum_squares, dtype="float64")
        k = int(num_samples)
        # K * sum w^2 / (sum w)^2 = K / ESS >= 1.
        ratio = k * np.exp(log_sum_squares - 2.0 * log_sum)
        with np.errstate(invalid="ignore", divide="ignore"):
            ess = k / ratio
            if k > 1:
                standard_error = np.sqrt(np.maximum(ratio - 1.0, 0.0) / (k - 1))
            else:
                standard_error = np.full_like(log_sum, np.nan)
        if k > 1:
            reliable = np.nan_to_num(ess, nan=0.0) >= reliability_threshold(k)
        else:
            reliable = np.zeros(np.shape(log_sum), dtype=bool)
        return cls(
            log_likelihood=log_sum - math.log(k),
            standard_error=standard_error,
            effective_sample_size=ess,
            num_samples=k,
            standard_error_reliable=reliable,
            **fields,
        )


def _logsumexp(values, axis):
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return np.log(np.sum(np.exp(values - top), axis=axis)) + np.squeeze(top, axis)


def to_numpy(x, name="x"):
    """`x` as a NumPy array with a batch axis, in its own numeric dtype.

    The evaluators cast it to float32 one chunk at a time, so that a uint8
    or float64 test set is not copied whole.
    """
    if x is None:
        raise ValueError(f"`{name}` is None.")
    array = np.asarray(ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x)
    if array.ndim < 2:
        raise ValueError(
            f"`{name}` must have a batch axis and at least one feature axis; "
            f"got shape {array.shape}."
        )
    try:
        array[:1].astype("float32")
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"`{name}` must hold numbers; got dtype {array.dtype}."
        ) from error
    return array


def chunks(num_examples, batch_size):
    """`(start, stop)` pairs covering `range(num_examples)` in chunks."""
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1. Received: {batch_size}")
    return [(i, min(i + batch_size, num_examples)) for i in range(0, num_examples, batch_size)]


def pad_rows(array, size):
    """Pads a NumPy array to `size` rows by repeating its last row."""
    missing = size - array.shape[0]
    if missing <= 0:
        return array
    return np.concatenate([array, np.repeat(array[-1:], missing, axis=0)], axis=0)


def resolve_prior(prior, decoder, latent_dim=None):
    """`prior`, or a standard normal of the decoder's input size."""
    if prior is not None:
        return priors_lib.get(prior)
    if latent_dim is None:
        inputs = getattr(decoder, "inputs", None)
        if inputs and inputs[0].shape[-1] is not None:
            latent_dim = int(inputs[0].shape[-1])
    if latent_dim is None:
        raise ValueError(
            "Pass `prior` (or a decoder with a known input size) so that the "
            "latent size is known."
        )
    return priors_lib.StandardNormal(int(latent_dim))


def gaussian_moments(moments, x_chunk, start, stop, latent_dim, name):
    """Mean and variance (NumPy, float32) of a diagonal Gaussian for a chunk.

    `moments` is None, a `(mean, variance)` pair of arrays over all examples,
    or a callable mapping a chunk of x to `(mean, variance)`.
    """
    if moments is None:
        return None
    if callable(moments):
        mean, variance = moments(x_chunk)
    else:
        if not isinstance(moments, (tuple, list)) or len(moments) != 2:
            raise ValueError(
                f"`{name}` must be None, a `(mean, variance)` pair or a "
                f"callable returning one. Received: {type(moments)}"
            )
        mean, variance = moments[0][start:stop], moments[1][start:stop]
    mean = np.asarray(ops.convert_to_numpy(mean), dtype="float32")
    variance = np.asarray(ops.convert_to_numpy(variance), dtype="float32")
    expected = (stop - start, latent_dim)
    if mean.shape != expected or variance.shape != expected:
        raise ValueError(
            f"`{name}` must give a mean and a variance of shape {expected} "
            f"for these examples; got {mean.shape} and {variance.shape}."
        )
    data_checks.check_gaussian(mean, variance, name)
    return mean, variance


def make_log_joint(decoder, likelihood, prior):
    """`(z, x) -> log p(z) + log p(x|z)` per row, with the decoder in inference mode."""

    def log_joint(z, x):
        params = ops.cast(decoder(z, training=False), "float32")
        return prior.log_prob(z) + likelihood.log_prob(x, params)

    return log_joint


def new_seed(seed):
    """An int seed for the estimators: `seed`, or a fresh one if None.

    A `keras.random.SeedGenerator` gives a new seed at each call, drawn from
    its whole state (seed and counter), as Keras' own random ops do.
    """
    if seed is None:
        return int(np.random.randint(0, 2**30))
    if isinstance(seed, keras.random.SeedGenerator):
        state = ops.convert_to_numpy(seed.next()).astype("int64")
        return int(np.random.default_rng([int(v) % 2**32 for v in state]).integers(2**30))
    return int(seed)


class StatelessRunner:
    """Runs a decoder and a seed generator inside compiled functions.

    The decoder's variables and the random seed are passed in as tensors and
    mapped with a `keras.StatelessScope`, so the same `keras.ops` code can be
    traced by `jax.jit` and `tf.function` and run eagerly on PyTorch.
    """

    def __init__(self, decoder, name="evaluation_seed"):
        self.variables = list(getattr(decoder, "variables", []))
        self.seed_generator = keras.random.SeedGenerator(0, name=name)

    def variable_values(self):
        return [v.value for v in self.variables]

    def scope(self, variable_values, seed_state=None):
        """A `StatelessScope` mapping the decoder's variables and the seed."""
        mapping = list(zip(self.variables, variable_values))
        if seed_state is not None:
            mapping.append((self.seed_generator.state, seed_state))
        return keras.StatelessScope(state_mapping=mapping)

    def seed_state(self, seed, counter):
        """The seed generator's state `[seed, counter]` as a tensor."""
        return ops.convert_to_tensor([seed, counter], dtype=self.seed_generator.state.dtype)
