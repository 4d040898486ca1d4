"""The estimators show progress by default, as `keras.Model.fit` does."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.distributions import Gaussian
from keras_avb.distributions import StandardNormal
from keras_avb.evaluation import ais_log_likelihood
from keras_avb.evaluation import evaluate_log_likelihood
from keras_avb.evaluation import importance_log_likelihood
from keras_avb.evaluation import linear_gaussian_problem


def _importance(**kwargs):
    problem = linear_gaussian_problem(num_examples=4, seed=0)
    proposal = (problem.posterior_mean, 1.5 * problem.posterior_variance)
    return importance_log_likelihood(
        problem.decoder, Gaussian(problem.scale), StandardNormal(2), problem.x,
        proposal=proposal, num_samples=16, seed=0, **kwargs,
    )


def _ais(**kwargs):
    problem = linear_gaussian_problem(num_examples=4, seed=0)
    return ais_log_likelihood(
        problem.decoder, Gaussian(problem.scale), StandardNormal(2), problem.x,
        num_steps=5, num_chains=2, seed=0, **kwargs,
    )


def test_importance_shows_a_progress_bar_by_default(capsys):
    _importance()
    out = capsys.readouterr().out
    assert "64/64" in out and "log_px" in out, out


def test_ais_shows_a_progress_bar_by_default(capsys):
    _ais()
    out = capsys.readouterr().out
    assert "20/20" in out and "accept" in out, out


def test_evaluate_log_likelihood_shows_a_progress_bar_by_default(capsys):
    x_in = keras.Input((4,))
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(2)(x_in)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    model = keras_avb.VAE(encoder, decoder)
    model(np.zeros((1, 4), "float32"))
    evaluate_log_likelihood(
        model, np.eye(4, dtype="float32"), method="importance", num_samples=8, seed=0
    )
    assert "32/32" in capsys.readouterr().out


@pytest.mark.parametrize("run", [_importance, _ais], ids=["importance", "ais"])
def test_verbose_zero_prints_nothing(run, capsys):
    run(verbose=0)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("run", [_importance, _ais], ids=["importance", "ais"])
def test_verbose_two_prints_one_line_at_the_end(run, capsys):
    run(verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1, lines


def test_disabled_interactive_logging_keeps_stdout_quiet(capsys):
    keras.config.disable_interactive_logging()
    try:
        _importance()
    finally:
        keras.config.enable_interactive_logging()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("run", [_importance, _ais], ids=["importance", "ais"])
@pytest.mark.parametrize("verbose", ["yes", 3, -1, 1.5])
def test_bad_verbose_is_a_value_error(run, verbose):
    with pytest.raises(ValueError, match="`verbose` must be 'auto', 0"):
        run(verbose=verbose)
