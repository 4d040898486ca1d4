import numpy as np
import pytest

from keras_avb.vi.diagnostics import effective_sample_size
from keras_avb.vi.diagnostics import potential_scale_reduction


def ar1_chains(coefficient, num_results=20000, num_chains=4, event_size=2, seed=0):
    rng = np.random.default_rng(seed)
    x = np.zeros((num_results, num_chains, event_size))
    for t in range(1, num_results):
        x[t] = coefficient * x[t - 1] + rng.normal(size=(num_chains, event_size))
    return x


@pytest.mark.parametrize("coefficient", [0.0, 0.5, 0.9])
def test_ess_of_ar1_matches_closed_form(coefficient):
    chains = ar1_chains(coefficient)
    exact = chains.shape[0] * chains.shape[1] * (1 - coefficient) / (1 + coefficient)
    ess = effective_sample_size(chains)
    assert ess.shape == (2,)
    np.testing.assert_allclose(ess, exact, rtol=0.15)


def test_rhat_is_one_for_mixed_chains_and_large_for_stuck_ones():
    chains = ar1_chains(0.5, num_results=4000)
    np.testing.assert_allclose(potential_scale_reduction(chains), 1.0, atol=0.01)
    stuck = chains.copy()
    stuck[:, 0] += 3.0  # one chain in another mode
    assert np.all(potential_scale_reduction(stuck) > 1.1)


def test_split_catches_a_drifting_chain():
    rng = np.random.default_rng(0)
    drifting = rng.normal(size=(2000, 4)) + np.linspace(0, 5, 2000)[:, None]
    assert potential_scale_reduction(drifting) > 1.2


@pytest.mark.parametrize("shape", [(10,), (3, 4), (10, 2, 2, 2)])
def test_bad_shapes_name_the_problem(shape):
    with pytest.raises(ValueError, match="chains|results"):
        potential_scale_reduction(np.zeros(shape))
