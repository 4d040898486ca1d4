"""`fit_posterior`: one entry point for AVB, ADVI and HMC on an unnormalised target."""

import inspect
import time

import keras
import numpy as np

from keras_avb.models.adversarial_game import default_optimizer
from keras_avb.utils import progress
from keras_avb.utils import validation
from keras_avb.vi import hmc as hmc_lib
from keras_avb.vi import targets as targets_lib
from keras_avb.vi.gaussian import GaussianVI
from keras_avb.vi.sampler import PosteriorSampler

METHODS = ("avb", "advi_meanfield", "advi_fullrank", "hmc")
SCHEDULES = ("cosine", "constant")

# Defaults per method where they differ: AVB's were measured on eight
# schools (BENCHMARKS.md); ADVI and HMC keep the earlier ones.
DEFAULT_STEPS = {"avb": 20000, "advi_meanfield": 2000, "advi_fullrank": 2000, "hmc": 2000}
DEFAULT_LEARNING_RATES = {"avb": 1e-3, "advi_meanfield": 5e-3, "advi_fullrank": 5e-3}
DEFAULT_SCHEDULES = {"avb": "cosine", "advi_meanfield": "constant", "advi_fullrank": "constant"}

# Options that only some methods take (everything else is a named argument).
_OPTIONS = {
    "avb": (
        "sampler",
        "adversary",
        "noise_dim",
        "hidden_units",
        "reference_scale",
        "contrast_epsilon",
        "covariance",
        "optimizer",
        "adversary_optimizer",
    ),
    "advi_meanfield": ("optimizer",),
    "advi_fullrank": ("optimizer",),
    "hmc": (
        "num_chains",
        "num_burnin_steps",
        "num_leapfrog_steps",
        "step_size",
        "thinning",
        "target_accept_prob",
        "initial_state",
        "implementation",
    ),
}


class FittedPosterior:
    """The result of `fit_posterior`: draw samples, train further, inspect.

    Attributes:
        method: the method's name.
        event_size: the dimension of a sample.
        model: the trained Keras model (`PosteriorSampler` for AVB,
            `GaussianVI` for ADVI), or `None` for HMC.
        history: dict of metric lists with one entry per `train` call (a
            plain fit is one call; with a callback, one per chunk), each the
            mean over that call's steps. `loss` is the negative ELBO up to
            the target's log-normaliser (for AVB it uses the adversary's
            estimate of log q). Empty for HMC.
        steps_trained: training steps (HMC: kept transitions per chain).
        wall_time: seconds spent fitting.
        info: method-specific details (HMC: acceptance rate, step size).

    Example:

    >>> import keras
    >>> def log_prob(z):
    ...     return -0.5 * keras.ops.sum(keras.ops.square(z - 1.0), axis=-1)
    >>> fitted = fit_posterior(log_prob, 2, method="advi_meanfield", steps=200,
    ...                        batch_size=32, seed=0)
    >>> fitted.sample(5).shape
    (5, 2)
    """

    def __init__(self, method, event_size, model=None, samples=None, info=None):
        self.method = method
        self.event_size = event_size
        self.model = model
        self._samples = samples
        self.info = dict(info or {})
        self.history = {}
        self.steps_trained = 0 if samples is None else int(self.info.get("num_results", 0))
        self.wall_time = float(self.info.get("wall_time", 0.0))

    def sample(self, num_samples, seed=None):
        """Draws `num_samples` samples as a NumPy array `(num_samples, event_size)`.

        Variational methods draw any number of fresh samples. HMC returns
        `num_samples` of its stored samples, chosen at random without
        replacement, and raises `ValueError` if more are asked for than it
        holds (run it with more `steps` or `num_chains`).
        """
        num_samples = validation.check_int(num_samples, "num_samples", minimum=1)
        if self.model is not None:
            return self.model.sample(num_samples, seed=seed)
        available = self._samples.shape[0]
        if num_samples > available:
            raise ValueError(
                f"HMC stored {available} samples; {num_samples} were asked for. "
                "Run `fit_posterior(..., method='hmc')` with more `steps` or "
                "`num_chains`."
            )
        rng = np.random.default_rng(seed)
        return self._samples[rng.choice(available, num_samples, replace=False)]

    @property
    def all_samples(self):
        """HMC only: every stored sample, result-major."""
        if self._samples is None:
            raise AttributeError("Only HMC stores samples; use `sample(n)`.")
        return self._samples

    def train(self, steps, verbose="auto"):
        """Continues training a variational method for `steps` more steps.

        `verbose` is that of `keras.Model.fit`: `"auto"` (default) or 1 a
        progress bar, 2 one line, 0 nothing.
        """
        if self.model is None:
            raise ValueError("HMC cannot be trained further; run it again.")
        validation.check_int(steps, "steps", minimum=1)
        verbose = progress.resolve_verbose(verbose)
        if not keras.config.is_interactive_logging_enabled():
            # `fit` updates its progress bar on a callback thread, which does
            # not see this (thread-local) switch and prints to stdout anyway.
            verbose = 0
        start = time.perf_counter()
        history = self.model.fit(
            np.zeros((steps, 1), "float32"), batch_size=1, epochs=1,
            shuffle=False, verbose=verbose,
        )
        self.wall_time += time.perf_counter() - start
        self.steps_trained += steps
        for key, values in history.history.items():
            self.history.setdefault(key, []).extend(float(v) for v in values)
        return self

    def __repr__(self):
        return (
            f"FittedPosterior(method={self.method!r}, event_size={self.event_size}, "
            f"steps_trained={self.steps_trained})"
        )


def _scheduled(rate, updates, schedule):
    """A constant rate, or a cosine decay from it to 0 over `updates`."""
    if schedule == "constant":
        return rate
    return keras.optimizers.schedules.CosineDecay(rate, decay_steps=int(updates))


def fit_posterior(
    target_log_prob_fn,
    event_size=None,
    method="avb",
    adaptive_contrast=True,
    adversary_steps=2,
    steps=None,
    batch_size=512,
    learning_rate=None,
    learning_rate_schedule=None,
    seed=None,
    callback=None,
    callback_every=None,
    verbose="auto",
    **options,
):
    """Fits an approximation of an unnormalised density and returns a sampler.

    Methods:

    - `"avb"`: Adversarial Variational Bayes. A neural sampler `eps -> z`
      (by default eps of size `event_size`, two ELU layers of 128 units)
      minimises `E_q[T(z) + log r(z) - log p~(z)]` while an adversary `T`
      (by default 3 residual blocks of 128 units) learns `log q - log r`,
      with r the Gaussian of the batch's mean and covariance (Adaptive
      Contrast); see `PosteriorSampler`. The defaults (20,000 steps, rates
      1e-3 / 2e-3 decayed along a cosine, full covariance) were chosen on
      eight schools, where they reach KL(q || p) of about 0.1 in about
      7 minutes on one CPU core under JAX (BENCHMARKS.md).
    - `"advi_meanfield"`, `"advi_fullrank"`: Gaussian VI with diagonal or
      full covariance, reparameterised gradients and the entropy in closed
      form; see `GaussianVI`.
    - `"hmc"`: Hamiltonian Monte Carlo with the package's `keras.ops` kernel
      (or TFP's, `implementation="tfp"`); see `run_hmc`. `steps` is the
      number of samples kept per chain.

    Args:
        target_log_prob_fn: a function of a `(batch, event_size)` tensor
            returning `(batch,)` unnormalised log-densities, written with
            `keras.ops` so that it runs on every backend. Under TensorFlow and
            JAX, a TFP distribution (e.g. a `JointDistribution` of real
            parts) or its `log_prob` method is accepted too.
        event_size: number of entries of one sample (inferred from a TFP
            distribution).
        method: one of `"avb"`, `"advi_meanfield"`, `"advi_fullrank"`,
            `"hmc"`.
        adaptive_contrast: AVB only; whether to use Adaptive Contrast with
            batch moments.
        adversary_steps: AVB only; adversary updates per sampler update, or
            `None` for simultaneous updates.
        steps: training steps (sampler updates for AVB); for HMC the samples
            kept per chain. Default: 20,000 for AVB, 2000 for the others.
        batch_size: samples per training step (variational methods).
        learning_rate: peak Adam learning rate of the sampler (AVB, default
            1e-3, `beta_1=0.5`; the adversary's is twice it) or of the
            Gaussian (ADVI, default 5e-3). Ignored if `optimizer` is given.
        learning_rate_schedule: `"cosine"` decays the learning rate(s) to 0
            along a half cosine over `steps` (the adversary's over its
            `steps * adversary_steps` updates), `"constant"` keeps them.
            Default: `"cosine"` for AVB (on eight schools it more than
            halved KL(q || p) at an equal budget, BENCHMARKS.md),
            `"constant"` for ADVI. After a cosine fit, `FittedPosterior.train`
            continues at the final rate, 0: compile a new optimizer to
            train further. Ignored if `optimizer` is given.
        seed: integer seed of all noise.
        callback: optional `callback(fitted, step)`, called every
            `callback_every` steps (and at the end) of a variational fit, e.g.
            to record a divergence over training.
        callback_every: how often to call `callback`.
        verbose: `"auto"` (default) or 1 shows `keras.Model.fit`'s progress
            bar (one per `callback_every` chunk with a callback; for HMC a
            line when it starts and one when it ends), 2 one line per fit,
            0 nothing. After `keras.config.disable_interactive_logging()`
            nothing is printed (the HMC lines go to absl's log).
        **options: method-specific options. AVB: `sampler`, `adversary`,
            `noise_dim`, `hidden_units`, `reference_scale`,
            `contrast_epsilon`, `optimizer`, `adversary_optimizer`. ADVI:
            `optimizer`. HMC: `num_chains`, `num_burnin_steps`,
            `num_leapfrog_steps`, `step_size`, `thinning`,
            `target_accept_prob`, `initial_state`, `implementation`.

    Returns:
        A `FittedPosterior`; `.sample(n)` draws samples.

    Example:

    >>> import keras, keras_avb
    >>> def log_prob(z):  # a banana-shaped density in 2 dimensions
    ...     x1, x2 = z[:, 0], z[:, 1]
    ...     return -keras.ops.square(x1 - 1.0) - keras.ops.square(
    ...         keras.ops.square(x2) - x1)
    >>> fitted = keras_avb.vi.fit_posterior(
    ...     log_prob, event_size=2, method="avb", steps=20, batch_size=64,
    ...     hidden_units=(32,),
    ...     adversary=keras_avb.layers.ResidualAdversary(32, 1, name="adversary"),
    ...     seed=0)
    >>> fitted.sample(1000).shape
    (1000, 2)
    """
    validation.check_choice(method, "method", METHODS)
    unknown = sorted(set(options) - set(_OPTIONS[method]))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for method={method!r}; it accepts "
            f"{list(_OPTIONS[method])}."
        )
    log_prob_fn, event_size = targets_lib.resolve_target(target_log_prob_fn, event_size)
    steps = DEFAULT_STEPS[method] if steps is None else steps
    validation.check_int(steps, "steps", minimum=1)
    if learning_rate_schedule is not None:
        validation.check_choice(learning_rate_schedule, "learning_rate_schedule", SCHEDULES)
    validation.check_int(batch_size, "batch_size", minimum=2)
    if callback is not None:
        validation.check_callable(callback, "callback", what="callable")
        validation.check_int(callback_every, "callback_every", minimum=1)
    validation.check_float(
        learning_rate, "learning_rate", minimum=0.0, exclusive=True, allow_none=True
    )
    seed = validation.check_int(seed, "seed", minimum=0, allow_none=True)
    verbose = progress.resolve_verbose(verbose)
    for name in ("reference_scale", "step_size"):
        if name in options:
            validation.check_float(options[name], name, minimum=0.0, exclusive=True)
    if "contrast_epsilon" in options:
        validation.check_float(options["contrast_epsilon"], "contrast_epsilon", minimum=0.0)
    if "noise_dim" in options:
        validation.check_int(options["noise_dim"], "noise_dim", minimum=1, allow_none=True)
    targets_lib.check_target(log_prob_fn, event_size)

    if method == "hmc":
        if verbose == 1:
            defaults = inspect.signature(hmc_lib.run_hmc).parameters
            num_chains, burnin = (
                options.get(name, defaults[name].default)
                for name in ("num_chains", "num_burnin_steps")
            )
            progress.print_msg(
                f"Running HMC: {num_chains} chains, {burnin} burn-in transitions "
                f"and {int(steps)} kept samples each (no progress bar: it runs as "
                "one loop)..."
            )
        start = time.perf_counter()
        samples, info = hmc_lib.run_hmc(
            log_prob_fn, event_size, num_results=int(steps),
            seed=0 if seed is None else seed, **options,
        )
        info.update(num_results=int(steps), wall_time=time.perf_counter() - start)
        if verbose:
            progress.print_msg(f"HMC done in {info['wall_time']:.1f} s.")
        return FittedPosterior(method, event_size, samples=samples, info=info)

    rate = DEFAULT_LEARNING_RATES[method] if learning_rate is None else float(learning_rate)
    schedule = learning_rate_schedule or DEFAULT_SCHEDULES[method]
    if method == "avb":
        optimizer = options.pop("optimizer", None)
        adversary_optimizer = options.pop("adversary_optimizer", None)
        if optimizer is None:
            optimizer = default_optimizer(_scheduled(rate, steps, schedule))
            if adversary_optimizer is None:
                adversary_updates = int(steps) * (adversary_steps or 1)
                adversary_optimizer = default_optimizer(
                    _scheduled(2.0 * rate, adversary_updates, schedule)
                )
        model = PosteriorSampler(
            log_prob_fn,
            event_size,
            adaptive_contrast=adaptive_contrast,
            adversary_steps=adversary_steps,
            batch_size=int(batch_size),
            seed=seed,
            **options,
        )
        model.compile(optimizer=optimizer, adversary_optimizer=adversary_optimizer)
    else:
        optimizer = options.pop("optimizer", None)
        if optimizer is None:
            optimizer = keras.optimizers.Adam(_scheduled(rate, steps, schedule))
        model = GaussianVI(
            log_prob_fn,
            event_size,
            full_rank=method == "advi_fullrank",
            batch_size=int(batch_size),
            seed=seed,
        )
        model.compile(optimizer=optimizer)

    fitted = FittedPosterior(method, event_size, model=model)
    if callback is None:
        fitted.train(int(steps), verbose=verbose)
        return fitted
    done = 0
    while done < steps:
        chunk = min(int(callback_every), int(steps) - done)
        fitted.train(chunk, verbose=verbose)
        done += chunk
        callback(fitted, done)
    return fitted
