import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.testing import fixed_gaussian_encoder
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def small_avb(**kwargs):
    return keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=16, num_blocks=1, add_squared_norm=True),
        seed=0,
        **kwargs,
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"adaptive_contrast": True, "adversary_steps": 2}],
    ids=["simultaneous", "adaptive_contrast_two_adversary_steps"],
)
def test_losses_fall_on_the_four_point_data(options):
    model = small_avb(**options)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        adversary_optimizer=keras.optimizers.Adam(3e-3),
    )
    # Early on the KL estimate can rise while the adversary catches up, so
    # the run is long enough for the loss to settle.
    history = model.fit(four_point_data(512), batch_size=64, epochs=24, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] - 0.2
    assert history["reconstruction_error"][-1] < history["reconstruction_error"][0]
    assert all(np.all(np.isfinite(values)) for values in history.values())
    logs = model.evaluate(four_point_data(128, seed=1), verbose=0, return_dict=True)
    assert set(logs) == set(keras_avb.AVB.METRIC_NAMES)
    np.testing.assert_allclose(logs["loss"], -logs["adversarial_elbo"], rtol=1e-5)


def gaussian_log_density(z, mean, scale):
    return np.sum(
        -0.5 * ((z - mean) / scale) ** 2 - np.log(scale) - 0.5 * math.log(2 * math.pi),
        axis=-1,
    )


def test_trained_adversary_approaches_the_log_density_ratio():
    kernel, bias, scale = [[1.0, -0.5]], [-0.5, 0.5], np.array([0.5, 1.5])
    model = keras_avb.AVB(
        fixed_gaussian_encoder(kernel, bias, scale),
        tiny_decoder(data_dim=1),
        keras_avb.layers.ResidualAdversary(units=64, num_blocks=2),
        seed=0,
    )
    steps = 1500
    model.compile(
        optimizer=keras.optimizers.SGD(0.0),
        adversary_optimizer=keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(3e-3, steps, alpha=0.02)
        ),
    )
    # One epoch of `steps` batches: per-epoch overhead would dominate otherwise.
    x = np.random.default_rng(0).integers(0, 2, (1024 * steps, 1)).astype("float32")
    model.fit(x, batch_size=1024, epochs=1, verbose=0)

    x_test = np.repeat([[0.0], [1.0]], 2000, axis=0).astype("float32")
    mean = x_test @ np.array(kernel, "float32") + np.array(bias, "float32")
    z = (mean + scale * np.random.default_rng(1).normal(size=mean.shape)).astype("float32")
    t = ops.convert_to_numpy(model.adversary([x_test, z]))
    optimal = gaussian_log_density(z, mean, scale) - gaussian_log_density(z, 0.0, 1.0)
    kl = np.sum(0.5 * (scale**2 + mean**2 - 1) - np.log(scale), axis=-1)
    # T approaches T* = log q - log p pointwise, and its mean under q is KL(q || p).
    assert np.mean(np.abs(t - optimal)) < 0.1
    assert abs(np.mean(t) - np.mean(kl)) < 0.05


def known_gaussian_avb(adaptive_contrast):
    """An AVB whose q(z|x) = N(x W + b, diag(scale^2)) is known; with (W, b, scale)."""
    kernel, bias, scale = [[1.0, -0.5]], [-0.5, 0.5], np.array([0.5, 1.5])
    model = keras_avb.AVB(
        fixed_gaussian_encoder(kernel, bias, scale),
        tiny_decoder(data_dim=1),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        adaptive_contrast=adaptive_contrast,
        moment_samples=4000,
        seed=0,
    )
    return model, (kernel, bias, scale)


def test_kl_estimate_with_adaptive_contrast_is_exact_for_a_gaussian_q():
    # With a Gaussian q, z_norm ~ N(0, I), so T* = 0 and the KL estimate
    # log r(z|x) - log p(z) has the mean KL(q || p).
    model, (_, _, scale) = known_gaussian_avb(adaptive_contrast=True)
    x = np.ones((256, 1), "float32")
    z, mean, variance = model.posterior(x)
    z_norm, log_r = model.contrast([z, mean, variance])
    kl = ops.convert_to_numpy(log_r - model.prior.log_prob(z))
    expected = np.sum(0.5 * (scale**2 + 0.25 - 1) - np.log(scale))
    np.testing.assert_allclose(ops.convert_to_numpy(mean)[0], [0.5, 0.0], atol=0.05)
    np.testing.assert_allclose(ops.convert_to_numpy(variance)[0], scale**2, rtol=0.08)
    assert abs(kl.mean() - expected) < 0.1


@pytest.mark.parametrize("adversary_steps", [None, 3])
@pytest.mark.parametrize("frozen", ["generator", "adversary"])
def test_each_update_changes_only_its_player(adversary_steps, frozen):
    model = small_avb(adversary_steps=adversary_steps)
    learning_rates = {"generator": 1e-2, "adversary": 1e-2, frozen: 0.0}
    model.compile(
        optimizer=keras.optimizers.SGD(learning_rates["generator"]),
        adversary_optimizer=keras.optimizers.SGD(learning_rates["adversary"]),
    )
    players = model.players()
    before = {
        name: [ops.convert_to_numpy(v) for v in players[name][0]] for name in players
    }
    model.fit(four_point_data(64), batch_size=32, epochs=1, verbose=0)
    for name, (variables, _) in model.players().items():
        changed = [
            not np.array_equal(old, ops.convert_to_numpy(v))
            for old, v in zip(before[name], variables)
        ]
        if name == frozen:
            assert not any(changed), f"{name} changed with a zero learning rate"
        else:
            assert all(changed), f"not every {name} variable was updated"
    k = adversary_steps or 1
    assert int(model.optimizer.iterations) == 2
    assert int(model.generator_optimizer.iterations) == 2
    assert int(model.adversary_optimizer.iterations) == 2 * k
    assert len(model.players()["adversary"][0]) == len(model.adversary.trainable_variables)


def test_kl_annealing_weight_follows_the_step_counter():
    model = small_avb(kl_annealing_steps=10)
    model.compile()
    model.optimizer.build(model.trainable_variables)
    x = four_point_data(32)
    for step, beta in ((0, 0.0), (5, 0.5), (30, 1.0)):
        model.optimizer.iterations.assign(step)
        _, values = model.compute_losses(x, ("generator", "adversary"), training=True)
        reconstruction = 4 * float(values["reconstruction_error"])
        np.testing.assert_allclose(
            float(values["loss"]), reconstruction + beta * float(values["kl"]), rtol=1e-4, atol=1e-5
        )
    # Evaluation reports the unannealed objective.
    _, values = model.compute_losses(x, ("generator", "adversary"), training=False)
    np.testing.assert_allclose(float(values["loss"]), -float(values["adversarial_elbo"]), rtol=1e-5)


def test_basis_noise_encoder_with_adaptive_contrast_trains():
    model = keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.InnerProductAdversary(hidden_units=(16,), embedding_dim=8),
        adaptive_contrast=True,
        seed=0,
    )
    assert model.encoder_returns_moments
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), adversary_optimizer=keras.optimizers.Adam(3e-3)
    )
    history = model.fit(four_point_data(256), batch_size=64, epochs=6, verbose=0).history
    assert history["loss"][-1] < history["loss"][0]
    assert np.all(np.isfinite(history["kl"]))


@pytest.mark.parametrize("adaptive_contrast", [False, True])
def test_posterior_moments_estimate_a_known_gaussian_q(adaptive_contrast):
    # q(z|x) = N(x W + b, diag(scale^2)) in closed form: the black-box
    # estimate from `moment_samples` draws, plus `contrast_epsilon`, recovers it.
    model, (kernel, bias, scale) = known_gaussian_avb(adaptive_contrast)
    x = np.array([[1.0], [-2.0]], "float32")
    mean, variance = (ops.convert_to_numpy(v) for v in model.posterior_moments(x))
    np.testing.assert_allclose(mean, x @ np.array(kernel) + np.array(bias), atol=0.08)
    np.testing.assert_allclose(
        variance, np.tile(scale**2 + model.contrast_epsilon, (2, 1)), rtol=0.1
    )
