"""`fit_posterior` shows progress by default, as `keras.Model.fit` does."""

import functools

import keras
import numpy as np
import pytest

from keras_avb.vi import fit_posterior
from keras_avb.vi import hmc as hmc_lib


def log_prob(z):
    return -0.5 * keras.ops.sum(keras.ops.square(z - 1.0), axis=-1)


def _fit(**kwargs):
    return fit_posterior(
        log_prob, 2, method="advi_meanfield", steps=20, batch_size=8, seed=0, **kwargs
    )


def test_fit_posterior_shows_a_progress_bar_by_default(capsys):
    _fit()
    out = capsys.readouterr().out
    assert "20/20" in out and "loss" in out, out


def test_train_shows_a_progress_bar_by_default(capsys):
    fitted = _fit(verbose=0)
    assert capsys.readouterr().out == ""
    fitted.train(7)
    assert "7/7" in capsys.readouterr().out


def test_verbose_zero_prints_nothing(capsys):
    _fit(verbose=0)
    assert capsys.readouterr().out == ""


def test_disabled_interactive_logging_keeps_stdout_quiet(capsys):
    keras.config.disable_interactive_logging()
    try:
        _fit()
    finally:
        keras.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""


def test_hmc_says_what_it_runs_and_when_it_is_done(monkeypatch, capsys):
    # The chains themselves are tested elsewhere: a stand-in keeps this fast.
    real = hmc_lib.run_hmc

    @functools.wraps(real)
    def run_hmc(*args, **kwargs):
        return np.zeros((10, 2), "float32"), {}

    monkeypatch.setattr(hmc_lib, "run_hmc", run_hmc)
    fit_posterior(
        log_prob, 2, method="hmc", steps=5, num_chains=2, num_burnin_steps=5,
        num_leapfrog_steps=2, seed=0,
    )
    out = capsys.readouterr().out
    assert "Running HMC: 2 chains, 5 burn-in transitions and 5 kept samples" in out
    assert "HMC done in" in out


@pytest.mark.parametrize("verbose", ["yes", 3, None])
def test_bad_verbose_is_a_value_error(verbose):
    with pytest.raises(ValueError, match="`verbose` must be 'auto', 0"):
        _fit(verbose=verbose)
