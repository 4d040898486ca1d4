"""Tests of keras_avb.vi on targets with known answers (every backend)."""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.layers import ResidualAdversary
from keras_avb.vi import PosteriorSampler
from keras_avb.vi import empirical_moments
from keras_avb.vi import fit_posterior

BACKEND = keras.backend.backend()
MEAN = np.array([1.0, -1.0], dtype="float32")
COV = np.array([[1.0, 0.8], [0.8, 1.0]], dtype="float32")
PRECISION = np.linalg.inv(COV).astype("float32")


def correlated_gaussian(z):
    """log N(z; MEAN, COV) up to a constant, with keras.ops."""
    d = z - ops.convert_to_tensor(MEAN)
    return -0.5 * ops.sum(ops.matmul(d, ops.convert_to_tensor(PRECISION)) * d, axis=-1)


def small_avb(adaptive_contrast=True):
    # Without AC the adversary needs the log-prior trick (as the default one).
    return dict(
        hidden_units=(64, 64),
        adversary=ResidualAdversary(
            64, 2, add_squared_norm=not adaptive_contrast, name="adversary"
        ),
        adaptive_contrast=adaptive_contrast,
    )


def test_avb_with_ac_matches_correlated_gaussian():
    fitted = fit_posterior(
        correlated_gaussian, 2, method="avb", adversary_steps=2, steps=600,
        batch_size=256, learning_rate=1e-3, seed=1, **small_avb(True),
    )
    mean, cov = empirical_moments(fitted.sample(20000, seed=3))
    # Sampling error with 20k samples is ~0.01; the rest is the adversary's
    # error after a short run (measured: <= 0.05 on the mean and <= 0.1 on
    # the covariance on the three backends).
    np.testing.assert_allclose(mean, MEAN, atol=0.1)
    np.testing.assert_allclose(cov, COV, atol=0.15)
    # The correlation (0.8) is what a mean-field method cannot get.
    correlation = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    assert 0.7 < correlation < 0.9
    assert np.all(np.isfinite(fitted.history["loss"]))


def test_avb_without_ac_is_stable_and_located():
    # Without AC (fixed N(0, I) reference, log-prior trick) AVB is the less
    # accurate variant, as the paper says: after 600 steps the variances
    # came out between 0.68 and 1.26 (target 1.0) across the backends. This
    # test checks what holds reliably at this budget: no divergence, the
    # right mean and a strong positive correlation. Accuracy of the
    # covariance is required of the default (AC) above.
    fitted = fit_posterior(
        correlated_gaussian, 2, method="avb", adversary_steps=2, steps=600,
        batch_size=256, learning_rate=1e-3, seed=1, **small_avb(False),
    )
    mean, cov = empirical_moments(fitted.sample(20000, seed=3))
    np.testing.assert_allclose(mean, MEAN, atol=0.15)
    assert np.all((np.diag(cov) > 1.0 / 1.5) & (np.diag(cov) < 1.5))
    assert cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]) > 0.6


def test_avb_schedule_uses_two_optimizers():
    fitted = fit_posterior(
        correlated_gaussian, 2, method="avb", adversary_steps=2, steps=3,
        batch_size=16, seed=0, **small_avb(),
    )
    model = fitted.model
    assert isinstance(model, PosteriorSampler)
    assert isinstance(model.optimizer, keras.optimizers.MultiOptimizer)
    sampler_opt, adversary_opt = (
        model._player_optimizers["sampler"], model._player_optimizers["adversary"]
    )
    assert int(ops.convert_to_numpy(sampler_opt.iterations)) == 3
    assert int(ops.convert_to_numpy(adversary_opt.iterations)) == 6
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 3
    assert fitted.sample(7).shape == (7, 2)
    assert fitted.steps_trained == 3


def test_advi_fullrank_recovers_covariance():
    fitted = fit_posterior(
        correlated_gaussian, 2, method="advi_fullrank", steps=600, batch_size=256,
        learning_rate=2e-2, seed=0,
    )
    np.testing.assert_allclose(fitted.model.mean, MEAN, atol=0.05)
    np.testing.assert_allclose(fitted.model.covariance, COV, atol=0.07)
    _, cov = empirical_moments(fitted.sample(20000, seed=1))
    np.testing.assert_allclose(cov, COV, atol=0.1)


def test_advi_meanfield_matches_known_optimum():
    # For a Gaussian target the mean-field optimum has variances 1 / P_ii.
    fitted = fit_posterior(
        correlated_gaussian, 2, method="advi_meanfield", steps=600, batch_size=256,
        learning_rate=2e-2, seed=0,
    )
    np.testing.assert_allclose(fitted.model.mean, MEAN, atol=0.05)
    expected = np.diag(1.0 / np.diag(PRECISION))
    np.testing.assert_allclose(fitted.model.covariance, expected, atol=0.04)


@pytest.mark.parametrize("implementation", ["auto", "tfp"])
def test_hmc_matches_correlated_gaussian(implementation):
    if implementation == "tfp" and BACKEND == "torch":
        # TFP has no PyTorch substrate: refused before any work, by name.
        with pytest.raises(ValueError, match="needs the tensorflow or jax backend"):
            fit_posterior(correlated_gaussian, 2, method="hmc", implementation="tfp")
        return
    fitted = fit_posterior(
        correlated_gaussian, 2, method="hmc", steps=300, num_chains=16,
        num_burnin_steps=200, num_leapfrog_steps=5, seed=0,
        implementation=implementation,
    )
    assert fitted.all_samples.shape == (300 * 16, 2)
    expected = "tfp" if implementation == "tfp" else "keras"
    assert fitted.info["implementation"] == expected
    assert 0.4 < fitted.info["acceptance_rate"] < 0.99
    mean, cov = empirical_moments(fitted.all_samples)
    np.testing.assert_allclose(mean, MEAN, atol=0.12)
    np.testing.assert_allclose(cov, COV, atol=0.15)
    assert fitted.sample(100, seed=0).shape == (100, 2)
    with pytest.raises(ValueError, match="HMC stored 4800 samples"):
        fitted.sample(5000)


def test_callback_is_called_during_training():
    seen = []
    fit_posterior(
        correlated_gaussian, 2, method="advi_meanfield", steps=25, batch_size=8,
        seed=0, callback=lambda fitted, step: seen.append((step, fitted.steps_trained)),
        callback_every=10,
    )
    assert seen == [(10, 10), (20, 20), (25, 25)]


@pytest.mark.skipif(BACKEND == "torch", reason="TFP has no PyTorch substrate")
def test_tfp_joint_distribution_target():
    if BACKEND == "jax":
        from tensorflow_probability.substrates import jax as tfp
    else:
        import tensorflow_probability as tfp
    tfd = tfp.distributions
    # a ~ N(0, 1), b | a ~ N(a, 0.5): covariance [[1, 1], [1, 1.25]].
    jd = tfd.JointDistributionSequential(
        [tfd.Normal(0.0, 1.0), lambda a: tfd.Normal(a, 0.5)]
    )
    expected = np.array([[1.0, 1.0], [1.0, 1.25]])
    for target in (jd, jd.log_prob):
        fitted = fit_posterior(
            target, method="advi_fullrank", steps=600, batch_size=256,
            learning_rate=2e-2, seed=0,
        )
        assert fitted.event_size == 2
        np.testing.assert_allclose(fitted.model.covariance, expected, atol=0.08)
    with pytest.raises(ValueError, match="does not match the TFP distribution"):
        fit_posterior(jd, event_size=3, method="advi_fullrank", steps=1)


@pytest.mark.skipif(BACKEND != "torch", reason="only torch lacks TFP")
def test_tfp_distribution_rejected_under_torch():
    import tensorflow_probability as tfp

    with pytest.raises(ValueError, match="TFP has no PyTorch substrate"):
        fit_posterior(tfp.distributions.Normal(0.0, 1.0), method="advi_meanfield")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(method="vb"), "`method` must be one of"),
        (dict(event_size=None), "Pass `event_size`"),
        (dict(event_size=0), "`event_size` must be an integer >= 1"),
        (dict(event_size=2.0), "`event_size` must be an integer >= 1"),
        (dict(steps=0), "`steps` must be an integer >= 1"),
        (dict(batch_size=1), "`batch_size` must be an integer >= 2"),
        (dict(adversary_steps=0), "`adversary_steps` must be None"),
        (dict(num_chains=4), r"Unknown option\(s\) \['num_chains'\] for method='avb'"),
        (dict(method="hmc", hidden_units=(4,)), r"Unknown option\(s\) \['hidden_units'\]"),
        (dict(method="hmc", step_size=-1.0), "`step_size` must be a finite number > 0"),
        (dict(callback=lambda f, s: None), "`callback_every` must be an integer"),
        (dict(learning_rate=0.0), "`learning_rate` must be a finite number > 0"),
        (dict(seed="a"), "`seed` must be an integer"),
    ],
)
def test_rejects_bad_arguments(kwargs, message):
    arguments = dict(event_size=2, method="avb", steps=1, batch_size=8)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        fit_posterior(correlated_gaussian, **arguments)


def test_rejects_bad_targets():
    with pytest.raises(ValueError, match="must be a callable"):
        fit_posterior("not a function", 2)
    with pytest.raises(ValueError, match=r"returned shape \(3, 2\)"):
        fit_posterior(lambda z: z, 2, steps=1)
    with pytest.raises(ValueError, match="failed"):
        fit_posterior(lambda z: ops.matmul(z, ops.ones((5, 1)))[:, 0], 2, steps=1)
    with pytest.raises(ValueError, match="returned NaN"):
        fit_posterior(lambda z: ops.log(z[:, 0] * 0.0 - 1.0), 2, steps=1)


def test_rejects_bad_sample_sizes_and_networks():
    fitted = fit_posterior(
        correlated_gaussian, 2, method="advi_meanfield", steps=1, batch_size=4
    )
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="`num_samples` must be an integer"):
            fitted.sample(bad)
    with pytest.raises(ValueError, match=r"samples of shape \(batch, 2\)"):
        PosteriorSampler(
            correlated_gaussian, 2,
            sampler=keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)]),
        )
    with pytest.raises(ValueError, match="two different optimizer instances"):
        model = PosteriorSampler(correlated_gaussian, 2, **small_avb())
        adam = keras.optimizers.Adam()
        model.compile(adam, adam)


def current_rate(optimizer):
    return float(ops.convert_to_numpy(optimizer.learning_rate))


@pytest.mark.parametrize("schedule", ["cosine", "constant"])
def test_learning_rate_schedule_of_both_players(schedule):
    fitted = fit_posterior(
        correlated_gaussian, 2, method="avb", steps=4, batch_size=16,
        learning_rate=1e-3, learning_rate_schedule=schedule, seed=0, verbose=0,
        **small_avb(True),
    )
    model = fitted.model
    # Each player counts its own updates: 4 sampler and 2 x 4 adversary ones.
    assert int(ops.convert_to_numpy(model.player_optimizer.iterations)) == 4
    assert int(ops.convert_to_numpy(model.adversary_optimizer.iterations)) == 8
    if schedule == "constant":
        assert current_rate(model.player_optimizer) == pytest.approx(1e-3)
        assert current_rate(model.adversary_optimizer) == pytest.approx(2e-3)
    else:
        # Both decayed to 0 exactly at the end of their own updates.
        assert current_rate(model.player_optimizer) == pytest.approx(0.0, abs=1e-9)
        assert current_rate(model.adversary_optimizer) == pytest.approx(0.0, abs=1e-9)


def test_avb_defaults_are_cosine_and_advi_constant():
    avb = fit_posterior(correlated_gaussian, 2, method="avb", steps=2, batch_size=16,
                        seed=0, verbose=0, **small_avb(True))
    # AVB's default cosine has decayed to 0 after its 2 steps; ADVI's rate stays.
    assert current_rate(avb.model.player_optimizer) == pytest.approx(0.0, abs=1e-9)
    advi = fit_posterior(correlated_gaussian, 2, method="advi_meanfield", steps=2,
                         batch_size=16, seed=0, verbose=0)
    assert current_rate(advi.model.optimizer) == pytest.approx(5e-3)
    assert advi.steps_trained == 2


def test_default_steps_per_method(monkeypatch):
    from keras_avb.vi import api

    seen = []
    monkeypatch.setattr(api.FittedPosterior, "train",
                        lambda self, steps, verbose="auto": seen.append(steps) or self)
    fit_posterior(correlated_gaussian, 2, method="avb", batch_size=16, seed=0,
                  **small_avb(True))
    fit_posterior(correlated_gaussian, 2, method="advi_fullrank", batch_size=16, seed=0)
    assert seen == [api.DEFAULT_STEPS["avb"], api.DEFAULT_STEPS["advi_fullrank"]]


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_covariance_of_the_contrast(covariance):
    fitted = fit_posterior(
        correlated_gaussian, 2, method="avb", adversary_steps=2, steps=600,
        batch_size=256, learning_rate=1e-3, seed=1, covariance=covariance,
        verbose=0, **small_avb(True),
    )
    assert fitted.model.covariance == covariance
    mean, cov = empirical_moments(fitted.sample(20000, seed=3))
    np.testing.assert_allclose(mean, MEAN, atol=0.1)
    np.testing.assert_allclose(cov, COV, atol=0.15)


def test_full_covariance_contrast_whitens_the_batch():
    model = PosteriorSampler(correlated_gaussian, 2, covariance="full", batch_size=64,
                             hidden_units=(8,), seed=0,
                             adversary=ResidualAdversary(8, 1, name="adversary"))
    rng = np.random.default_rng(0)
    z = ops.convert_to_tensor(rng.multivariate_normal(MEAN, COV, 64).astype("float32"))
    z_white, log_r = model.contrast([z, *model._batch_moments(z)])
    np.testing.assert_allclose(np.cov(ops.convert_to_numpy(z_white).T, bias=True),
                               np.eye(2), atol=2e-3)
    assert tuple(log_r.shape) == (64,)


@pytest.mark.parametrize(
    "arguments, message",
    [
        (dict(learning_rate_schedule="linear"), "learning_rate_schedule"),
        (dict(covariance="dense"), "covariance"),
    ],
)
def test_bad_schedule_and_covariance_are_named(arguments, message):
    with pytest.raises(ValueError, match=message):
        fit_posterior(correlated_gaussian, 2, method="avb", steps=1, batch_size=16,
                      verbose=0, **{**small_avb(True), **arguments})
