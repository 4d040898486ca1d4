"""`run_hmc` with the package's kernel: adaptation, thinning, seeds, checks."""

import numpy as np
import pytest
from keras import ops

from keras_avb.vi import run_hmc

SCALES = np.array([0.5, 2.0], "float32")


def scaled_gaussian(z):
    return -0.5 * ops.sum(ops.square(z / ops.convert_to_tensor(SCALES)), axis=-1)


def _run(**kwargs):
    settings = dict(num_results=150, num_chains=16, num_burnin_steps=150,
                    num_leapfrog_steps=4, seed=3, implementation="keras")
    settings.update(kwargs)
    return run_hmc(scaled_gaussian, 2, **settings)


def test_step_size_grows_from_a_small_start_to_the_target_acceptance():
    samples, info = _run(target_accept_prob=0.6, step_size=0.01)
    assert abs(info["acceptance_rate"] - 0.6) < 0.12, info
    assert info["step_size"] > 0.1
    np.testing.assert_allclose(samples.std(axis=0), SCALES, rtol=0.2)
    assert info["max_rhat"] < 1.1


def test_higher_target_gives_smaller_steps():
    _, low = _run(target_accept_prob=0.6)
    _, high = _run(target_accept_prob=0.95)
    assert high["step_size"] < low["step_size"]


def test_thinning_and_seeds():
    samples, _ = _run(num_results=10, thinning=3)
    assert samples.shape == (10 * 16, 2)
    again, _ = _run(num_results=10, thinning=3)
    np.testing.assert_array_equal(samples, again)
    other, _ = _run(num_results=10, thinning=3, seed=4)
    assert not np.allclose(samples, other)


def test_no_burn_in_keeps_the_initial_step_size():
    _, info = _run(num_burnin_steps=0, num_results=5, step_size=0.3)
    assert info["step_size"] == pytest.approx(0.3)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_burnin_steps=-1), "`num_burnin_steps` must be an integer >= 0"),
        (dict(thinning=1.5), "`thinning` must be an integer >= 1"),
        (dict(target_accept_prob=1.0), "`target_accept_prob`"),
        (dict(implementation="numpy"), "`implementation`"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        _run(**kwargs)
