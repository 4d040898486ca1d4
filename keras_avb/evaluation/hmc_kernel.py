"""One Hamiltonian Monte Carlo transition per row, written once in `keras.ops`.

Annealed importance sampling (`ais_log_likelihood`) and the ground-truth
sampler of `keras_avb.vi` (`run_hmc`) both move their chains with
`hmc_transition`: a leapfrog trajectory from a fresh momentum, then a
Metropolis-Hastings test, for many independent chains at once (one chain a
row, each with its own step size). The caller supplies the target as
`value_and_grad(z) -> (log_prob, grad, extras)`, where `extras` is a tuple
of per-row values it wants at the accepted point (AIS keeps the two parts
of its annealed density there), and draws the randomness itself, so the
transition is a pure function that every backend can compile.
"""

import numpy as np
from keras import ops


def leapfrog(z, momentum, state, step, num_steps, value_and_grad):
    """`num_steps` leapfrog steps of size `step` from `(z, momentum)`.

    Args:
        z: `(n, d)` positions.
        momentum: `(n, d)` momenta.
        state: `(log_prob, grad, extras)` at `z` (the shapes of the loop's
            carry; `grad` starts the first half step).
        step: step sizes broadcastable to `z`, e.g. `(n, 1)`.
        num_steps: the number of leapfrog steps, an int >= 1.
        value_and_grad: `z -> (log_prob, grad, extras)`.

    Returns:
        `(z, momentum, (log_prob, grad, extras))` at the end of the trajectory.

    Example:

    >>> def standard_normal(z):
    ...     return -0.5 * ops.sum(z * z, axis=-1), -z, ()
    >>> z = ops.ones((1, 2))
    >>> z_new, p_new, (log_prob, _, _) = leapfrog(
    ...     z, ops.zeros((1, 2)), standard_normal(z), 0.1, 10, standard_normal)
    >>> # After a time of 1 the oscillator is at about cos(1) = 0.54 per coordinate.
    >>> bool(ops.all(z_new < z))
    True
    """
    _, grad, _ = state
    p = momentum + 0.5 * step * grad

    def body(_, carry):
        z, p, _ = carry
        z = z + step * p
        log_prob, grad, extras = value_and_grad(z)
        p = p + step * grad
        return (z, p, (log_prob, grad, extras))

    z, p, state = ops.fori_loop(0, num_steps, body, (z, p, state))
    # The loop made a full momentum step at the end; the last is a half step.
    p = p - 0.5 * step * state[1]
    return z, p, state


def hmc_transition(z, state, momentum, uniform, step, num_leapfrog_steps, value_and_grad):
    """One HMC transition per row: a leapfrog trajectory and an accept test.

    Args:
        z: `(n, d)` current positions.
        state: `(log_prob, grad, extras)` at `z`, as `value_and_grad` gives.
        momentum: `(n, d)` standard-normal draws.
        uniform: `(n,)` uniform draws for the Metropolis-Hastings test.
        step: step sizes broadcastable to `z`, e.g. `(n, 1)`.
        num_leapfrog_steps: leapfrog steps per transition, an int >= 1.
        value_and_grad: `z -> (log_prob, grad, extras)`; `log_prob` is the
            log-density up to a constant, one value per row.

    Returns:
        `(z, state, accept_prob)`: the new positions, their `state`, and
        each row's acceptance probability `min(1, exp(-dH))` (0 for a
        trajectory that diverged to NaN).

    Example:

    >>> import keras
    >>> def standard_normal(z):
    ...     return -0.5 * ops.sum(z * z, axis=-1), -z, ()
    >>> z = ops.zeros((3, 2))
    >>> z, state, accept = hmc_transition(
    ...     z, standard_normal(z), keras.random.normal((3, 2), seed=0),
    ...     keras.random.uniform((3,), seed=1), 0.1, 5, standard_normal)
    >>> tuple(z.shape), bool(ops.all(accept > 0.9))
    ((3, 2), True)
    """
    log_prob = state[0]
    z_new, p_new, new_state = leapfrog(
        z, momentum, state, step, num_leapfrog_steps, value_and_grad
    )
    energy = -log_prob + 0.5 * ops.sum(ops.square(momentum), -1)
    energy_new = -new_state[0] + 0.5 * ops.sum(ops.square(p_new), -1)
    log_accept = ops.minimum(energy - energy_new, 0.0)
    log_accept = ops.where(ops.isnan(log_accept), -np.inf, log_accept)
    accepted = ops.log(uniform) < log_accept

    def select(new, old):
        rows = ops.reshape(accepted, (-1,) + (1,) * (len(new.shape) - 1))
        return ops.where(rows, new, old)

    z = select(z_new, z)
    state = (
        select(new_state[0], state[0]),
        select(new_state[1], state[1]),
        tuple(select(n, o) for n, o in zip(new_state[2], state[2])),
    )
    return z, state, ops.exp(log_accept)
