"""Hamiltonian Monte Carlo for ground-truth samples of an unnormalised target.

Under the TensorFlow and JAX backends this uses TensorFlow Probability's
`HamiltonianMonteCarlo` kernel with dual-averaging step-size adaptation,
compiled (`tf.function(jit_compile=True)` / `jax.jit`). TFP has no PyTorch
substrate, so under the torch backend a plain NumPy HMC runs instead, with
gradients from the backend (`keras_avb.backend.value_and_grad`); it can
also be asked for on any backend with `implementation="numpy"`.
"""

import keras
import numpy as np
from keras import ops

from keras_avb import backend
from keras_avb.utils import data_checks
from keras_avb.utils import validation
from keras_avb.vi import diagnostics

IMPLEMENTATIONS = ("auto", "tfp", "numpy")


def _tfp_available():
    return backend.tfp() is not None


def run_hmc(
    log_prob_fn,
    event_size,
    num_results,
    num_chains=64,
    num_burnin_steps=1000,
    num_leapfrog_steps=10,
    step_size=0.1,
    thinning=1,
    target_accept_prob=0.75,
    initial_state=None,
    seed=0,
    implementation="auto",
):
    """Runs `num_chains` HMC chains in parallel and pools their samples.

    Args:
        log_prob_fn: maps `(num_chains, event_size)` to `(num_chains,)`
            unnormalised log-densities (`keras.ops` or backend ops).
        event_size: dimension of the state.
        num_results: samples kept per chain after burn-in.
        num_chains: parallel chains, started at `N(0, I)` draws unless
            `initial_state` is given.
        num_burnin_steps: transitions discarded at the start; the step size
            is adapted during the first 80% of them.
        num_leapfrog_steps: leapfrog steps per transition.
        step_size: initial step size.
        thinning: transitions per kept sample.
        target_accept_prob: acceptance rate the adaptation aims at.
        initial_state: optional `(num_chains, event_size)` array.
        seed: integer seed.
        implementation: `"auto"` (TFP where it runs, else NumPy), `"tfp"`
            or `"numpy"`.

    Returns:
        `(samples, info)`: a NumPy array of shape
        `(num_results * num_chains, event_size)`, ordered result-major
        (all chains' first samples, then their second, ...), and a dict with
        the mean `acceptance_rate`, the final `step_size`, the
        `implementation` used and, with `num_results >= 4`, the chains'
        largest split r-hat `max_rhat` and smallest effective sample size
        `min_ess` over the coordinates (`keras_avb.vi.diagnostics`).

    Example:

    >>> import keras
    >>> def log_prob(z):
    ...     return -0.5 * keras.ops.sum(keras.ops.square(z), axis=-1)
    >>> samples, info = run_hmc(log_prob, 2, num_results=200, num_chains=8,
    ...                         num_burnin_steps=100, seed=1)
    >>> samples.shape
    (1600, 2)
    >>> bool(abs(samples.std() - 1.0) < 0.2)
    True
    """
    for name, value, minimum in (
        ("num_results", num_results, 1),
        ("num_chains", num_chains, 1),
        ("num_burnin_steps", num_burnin_steps, 0),
        ("num_leapfrog_steps", num_leapfrog_steps, 1),
        ("thinning", thinning, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
            raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {value!r}")
    validation.check_float(step_size, "step_size", minimum=0.0, exclusive=True)
    validation.check_float(
        target_accept_prob, "target_accept_prob", minimum=0.0, maximum=1.0, exclusive=True
    )
    validation.check_int(seed, "seed", minimum=0)
    validation.check_choice(implementation, "implementation", IMPLEMENTATIONS)
    if implementation == "tfp" and not _tfp_available():
        raise ValueError(
            "TensorFlow Probability's HMC needs the tensorflow or jax backend "
            f"with tfp installed; the backend is '{keras.backend.backend()}'. "
            "Use implementation='numpy'."
        )
    if initial_state is None:
        initial_state = np.random.default_rng(seed).normal(size=(num_chains, event_size))
    initial_state = data_checks.check_examples(
        initial_state, "initial_state", data_shape=(event_size,)
    ).astype("float32")
    if initial_state.shape != (num_chains, event_size):
        raise ValueError(
            f"`initial_state` must have shape {(num_chains, event_size)}; got "
            f"{initial_state.shape}."
        )
    args = dict(
        log_prob_fn=log_prob_fn,
        initial_state=initial_state,
        num_results=int(num_results),
        num_burnin_steps=int(num_burnin_steps),
        num_leapfrog_steps=int(num_leapfrog_steps),
        step_size=float(step_size),
        thinning=int(thinning),
        target_accept_prob=float(target_accept_prob),
        seed=int(seed),
    )
    use_tfp = implementation == "tfp" or (implementation == "auto" and _tfp_available())
    if use_tfp:
        samples, info = _run_tfp(**args)
    else:
        samples, info = _run_numpy(**args)
    samples = np.asarray(samples, "float32").reshape(-1, event_size)
    if not np.all(np.isfinite(samples)):
        raise RuntimeError(
            "HMC produced non-finite samples; lower `step_size` or check the target."
        )
    if num_results >= 4:
        chains = samples.reshape(int(num_results), int(num_chains), event_size)
        info["max_rhat"] = float(np.max(diagnostics.potential_scale_reduction(chains)))
        info["min_ess"] = float(np.min(diagnostics.effective_sample_size(chains)))
    return samples, info


def _tfp_kernel(tfp, log_prob_fn, num_burnin_steps, num_leapfrog_steps, step_size,
                target_accept_prob):
    kernel = tfp.mcmc.HamiltonianMonteCarlo(
        target_log_prob_fn=log_prob_fn,
        step_size=step_size,
        num_leapfrog_steps=num_leapfrog_steps,
    )
    return tfp.mcmc.DualAveragingStepSizeAdaptation(
        kernel,
        num_adaptation_steps=max(int(0.8 * num_burnin_steps), 1),
        target_accept_prob=target_accept_prob,
    )


def _trace(_, results):
    return (results.inner_results.is_accepted, results.new_step_size)


def _run_tfp(log_prob_fn, initial_state, num_results, num_burnin_steps,
             num_leapfrog_steps, step_size, thinning, target_accept_prob, seed):
    if keras.backend.backend() == "jax":
        import jax
        from tensorflow_probability.substrates import jax as tfp

        kernel = _tfp_kernel(tfp, log_prob_fn, num_burnin_steps, num_leapfrog_steps,
                             step_size, target_accept_prob)

        @jax.jit
        def run(state, key):
            return tfp.mcmc.sample_chain(
                num_results=num_results,
                current_state=state,
                kernel=kernel,
                num_burnin_steps=num_burnin_steps,
                num_steps_between_results=thinning - 1,
                trace_fn=_trace,
                seed=key,
            )

        samples, (accepted, step) = run(
            jax.numpy.asarray(initial_state), jax.random.PRNGKey(seed)
        )
    else:
        import tensorflow as tf
        import tensorflow_probability as tfp

        kernel = _tfp_kernel(tfp, log_prob_fn, num_burnin_steps, num_leapfrog_steps,
                             step_size, target_accept_prob)

        @tf.function(autograph=False, jit_compile=True)
        def run(state):
            return tfp.mcmc.sample_chain(
                num_results=num_results,
                current_state=state,
                kernel=kernel,
                num_burnin_steps=num_burnin_steps,
                num_steps_between_results=thinning - 1,
                trace_fn=_trace,
                seed=tf.constant([seed, 0], tf.int32),
            )

        samples, (accepted, step) = run(tf.constant(initial_state))
    accepted = np.asarray(accepted, "float64")
    return np.asarray(samples), {
        "acceptance_rate": float(accepted.mean()),
        "step_size": float(np.asarray(step).reshape(-1)[-1]),
        "implementation": "tfp",
    }


def _numpy_value_and_grad(log_prob_fn):
    """`z -> (log_prob, grad)` on NumPy `(batch, d)` arrays, in float64."""

    def flat_log_prob(z):
        return ops.reshape(ops.cast(log_prob_fn(z), "float32"), (-1,))

    compiled = backend.jit(backend.value_and_grad(flat_log_prob))

    def compute(z):
        values, grads = compiled(ops.convert_to_tensor(np.asarray(z, "float32")))
        return (
            np.asarray(ops.convert_to_numpy(values), "float64"),
            np.asarray(ops.convert_to_numpy(grads), "float64"),
        )

    return compute


def _run_numpy(log_prob_fn, initial_state, num_results, num_burnin_steps,
               num_leapfrog_steps, step_size, thinning, target_accept_prob, seed):
    """Plain HMC with per-chain step sizes adapted during burn-in."""
    value_and_grad = _numpy_value_and_grad(log_prob_fn)
    rng = np.random.default_rng(seed + 1)
    z = initial_state.astype("float64")
    num_chains = z.shape[0]
    log_p, grad = value_and_grad(z)
    step = np.full((num_chains, 1), step_size)
    num_adaptation = int(0.8 * num_burnin_steps)
    total = num_burnin_steps + num_results * thinning
    kept, accepted = [], []
    for iteration in range(total):
        # Jitter the step size a little to avoid periodic trajectories.
        eps = step * rng.uniform(0.8, 1.2, size=(num_chains, 1))
        momentum = rng.normal(size=z.shape)
        # A divergent trajectory overflows to inf/NaN; it is rejected below,
        # so NumPy need not warn about it.
        with np.errstate(over="ignore", invalid="ignore"):
            z_new, p_new = z.copy(), momentum + 0.5 * eps * grad
            for leap in range(num_leapfrog_steps):
                z_new = z_new + eps * p_new
                log_p_new, grad_new = value_and_grad(z_new)
                if leap < num_leapfrog_steps - 1:
                    p_new = p_new + eps * grad_new
            p_new = p_new + 0.5 * eps * grad_new
            log_ratio = (
                log_p_new
                - 0.5 * np.sum(p_new**2, axis=-1)
                - log_p
                + 0.5 * np.sum(momentum**2, axis=-1)
            )
        log_ratio = np.where(np.isfinite(log_ratio), log_ratio, -np.inf)
        accept_prob = np.exp(np.minimum(log_ratio, 0.0))
        accept = rng.uniform(size=num_chains) < accept_prob
        z = np.where(accept[:, None], z_new, z)
        log_p = np.where(accept, log_p_new, log_p)
        grad = np.where(accept[:, None], grad_new, grad)
        if iteration < num_adaptation:
            step = step * np.exp(0.1 * (accept_prob - target_accept_prob))[:, None]
        elif iteration >= num_burnin_steps:
            accepted.append(accept)
            if (iteration - num_burnin_steps + 1) % thinning == 0:
                kept.append(z.copy())
    return np.stack(kept), {
        "acceptance_rate": float(np.mean(accepted)),
        "step_size": float(np.median(step)),
        "implementation": "numpy",
    }
