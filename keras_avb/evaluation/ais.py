"""Annealed Importance Sampling (Neal, 2001) of log p(x) with HMC transitions.

For each example x, AIS moves chains along the geometric path

    f_b(z) = r(z)^(1 - b) * (p(z) p(x|z))^b,    b = 0, 1/T, ..., 1,

from an initial distribution r (a diagonal Gaussian, e.g. Adaptive
Contrast's r(z|x), or the prior) to the unnormalised posterior. A chain
starts at z ~ r; before each move its log-weight grows by
`(b_t - b_(t-1)) * (log p(z) + log p(x|z) - log r(z))`, and the move is one
Hamiltonian Monte Carlo transition that leaves f_(b_t) invariant. Then
`mean_chains exp(log-weight)` is an unbiased estimate of p(x), and its log
a stochastic lower bound of log p(x) that tightens as T grows.

This follows the evaluation in Mescheder et al. (2017) and the authors'
code: a linear schedule of T intermediate distributions, `num_leapfrog_steps`
leapfrog steps per transition, step sizes scaled per latent dimension by the
standard deviation of the initial Gaussian, and the step size adapted after
every transition (divided by 1.1 if the acceptance probability falls below
0.6, multiplied by 1.1 above 0.7). Here each chain has its own step size,
adapted on a Metropolis acceptance probability (the authors' code adapts
one step size on the acceptance rate of the whole batch).

Adapting a chain's step size on its *own* acceptance makes the next
transition depend on where the chain is, which breaks the unbiasedness of
AIS: on a linear-Gaussian model with T = 1000 the estimate came out
0.10 +- 0.02 nats *above* the exact log p(x) on average. By default
(`adaptation="pilot"`) every chain therefore has an independent pilot chain
(same example, same schedule, its own random numbers) whose acceptance
drives the step size that both use; the pilot's weights are discarded. The
step sizes of the estimating chains are then independent of their states
and the estimate is unbiased, at twice the cost. `adaptation="chain"` adapts
on the chain itself, as literally described, and is biased upward.

The chains move by the package's HMC kernel
(`keras_avb.evaluation.hmc_kernel`), written in `keras.ops` except the
gradient (`keras_avb.backend`): one compiled loop on JAX (`jax.jit`) and
TensorFlow (`tf.function`), eager on PyTorch. (An implementation on
TensorFlow Probability's `sample_annealed_importance_chain` was removed:
it was up to 20% slower on TensorFlow and JAX, BENCHMARKS.md.)
"""

import collections
import functools

import keras
import numpy as np
from keras import ops

from keras_avb import backend
from keras_avb.distributions import likelihoods as likelihoods_lib
from keras_avb.distributions.gaussian import gaussian_log_prob
from keras_avb.evaluation import data_checks
from keras_avb.evaluation import estimate as estimate_lib
from keras_avb.evaluation.estimate import LogLikelihoodEstimate
from keras_avb.evaluation.hmc_kernel import hmc_transition
from keras_avb.utils import progress
from keras_avb.utils import validation

ADAPTATIONS = ("pilot", "chain")


def ais_log_likelihood(
    decoder,
    likelihood,
    prior,
    x,
    initial=None,
    num_steps=1000,
    num_chains=5,
    num_leapfrog_steps=10,
    step_size=1e-2,
    target_accept=(0.6, 0.7),
    adaptation_factor=1.1,
    scale_step_size=True,
    adaptation="pilot",
    batch_size=256,
    seed=None,
    verbose="auto",
):
    """Estimates log p(x) per example by AIS with HMC transitions.

    Args:
        decoder: a layer or model mapping latent codes `(n, latent_dim)` to the
            likelihood's parameters.
        likelihood: a `keras_avb.distributions.Likelihood` or its name.
        prior: a `keras_avb.distributions.Prior`; None for a standard normal of
            the decoder's input size.
        x: data, an array of shape `(num_examples, ...)`.
        initial: the initial distribution r of the chains: None for the prior,
            a `(mean, variance)` pair of arrays of shape
            `(num_examples, latent_dim)` (e.g. Adaptive Contrast's r(z|x)), or
            a callable mapping a chunk of `x` to such a pair.
        num_steps: T, the number of intermediate distributions (T - 1 HMC
            transitions). `num_steps=1` is plain importance sampling from r.
        num_chains: independent chains per example; the weights of the
            chains give the estimate, its standard error and the ESS.
        num_leapfrog_steps: leapfrog steps per HMC transition.
        step_size: the initial leapfrog step size of every chain.
        target_accept: `(low, high)`: after each transition a chain's step
            size is divided by `adaptation_factor` if its acceptance
            probability is below `low` and multiplied by it above `high`.
            None keeps the step size fixed.
        adaptation_factor: the factor of the step-size adaptation.
        adaptation: `"pilot"` (default): each chain's step size is adapted on
            the acceptance of an independent pilot chain, which keeps the
            estimate unbiased and doubles the cost; `"chain"`: on the chain's
            own acceptance, cheaper but biased upward (see the module doc).
        scale_step_size: whether the step size of each latent dimension is
            multiplied by the initial Gaussian's standard deviation there
            (as the authors' code does); ignored when `initial` is None.
        batch_size: examples per chunk; a chunk runs `batch_size * num_chains`
            chains at once, which bounds the memory.
        seed: an int (or `keras.random.SeedGenerator`) for reproducible chains.
        verbose: `"auto"` (default) or 1 shows a `keras.utils.Progbar`
            (on stdout, or absl's log after
            `keras.config.disable_interactive_logging()`), 2 one line
            when done, 0 nothing.

    Returns:
        A `LogLikelihoodEstimate` with per-example `log_likelihood`,
        `standard_error`, `effective_sample_size` (of the chains' weights),
        `standard_error_reliable`, the chains' `log_weights` and the mean
        `acceptance_rate`.

    Warns:
        LowEffectiveSampleSizeWarning: when, for some examples, one chain
            carries nearly all the weight (an effective sample size below
            `reliability_threshold(num_chains)`, 1.25 of 5 chains): their
            standard errors are then unreliable.

    Example:

    >>> import keras
    >>> from keras_avb.distributions import StandardNormal
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> x = np.zeros((4, 3), "float32")
    >>> est = ais_log_likelihood(decoder, "gaussian", StandardNormal(2), x,
    ...                          num_steps=20, num_chains=3, seed=0)
    >>> est.log_likelihood.shape, est.log_weights.shape
    ((4,), (4, 3))
    """
    validation.check_int(num_steps, "num_steps", minimum=1)
    validation.check_int(num_chains, "num_chains", minimum=1)
    validation.check_int(num_leapfrog_steps, "num_leapfrog_steps", minimum=1)
    validation.check_int(batch_size, "batch_size", minimum=1)
    validation.check_float(step_size, "step_size", minimum=0.0, exclusive=True)
    validation.check_seed(seed)
    verbose = progress.resolve_verbose(verbose)
    if target_accept is not None:
        if not isinstance(target_accept, (tuple, list)) or len(target_accept) != 2:
            raise ValueError(
                "`target_accept` must be None or a pair (low, high). "
                f"Received: {target_accept!r}"
            )
        low, high = (validation.check_float(v, "target_accept") for v in target_accept)
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(
                "`target_accept` must be (low, high) with 0 <= low <= high <= 1. "
                f"Received: {target_accept}"
            )
    validation.check_choice(adaptation, "adaptation", ADAPTATIONS)
    validation.check_float(adaptation_factor, "adaptation_factor", minimum=1.0)
    x = estimate_lib.to_numpy(x)
    likelihood = likelihoods_lib.get(likelihood)
    latent_dim = None
    if initial is not None and not callable(initial):
        latent_dim = np.shape(initial[0])[-1]
    prior = estimate_lib.resolve_prior(prior, decoder, latent_dim)
    x = data_checks.check_evaluation_data(decoder, likelihood, prior.latent_dim, x)
    config = _Config(
        num_steps=int(num_steps),
        num_chains=int(num_chains),
        num_leapfrog_steps=int(num_leapfrog_steps),
        step_size=float(step_size),
        target_accept=None if target_accept is None else (low, high),
        adaptation_factor=float(adaptation_factor),
        scale_step_size=bool(scale_step_size),
        pilot=target_accept is not None and adaptation == "pilot",
    )
    sampler = _AIS(decoder, likelihood, prior, config)
    seed = estimate_lib.new_seed(seed)

    num_examples = x.shape[0]
    spans = estimate_lib.chunks(num_examples, min(int(batch_size), num_examples))
    chunk_size = spans[0][1] - spans[0][0]
    progbar = None
    if verbose:
        progbar = keras.utils.Progbar(
            num_examples * config.num_steps,
            stateful_metrics=["log_px", "accept"],
            verbose=verbose,
            unit_name="example-step",
        )
    log_weights, acceptance = [], []
    done = 0
    for index, (start, stop) in enumerate(spans):
        x_chunk = np.asarray(x[start:stop], dtype="float32")
        moments = estimate_lib.gaussian_moments(
            initial, x_chunk, start, stop, prior.latent_dim, "initial"
        )
        size = stop - start
        x_chunk = estimate_lib.pad_rows(x_chunk, chunk_size)
        if moments is not None:
            moments = tuple(estimate_lib.pad_rows(m, chunk_size) for m in moments)

        def report(steps_done, size=size, done=done):
            progbar.update(done * config.num_steps + size * steps_done, finalize=False)

        chunk_weights, chunk_accept = sampler.run_chunk(
            x_chunk, moments, seed, index, None if progbar is None else report
        )
        log_weights.append(chunk_weights[:size])
        acceptance.append(chunk_accept[:size])
        done += size
        if progbar is not None:
            so_far = np.concatenate(log_weights)
            log_px = LogLikelihoodEstimate.from_log_weights(so_far).mean
            progbar.update(
                done * config.num_steps,
                values=[
                    ("log_px", log_px),
                    ("accept", float(np.mean(np.concatenate(acceptance)))),
                ],
            )
    estimate = LogLikelihoodEstimate.from_log_weights(
        np.concatenate(log_weights), acceptance_rate=np.concatenate(acceptance)
    )
    estimate.warn_if_unreliable(
        "More chains (`num_chains`), more intermediate distributions "
        "(`num_steps`) or an initial distribution closer to the posterior "
        "(`initial`) help."
    )
    return estimate


_Config = collections.namedtuple(
    "_Config",
    [
        "num_steps",
        "num_chains",
        "num_leapfrog_steps",
        "step_size",
        "target_accept",
        "adaptation_factor",
        "scale_step_size",
        "pilot",
    ],
)


class _AIS:
    """AIS chains in `keras.ops`, compiled where the backend allows."""

    def __init__(self, decoder, likelihood, prior, config):
        self.decoder = decoder
        self.likelihood = likelihood
        self.prior = prior
        self.config = config
        self.log_joint = estimate_lib.make_log_joint(decoder, likelihood, prior)
        # Random numbers come from a seed generator whose state is threaded
        # through the loop, so the loop can be compiled on every backend.
        self.runner = estimate_lib.StatelessRunner(decoder, name="ais_seed")
        self.seed_generator = self.runner.seed_generator
        self.variables = self.runner.variables
        self.scope = self.runner.scope
        self._compiled = {}

    def seed_state(self, seed, chunk_index):
        # Each chunk gets its own counter range, so streams never overlap
        # (PyTorch seeds a generator with the sum of the two entries).
        return self.runner.seed_state(seed, chunk_index * (4 * self.config.num_steps + 16))

    def repeat(self, array):
        """`(examples, ...)` -> one row per chain, chains of one example adjacent.

        With pilot chains, the rows of the estimation chains come first and
        those of the pilot chains, in the same order, after them.
        """
        rows = ops.repeat(ops.convert_to_tensor(array), self.config.num_chains, axis=0)
        if self.config.pilot:
            rows = ops.concatenate([rows, rows], axis=0)
        return rows

    def num_estimation_rows(self, x_rep):
        rows = x_rep.shape[0]
        return rows // 2 if self.config.pilot else rows

    def step_rows(self, step):
        """The step size of every row from the adapted step sizes."""
        return ops.concatenate([step, step], axis=0) if self.config.pilot else step

    def adapt(self, step, accept_prob):
        """Adapts `step` on the acceptance probabilities of the adapting rows."""
        if self.config.target_accept is None:
            return step
        if self.config.pilot:
            accept_prob = accept_prob[ops.shape(step)[0]:]
        accept_prob = ops.expand_dims(accept_prob, -1)
        low, high = self.config.target_accept
        factor = self.config.adaptation_factor
        return ops.where(
            accept_prob < low,
            step / factor,
            ops.where(accept_prob > high, step * factor, step),
        )

    def initial_arrays(self, x_chunk, moments):
        """x, initial mean, variance and step-size scale, one row per chain."""
        x_rep = self.repeat(x_chunk)
        n, d = ops.shape(x_rep)[0], self.prior.latent_dim
        if moments is None:
            mean = ops.zeros((n, d))
            variance = ops.ones((n, d))
        else:
            mean, variance = (self.repeat(m) for m in moments)
        if moments is not None and self.config.scale_step_size:
            scale = ops.sqrt(variance)
        else:
            scale = ops.ones((n, d))
        return x_rep, mean, variance, scale


    def compiled(self, use_prior):
        """The compiled start and segment functions for one kind of start."""
        if use_prior not in self._compiled:
            self._compiled[use_prior] = (
                backend.jit(functools.partial(self._start_chains, use_prior=use_prior)),
                backend.jit(functools.partial(self._run_segment, use_prior=use_prior)),
            )
        return self._compiled[use_prior]

    # -- densities -----------------------------------------------------
    def evaluate(self, z, x_rep, mean, variance, use_prior):
        """`(base, delta, grad base, grad delta)` at z.

        `base = log r(z)` and `delta = log p(z) + log p(x|z) - log r(z)`, so
        that `log f_b(z) = base + b * delta`.
        """
        joint, grad_joint = backend.value_and_grad(lambda v: self.log_joint(v, x_rep))(z)
        if use_prior:
            base, grad_base = backend.value_and_grad(self.prior.log_prob)(z)
        else:
            base = gaussian_log_prob(z, mean, variance)
            grad_base = (mean - z) / variance
        return base, joint - base, grad_base, grad_joint - grad_base

    # -- the compiled pieces -------------------------------------------
    def _start_chains(self, variable_values, x_rep, mean, variance, seed_state, use_prior):
        n = ops.shape(x_rep)[0]
        with self.scope(variable_values, seed_state) as scope:
            if use_prior:
                z = ops.cast(self.prior.sample(n, seed=self.seed_generator), "float32")
            else:
                eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
                z = mean + ops.sqrt(variance) * eps
            seed_state = scope.get_current_value(self.seed_generator.state)
            base, delta, grad_base, grad_delta = self.evaluate(
                z, x_rep, mean, variance, use_prior
            )
        step = ops.full(
            (self.num_estimation_rows(x_rep), 1), self.config.step_size, dtype="float32"
        )
        zeros = ops.zeros((n,), dtype="float32")
        return (z, base, delta, grad_base, grad_delta, step, zeros, zeros, seed_state)

    def _run_segment(
        self, variable_values, x_rep, mean, variance, scale, state, start, stop, use_prior
    ):
        config = self.config
        d_beta = 1.0 / config.num_steps

        def body(i, state):
            z, base, delta, grad_base, grad_delta, step, log_w, accept_sum, seed_state = state
            log_w = log_w + d_beta * delta
            beta = ops.cast(i + 1, "float32") * d_beta

            def annealed(parts):
                # log f_beta = base + beta * delta; the parts ride along as extras.
                base, delta, grad_base, grad_delta = parts
                return base + beta * delta, grad_base + beta * grad_delta, parts

            def value_and_grad(v):
                return annealed(self.evaluate(v, x_rep, mean, variance, use_prior))

            with self.scope(variable_values, seed_state) as scope:
                momentum = keras.random.normal(ops.shape(z), seed=self.seed_generator)
                uniform = keras.random.uniform(ops.shape(delta), seed=self.seed_generator)
                new_seed = scope.get_current_value(self.seed_generator.state)
                z, (_, _, parts), accept_prob = hmc_transition(
                    z,
                    annealed((base, delta, grad_base, grad_delta)),
                    momentum,
                    uniform,
                    self.step_rows(step) * scale,
                    config.num_leapfrog_steps,
                    value_and_grad,
                )
            base, delta, grad_base, grad_delta = parts
            step = self.adapt(step, accept_prob)
            return (
                z, base, delta, grad_base, grad_delta, step, log_w,
                accept_sum + accept_prob, new_seed,
            )

        return ops.fori_loop(start, stop, body, tuple(state))

    # -- driver --------------------------------------------------------
    def run_chunk(self, x_chunk, moments, seed, chunk_index, report):
        config = self.config
        use_prior = moments is None
        x_rep, mean, variance, scale = self.initial_arrays(x_chunk, moments)
        values = [v.value for v in self.variables]
        start_chains, run_segment = self.compiled(use_prior)
        state = start_chains(
            values, x_rep, mean, variance, self.seed_state(seed, chunk_index)
        )
        transitions = config.num_steps - 1
        # With a progress bar, run the transitions in ~50 compiled segments.
        segment = max(1, transitions // 50) if report is not None else transitions
        position = 0
        while position < transitions:
            stop = min(position + segment, transitions)
            state = run_segment(
                values, x_rep, mean, variance, scale, state,
                ops.convert_to_tensor(position, "int32"),
                ops.convert_to_tensor(stop, "int32"),
            )
            position = stop
            if report is not None:
                report(position)
        rows = self.num_estimation_rows(x_rep)
        delta, log_w, accept_sum = state[2][:rows], state[6][:rows], state[7][:rows]
        log_w = log_w + delta / config.num_steps
        shape = (-1, config.num_chains)
        log_w = ops.convert_to_numpy(ops.reshape(log_w, shape))
        accept = ops.convert_to_numpy(ops.reshape(accept_sum, shape))
        if transitions == 0:
            accept_rate = np.full(accept.shape[0], np.nan)
        else:
            accept_rate = np.mean(accept, axis=1) / transitions
        return log_w.astype("float64"), accept_rate
