"""Tests of the HMC kernel on Gaussian targets, whose dynamics are known exactly.

On N(0, diag(s^2)) the Hamiltonian flow is a harmonic oscillator per
coordinate, z(t) = z0 cos(t / s) + s p0 sin(t / s); leapfrog follows it to
O(step^2) and conserves the energy to the same order. All random draws are
NumPy's, so every backend sees the same inputs.
"""

import numpy as np
from keras import ops

from keras_avb import backend
from keras_avb.evaluation.hmc_kernel import hmc_transition
from keras_avb.evaluation.hmc_kernel import leapfrog

SCALES = np.array([0.5, 1.5], "float32")


def gaussian(z):
    """log N(z; 0, diag(SCALES^2)) up to a constant, its gradient, and z^2 as extras."""
    precision = ops.convert_to_tensor(1.0 / SCALES**2)
    return -0.5 * ops.sum(z * z * precision, axis=-1), -z * precision, (ops.square(z),)


def _tensor(array):
    return ops.convert_to_tensor(np.asarray(array, "float32"))


def _numpy(values):
    return [ops.convert_to_numpy(v) for v in values]


def _energy(z, p):
    return 0.5 * np.sum((z / SCALES) ** 2 + p**2, axis=-1)


def _start(n=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)) * SCALES, rng.normal(size=(n, 2))


def test_leapfrog_follows_the_oscillator_and_conserves_energy():
    z0, p0 = _start()
    step, num_steps = 0.01, 100
    z, p, (log_prob, grad, (square,)) = leapfrog(
        _tensor(z0), _tensor(p0), gaussian(_tensor(z0)), step, num_steps, gaussian
    )
    z, p, log_prob, grad, square = _numpy((z, p, log_prob, grad, square))
    t = step * num_steps
    exact_z = z0 * np.cos(t / SCALES) + SCALES * p0 * np.sin(t / SCALES)
    exact_p = -z0 / SCALES * np.sin(t / SCALES) + p0 * np.cos(t / SCALES)
    # Leapfrog's global error is O(step^2): (0.01 / 0.5)^2 = 4e-4 here.
    np.testing.assert_allclose(z, exact_z, atol=2e-3)
    np.testing.assert_allclose(p, exact_p, atol=2e-3)
    assert np.max(np.abs(_energy(z, p) - _energy(z0, p0))) < 1e-3
    # The returned state is the target's at the returned position.
    np.testing.assert_allclose(log_prob, -0.5 * np.sum((z / SCALES) ** 2, -1), rtol=1e-5)
    np.testing.assert_allclose(grad, -z / SCALES**2, rtol=1e-5)
    np.testing.assert_allclose(square, z**2, rtol=1e-5)


def test_energy_error_shrinks_with_the_square_of_the_step():
    z0, p0 = _start(n=64, seed=1)
    errors = []
    for step, num_steps in ((0.2, 5), (0.1, 10)):
        z, p, _ = leapfrog(
            _tensor(z0), _tensor(p0), gaussian(_tensor(z0)), step, num_steps, gaussian
        )
        errors.append(np.max(np.abs(_energy(*_numpy((z, p))) - _energy(z0, p0))))
    assert 2.5 < errors[0] / errors[1] < 6.0, errors  # about 4


def test_leapfrog_is_reversible():
    z0, p0 = _start(seed=2)
    step = _tensor([[0.05], [0.1], [0.2], [0.3]])  # one step size per row
    z, p, state = leapfrog(_tensor(z0), _tensor(p0), gaussian(_tensor(z0)), step, 20, gaussian)
    z_back, p_back, _ = leapfrog(z, -p, state, step, 20, gaussian)
    np.testing.assert_allclose(ops.convert_to_numpy(z_back), z0, atol=1e-4)
    np.testing.assert_allclose(-ops.convert_to_numpy(p_back), p0, atol=1e-4)


def test_acceptance_is_the_metropolis_hastings_probability():
    z0, p0 = _start(n=64, seed=3)
    step = 0.9  # close to the stability limit 2 * 0.5: large energy errors
    z_prop, p_prop, _ = leapfrog(
        _tensor(z0), _tensor(p0), gaussian(_tensor(z0)), step, 3, gaussian
    )
    z_prop, p_prop = _numpy((z_prop, p_prop))
    expected = np.minimum(1.0, np.exp(_energy(z0, p0) - _energy(z_prop, p_prop)))
    uniform = np.random.default_rng(4).uniform(size=64)
    z, (log_prob, grad, (square,)), accept = hmc_transition(
        _tensor(z0), gaussian(_tensor(z0)), _tensor(p0), _tensor(uniform), step, 3, gaussian
    )
    z, log_prob, grad, square, accept = _numpy((z, log_prob, grad, square, accept))
    np.testing.assert_allclose(accept, expected, rtol=1e-4, atol=1e-6)
    assert np.all((accept >= 0) & (accept <= 1))
    assert 0.05 < np.mean(expected) < 0.95  # both outcomes occur
    accepted = uniform < expected
    assert 0 < accepted.sum() < 64
    # Accepted rows move to the proposal with its state; the others stay.
    np.testing.assert_allclose(z[accepted], z_prop[accepted], rtol=1e-6)
    np.testing.assert_array_equal(z[~accepted], z0[~accepted].astype("float32"))
    np.testing.assert_allclose(log_prob, -0.5 * np.sum((z / SCALES) ** 2, -1), rtol=1e-5)
    np.testing.assert_allclose(grad, -z / SCALES**2, rtol=1e-5)
    np.testing.assert_allclose(square, z**2, rtol=1e-5)


def test_a_diverging_trajectory_is_rejected():
    def bounded(z):
        # NaN beyond z_0 = 1, as a target whose parameters leave their domain.
        log_prob, grad, extras = gaussian(z)
        return ops.where(z[:, 0] > 1.0, np.nan, log_prob), grad, extras

    z0 = np.zeros((2, 2), "float32")
    momentum = np.array([[20.0, 0.0], [0.1, 0.1]], "float32")
    z, _, accept = hmc_transition(
        _tensor(z0), bounded(_tensor(z0)), _tensor(momentum), _tensor([1e-6, 1e-6]),
        0.1, 5, bounded,
    )
    z, accept = _numpy((z, accept))
    assert accept[0] == 0.0 and accept[1] > 0.9
    np.testing.assert_array_equal(z[0], z0[0])
    assert np.all(z[1] != 0.0)


def _chains(z, num_transitions, step_low, step_high, num_leapfrog_steps, seed):
    """Runs independent chains, a fresh step size per chain and transition.

    The transition is compiled with `backend.jit`, as `run_hmc` runs it.
    """
    rng = np.random.default_rng(seed)
    n = z.shape[0]

    @backend.jit
    def transition(z, state, momentum, uniform, step):
        return hmc_transition(z, state, momentum, uniform, step, num_leapfrog_steps, gaussian)

    z = _tensor(z)
    state = gaussian(z)
    accepts = []
    for _ in range(num_transitions):
        step = rng.uniform(step_low, step_high, size=(n, 1))
        z, state, accept = transition(
            z, state, _tensor(rng.normal(size=(n, 2))), _tensor(rng.uniform(size=n)),
            _tensor(step),
        )
        accepts.append(ops.convert_to_numpy(accept))
    return ops.convert_to_numpy(z), np.array(accepts)


def _assert_target_moments(samples):
    # The chains are independent, so their final states are i.i.d. draws:
    # the mean has a standard error of s / sqrt(n), the variance a relative
    # one of sqrt(2 / (n - 1)); both are checked to 4.5 standard errors.
    n = samples.shape[0]
    np.testing.assert_array_less(np.abs(samples.mean(0)), 4.5 * SCALES / np.sqrt(n))
    ratio = samples.var(0, ddof=1) / SCALES**2
    np.testing.assert_array_less(np.abs(ratio - 1.0), 4.5 * np.sqrt(2.0 / (n - 1)))


def test_chains_from_a_point_reach_the_target():
    # All 4000 chains start at (3, 3), 6 and 2 standard deviations out.
    # Trajectories of length 2 to 2.8 turn the oscillators by about a
    # quarter (s = 1.5) and three quarters (s = 0.5) of a period, so each
    # transition all but forgets the start: 10 transitions leave a bias far
    # below the standard errors.
    samples, accepts = _chains(np.full((4000, 2), 3.0), 10, 0.2, 0.28, 10, seed=5)
    _assert_target_moments(samples)
    assert np.all((accepts >= 0) & (accepts <= 1))
    assert np.mean(accepts) > 0.7


def test_the_accept_test_keeps_the_target_with_large_steps():
    # Always accepting leapfrog moves of step 0.9 on the s = 0.5 coordinate
    # would inflate its stationary variance about ten-fold (1 / (1 - h^2 /
    # 4s^2)); the Metropolis-Hastings test must keep N(0, s^2) exactly.
    start = np.random.default_rng(6).normal(size=(4000, 2)) * SCALES
    samples, accepts = _chains(start, 6, 0.85, 0.95, 3, seed=7)
    _assert_target_moments(samples)
    assert 0.05 < np.mean(accepts) < 0.95
