"""The K-sample importance-sampling estimate of log p(x).

With a proposal q(z|x) and K draws z_k ~ q(z|x),

    log p(x) ≈ log (1/K) sum_k p(z_k) p(x|z_k) / q(z_k|x),

whose expectation is a lower bound of log p(x) that tightens as K grows.
With the VAE's posterior as the proposal this is the IWAE bound (Burda et
al., 2016); with AVB, the Gaussian r(z|x) of Adaptive Contrast serves as
the proposal. Written with `keras.ops` only; the sampling loop is compiled
where the backend allows, and examples and samples are processed in chunks
so that memory stays bounded.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_avb.distributions.gaussian import gaussian_log_prob
from keras_avb import backend
from keras_avb.distributions import likelihoods as likelihoods_lib
from keras_avb.evaluation import data_checks
from keras_avb.evaluation import estimate as estimate_lib
from keras_avb.evaluation.estimate import LogLikelihoodEstimate
from keras_avb.utils import progress
from keras_avb.utils import validation


def importance_log_likelihood(
    decoder,
    likelihood,
    prior,
    x,
    proposal=None,
    num_samples=1000,
    batch_size=100,
    samples_per_batch=None,
    seed=None,
    verbose="auto",
):
    """Estimates log p(x) per example by importance sampling.

    Args:
        decoder, likelihood, prior, x: as in `ais_log_likelihood`.
        proposal: the diagonal Gaussian proposal q(z|x): a `(mean, variance)`
            pair of arrays of shape `(num_examples, latent_dim)` (AC's
            r(z|x), or the VAE's posterior with `variance = exp(log_var)`),
            or a callable mapping a chunk of `x` to such a pair; None samples
            from the prior (simple Monte Carlo, only sensible in tiny latent
            spaces).
        num_samples: K, importance samples per example.
        batch_size: examples per chunk.
        samples_per_batch: samples per example drawn at once; the decoder
            sees `batch_size * samples_per_batch` rows per call. By default
            about 20,000 rows.
        seed, verbose: as in `ais_log_likelihood`.

    Returns:
        A `LogLikelihoodEstimate` with per-example `log_likelihood`,
        `standard_error`, `effective_sample_size` and
        `standard_error_reliable` (`log_weights` is None: the weights are
        reduced on the fly).

    Warns:
        LowEffectiveSampleSizeWarning: when, for some examples, the effective
            sample size is below `reliability_threshold(num_samples)` (10 of
            1000 samples): their standard errors are then unreliable. This is
            common with the prior as proposal beyond two or three latent
            dimensions.

    Example:

    >>> import keras
    >>> from keras_avb.distributions import StandardNormal
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> x = np.zeros((4, 3), "float32")
    >>> proposal = (np.zeros((4, 2), "float32"), np.ones((4, 2), "float32"))
    >>> est = importance_log_likelihood(decoder, "gaussian", StandardNormal(2), x,
    ...                                 proposal=proposal, num_samples=64, seed=0)
    >>> est.log_likelihood.shape, bool(np.all(est.effective_sample_size <= 64))
    ((4,), True)
    """
    num_samples = validation.check_int(num_samples, "num_samples", minimum=1)
    validation.check_int(batch_size, "batch_size", minimum=1)
    validation.check_int(samples_per_batch, "samples_per_batch", minimum=1, allow_none=True)
    validation.check_seed(seed)
    verbose = progress.resolve_verbose(verbose)
    x = estimate_lib.to_numpy(x)
    likelihood = likelihoods_lib.get(likelihood)
    latent_dim = None
    if proposal is not None and not callable(proposal):
        latent_dim = np.shape(proposal[0])[-1]
    prior = estimate_lib.resolve_prior(prior, decoder, latent_dim)
    x = data_checks.check_evaluation_data(decoder, likelihood, prior.latent_dim, x)
    num_examples = x.shape[0]
    spans = estimate_lib.chunks(num_examples, min(int(batch_size), num_examples))
    chunk_size = spans[0][1] - spans[0][0]
    if samples_per_batch is None:
        samples_per_batch = max(1, 20000 // chunk_size)
    samples_per_batch = min(int(samples_per_batch), num_samples)
    if samples_per_batch < 1:
        raise ValueError(
            f"`samples_per_batch` must be >= 1. Received: {samples_per_batch}"
        )
    passes = [
        min(samples_per_batch, num_samples - start)
        for start in range(0, num_samples, samples_per_batch)
    ]
    sampler = _ImportanceSampler(decoder, likelihood, prior)
    seed = estimate_lib.new_seed(seed)
    progbar = None
    if verbose:
        progbar = keras.utils.Progbar(
            num_examples * num_samples,
            stateful_metrics=["log_px"],
            verbose=verbose,
            unit_name="sample",
        )
    log_sums, log_sums_squares = [], []
    done = 0
    values = sampler.runner.variable_values()
    for index, (start, stop) in enumerate(spans):
        size = stop - start
        x_chunk = np.asarray(x[start:stop], dtype="float32")
        moments = estimate_lib.gaussian_moments(
            proposal, x_chunk, start, stop, prior.latent_dim, "proposal"
        )
        x_chunk = estimate_lib.pad_rows(x_chunk, chunk_size)
        if moments is None:
            mean = variance = None
        else:
            mean, variance = (
                ops.convert_to_tensor(estimate_lib.pad_rows(m, chunk_size)) for m in moments
            )
        x_tensor = ops.convert_to_tensor(x_chunk)
        seed_state = sampler.runner.seed_state(seed, index * (len(passes) + 1))
        log_sum = log_sum_squares = None
        drawn = 0
        for count in passes:
            part, part_squares, seed_state = sampler.compiled(count, moments is None)(
                values, x_tensor, mean, variance, seed_state
            )
            if log_sum is None:
                log_sum, log_sum_squares = part, part_squares
            else:
                log_sum = ops.logaddexp(log_sum, part)
                log_sum_squares = ops.logaddexp(log_sum_squares, part_squares)
            drawn += count
            if progbar is not None:
                progbar.update(done * num_samples + size * drawn, finalize=False)
        log_sums.append(ops.convert_to_numpy(log_sum)[:size])
        log_sums_squares.append(ops.convert_to_numpy(log_sum_squares)[:size])
        done += size
        if progbar is not None:
            so_far = np.concatenate(log_sums) - np.log(num_samples)
            progbar.update(done * num_samples, values=[("log_px", float(np.mean(so_far)))])
    estimate = LogLikelihoodEstimate.from_log_sums(
        np.concatenate(log_sums), np.concatenate(log_sums_squares), num_samples
    )
    estimate.warn_if_unreliable(_advice(proposal))
    return estimate


def _advice(proposal):
    advice = (
        "A proposal closer to the posterior (`evaluate_log_likelihood` uses "
        "the model's encoder), more samples or AIS (`ais_log_likelihood`) help."
    )
    if proposal is None:
        advice = "The proposal is the prior (`proposal=None`). " + advice
    return advice


class _ImportanceSampler:
    """One pass of `count` samples per example for a chunk, compiled."""

    def __init__(self, decoder, likelihood, prior):
        self.prior = prior
        self.log_joint = estimate_lib.make_log_joint(decoder, likelihood, prior)
        self.runner = estimate_lib.StatelessRunner(decoder, name="importance_seed")
        self._compiled = {}

    def compiled(self, count, use_prior):
        key = (count, use_prior)
        if key not in self._compiled:
            self._compiled[key] = backend.jit(
                functools.partial(self._log_sums, count=count, use_prior=use_prior)
            )
        return self._compiled[key]

    def _log_sums(self, variable_values, x, mean, variance, seed_state, count, use_prior):
        batch = ops.shape(x)[0]
        latent_dim = self.prior.latent_dim
        x_rep = ops.repeat(x, count, axis=0)
        generator = self.runner.seed_generator
        with self.runner.scope(variable_values, seed_state) as scope:
            if use_prior:
                z = ops.cast(self.prior.sample(batch * count, seed=generator), "float32")
                log_q = self.prior.log_prob(z)
            else:
                mean_rep = ops.repeat(mean, count, axis=0)
                variance_rep = ops.repeat(variance, count, axis=0)
                eps = keras.random.normal((batch * count, latent_dim), seed=generator)
                z = mean_rep + ops.sqrt(variance_rep) * eps
                log_q = gaussian_log_prob(z, mean_rep, variance_rep)
            seed_state = scope.get_current_value(generator.state)
            log_w = ops.reshape(self.log_joint(z, x_rep) - log_q, (batch, count))
        log_w = ops.where(ops.isnan(log_w), -np.inf, log_w)
        return (
            ops.logsumexp(log_w, axis=1),
            ops.logsumexp(2.0 * log_w, axis=1),
            seed_state,
        )
