"""`fit_posterior` and the VI samplers reject bad input before any training."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.vi import fit_posterior
from keras_avb.vi import run_hmc


def log_prob(z):
    return -0.5 * keras.ops.sum(keras.ops.square(z), axis=-1)


def broken_target(z):
    raise RuntimeError("boom")


# Should a check miss, the call trains for one short step instead of 2000.
QUICK = {"steps": 1, "batch_size": 4}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"method": "nuts"}, "`method` must be one of"),
        ({"steps": 0}, "`steps` must be an integer >= 1"),
        ({"steps": 2.5}, "`steps` must be an integer >= 1"),
        ({"batch_size": 1}, "`batch_size` must be an integer >= 2"),
        ({"batch_size": "64"}, "`batch_size` must be an integer >= 2"),
        ({"learning_rate": -1.0}, "`learning_rate` must be a finite number > 0"),
        ({"learning_rate": float("nan")}, "`learning_rate` must be a finite number > 0"),
        ({"learning_rate": "fast"}, "`learning_rate`.*of type str"),
        ({"seed": -1}, "`seed` must be an integer >= 0"),
        ({"seed": 1.5}, "`seed` must be an integer >= 0"),
        ({"adversary_steps": 0}, "`adversary_steps`"),
        ({"reference_scale": float("nan")}, "`reference_scale` must be a finite number > 0"),
        ({"contrast_epsilon": -1.0}, "`contrast_epsilon` must be a finite number >= 0"),
        ({"noise_dim": 0}, "`noise_dim` must be an integer >= 1"),
        ({"callback": lambda fitted, step: None, "callback_every": 0}, "`callback_every`"),
        ({"callback": "print", "callback_every": 1}, "`callback` must be callable"),
        ({"num_chains": 4}, r"Unknown option\(s\) \['num_chains'\] for method='avb'"),
        ({"method": "hmc", "num_chains": 0}, "`num_chains` must be an integer >= 1"),
        ({"method": "hmc", "num_burnin_steps": -1}, "`num_burnin_steps`"),
        ({"method": "hmc", "step_size": float("nan")}, "`step_size` must be a finite number > 0"),
        ({"method": "hmc", "step_size": "a"}, "`step_size`.*of type str"),
        ({"method": "hmc", "target_accept_prob": 2.0}, "`target_accept_prob`"),
        ({"method": "hmc", "thinning": 0}, "`thinning`"),
        ({"method": "hmc", "implementation": "stan"}, "`implementation` must be one of"),
        (
            {"method": "hmc", "num_chains": 2, "initial_state": np.full((2, 2), np.nan)},
            "`initial_state` contains 4 NaN",
        ),
        (
            {"method": "hmc", "num_chains": 2, "initial_state": np.zeros((3, 2))},
            r"`initial_state` must have shape \(2, 2\)",
        ),
        (
            {"method": "hmc", "num_chains": 2, "initial_state": np.zeros((2, 5))},
            r"`initial_state` has examples of shape \(5,\)",
        ),
    ],
)
def test_fit_posterior_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fit_posterior(log_prob, 2, **{**QUICK, **kwargs})


@pytest.mark.parametrize(
    "target, event_size, message",
    [
        (None, 2, "must be a callable"),
        ("log_prob", 2, "must be a callable"),
        (log_prob, 0, "`event_size` must be an integer >= 1"),
        (log_prob, 2.5, "`event_size` must be an integer >= 1"),
        (log_prob, None, "Pass `event_size`"),
        (lambda z: z, 2, r"returned shape \(3, 2\)"),
        (lambda z: keras.ops.sum(z, axis=-1) > 0, 2, "must return floats"),
        (lambda z: keras.ops.sum(z, axis=-1) * np.nan, 2, "returned NaN"),
        (lambda z: keras.ops.sum(z, axis=-1) * 0.0 - np.inf, 2, r"-inf at every one"),
        (lambda z: keras.ops.sum(z, axis=-1) * 0.0 + np.inf, 2, r"returned \+inf"),
        (broken_target, 2, "failed: RuntimeError: boom"),
    ],
)
def test_fit_posterior_rejects_bad_targets(target, event_size, message):
    with pytest.raises(ValueError, match=message):
        fit_posterior(target, event_size, **QUICK)


def test_run_hmc_checks_its_arguments():
    with pytest.raises(ValueError, match="`seed` must be an integer >= 0"):
        run_hmc(log_prob, 2, num_results=1, seed=-1)
    with pytest.raises(ValueError, match="`num_results` must be an integer >= 1"):
        run_hmc(log_prob, 2, num_results=0)


def test_fitted_posterior_checks_sample_and_train_arguments():
    fitted = fit_posterior(
        log_prob, 2, method="advi_meanfield", steps=1, batch_size=4, seed=0
    )
    steps = int(fitted.model.optimizer.iterations)
    for bad in (0, -1, 2.5, "3", None):
        with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1"):
            fitted.sample(bad)
        with pytest.raises(ValueError, match="`steps` must be an integer >= 1"):
            fitted.train(bad)
    assert int(fitted.model.optimizer.iterations) == steps


def test_posterior_sampler_checks_its_arguments():
    from keras_avb.vi import PosteriorSampler

    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 2"):
        PosteriorSampler(log_prob, 2, batch_size=1)
    with pytest.raises(ValueError, match="`target_log_prob_fn` must be callable"):
        PosteriorSampler(None, 2)
    with pytest.raises(ValueError, match=r"samples of shape \(batch, 2\)"):
        PosteriorSampler(
            log_prob,
            2,
            sampler=keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]),
            adversary=keras_avb.layers.ResidualAdversary(8, 1, name="adversary"),
        )
