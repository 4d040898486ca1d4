"""Tests of `PosteriorSampler`: its checks, its losses in closed form, a few steps.

Fitting to a correlated Gaussian, the adversary-steps schedule and the
Adaptive Contrast whitening are tested through `fit_posterior` in
`api_test.py`; the wrong-shaped sampler and the bad `batch_size` in
`api_bad_input_test.py`.
"""

import keras
import numpy as np
import pytest
from keras import ops
from scipy import stats

from keras_avb.layers import ResidualAdversary
from keras_avb.vi.sampler import SAMPLER
from keras_avb.vi.sampler import PosteriorSampler
from keras_avb.vi.sampler import default_sampler

MODE = np.array([1.0, -0.5], "float32")


def target(z):
    """log N(z; MODE, I) up to a constant."""
    return -0.5 * ops.sum(ops.square(z - ops.convert_to_tensor(MODE)), axis=-1)


def log_target(z):
    return -0.5 * np.sum((z - MODE) ** 2, axis=-1)


class SumAdversary(keras.layers.Layer):
    """T(x, z) = sum(z): no weights, a known function of what it is given."""

    def call(self, inputs):
        return ops.sum(inputs[1], axis=-1)


class HalfSquaredNorm(keras.layers.Layer):
    def call(self, inputs):
        return 0.5 * ops.sum(ops.square(inputs[1]), axis=-1)


class TwoLogits(keras.layers.Layer):
    def call(self, inputs):
        return inputs[1]


def tiny_adversary():
    return ResidualAdversary(8, 1, name="adversary")


def linear_sampler(kernel, bias):
    noise_dim = np.shape(kernel)[0]
    dense = keras.layers.Dense(
        2,
        kernel_initializer=keras.initializers.Constant(np.asarray(kernel, "float32")),
        bias_initializer=keras.initializers.Constant(np.asarray(bias, "float32")),
    )
    return keras.Sequential([keras.Input((noise_dim,)), dense], name="sampler")


def test_default_sampler_is_an_elu_mlp_with_a_linear_output():
    net = default_sampler(noise_dim=2, event_size=3, hidden_units=(4, 4))
    dense = [layer for layer in net.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [4, 4, 3]
    assert [layer.activation.__name__ for layer in dense] == ["elu", "elu", "linear"]
    assert tuple(net.inputs[0].shape) == (None, 2)


@pytest.mark.parametrize("adaptive_contrast", [True, False])
def test_defaults(adaptive_contrast):
    model = PosteriorSampler(target, 2, hidden_units=(4,), adaptive_contrast=adaptive_contrast)
    assert model.noise_dim == 2 and model.built
    assert tuple(model.sampler.inputs[0].shape) == (None, 2)
    # The log-prior trick only without Adaptive Contrast.
    assert isinstance(model.adversary, ResidualAdversary)
    assert model.adversary.add_squared_norm is not adaptive_contrast
    assert model.covariance == "full" and model.adversary_steps == 2


@pytest.mark.parametrize(
    "make_kwargs, message",
    # Functions of no argument: the networks are built in the test, not at
    # collection.
    [
        (lambda: dict(sampler="mlp"), "`sampler` must be a Keras layer or model. Received: 'mlp'"),
        (lambda: dict(adversary=3), "`adversary` must be a Keras layer or model. Received: 3"),
        (
            lambda: dict(sampler=keras.Sequential([keras.Input((5,)), keras.layers.Dense(2)])),
            r"The sampler does not accept noise of shape \(batch, 2\)",
        ),
        (
            lambda: dict(adversary=keras.layers.Dense(1)),
            r"The adversary does not accept \[x, z\] with an empty x",
        ),
        (lambda: dict(adversary=TwoLogits()), r"must return one logit per .* shape \(None, 2\)"),
        (lambda: dict(noise_dim=0), "`noise_dim` must be >= 1. Received: 0"),
        (lambda: dict(reference_scale=0.0), "`reference_scale` must be > 0. Received: 0.0"),
        (lambda: dict(covariance="dense"), "`covariance` must be one of"),
        (lambda: dict(adversary_steps=0), "`adversary_steps` must be None"),
    ],
    ids=[
        "sampler-type", "adversary-type", "sampler-input", "adversary-input",
        "adversary-output", "noise_dim", "reference_scale", "covariance", "adversary_steps",
    ],
)
def test_build_checks_name_the_problem(make_kwargs, message):
    arguments = dict(hidden_units=(4,), adversary=tiny_adversary())
    with pytest.raises(ValueError, match=message):
        PosteriorSampler(target, 2, **{**arguments, **make_kwargs()})


def test_loss_without_adaptive_contrast_in_closed_form():
    # A sampler that always returns c: the loss is T(c / s) + log N(c; 0,
    # s^2 I) - log p~(c), with the adversary seeing c / s.
    c, s = np.array([0.4, 2.0], "float32"), 2.5
    model = PosteriorSampler(
        target, 2, sampler=linear_sampler(np.zeros((3, 2)), c), noise_dim=3,
        adversary=SumAdversary(), adaptive_contrast=False, reference_scale=s, batch_size=4, seed=0,
    )
    losses, values = model.compute_losses(None, (SAMPLER,), training=False)
    expected = np.sum(c / s) + stats.norm.logpdf(c, 0.0, s).sum() - log_target(c)
    assert float(ops.convert_to_numpy(losses[SAMPLER])) == pytest.approx(expected, rel=1e-5)
    assert float(ops.convert_to_numpy(values["loss"])) == pytest.approx(expected, rel=1e-5)
    assert "adversary_loss" not in values  # the adversary's phase only


@pytest.mark.parametrize("covariance", ["full", "diagonal"])
def test_loss_with_adaptive_contrast_in_closed_form(covariance):
    # r is the Gaussian of the batch's moments and the adversary sees the
    # whitened (or standardised) samples; the target records the batch.
    seen = []

    def recording_target(z):
        seen.append(ops.convert_to_numpy(z))
        return target(z)

    kernel = np.array([[1.0, 0.5], [0.0, 0.7], [0.3, -0.2]])
    model = PosteriorSampler(
        recording_target, 2, sampler=linear_sampler(kernel, MODE), noise_dim=3,
        adversary=HalfSquaredNorm(), covariance=covariance, contrast_epsilon=0.0,
        batch_size=64, seed=0,
    )
    losses, _ = model.compute_losses(None, (SAMPLER,), training=False)
    z = seen[-1].astype("float64")
    assert z.shape == (64, 2)
    mean = z.mean(axis=0)
    moments = np.cov(z, rowvar=False, bias=True)
    if covariance == "diagonal":
        moments = np.diag(np.diag(moments))
    t = 0.5 * np.einsum("ni,ij,nj->n", z - mean, np.linalg.inv(moments), z - mean)
    log_r = stats.multivariate_normal(mean, moments).logpdf(z)
    expected = np.mean(t + log_r - log_target(z))
    assert float(ops.convert_to_numpy(losses[SAMPLER])) == pytest.approx(expected, rel=1e-4)


def test_a_few_simultaneous_training_steps_update_both_players():
    model = PosteriorSampler(
        target, 2, hidden_units=(4,), adversary_steps=None, batch_size=8, seed=0,
        adaptive_contrast=False,
        adversary=ResidualAdversary(8, 1, add_squared_norm=True, name="adversary"),
    )
    model.compile()
    before = [v.numpy().copy() for v in model.trainable_variables]
    history = model.fit(np.zeros((3, 1)), batch_size=1, epochs=1, verbose=0)
    assert set(PosteriorSampler.METRIC_NAMES) <= set(history.history)
    assert all(np.isfinite(history.history[name][-1]) for name in PosteriorSampler.METRIC_NAMES)
    # Simultaneous updates: one update of each player per step.
    iterations = [
        int(ops.convert_to_numpy(o.iterations))
        for o in (model.player_optimizer, model.adversary_optimizer, model.optimizer)
    ]
    assert iterations == [3, 3, 3]
    changed = {
        id(v) for v, old in zip(model.trainable_variables, before)
        if not np.array_equal(v.numpy(), old)
    }
    for network in (model.sampler, model.adversary):
        assert {id(v) for v in network.trainable_variables} <= changed
    samples = model.sample(5, seed=3)
    assert samples.shape == (5, 2) and np.all(np.isfinite(samples))
    np.testing.assert_array_equal(samples, model.sample(5, seed=3))
