"""AVB and the VAE under mixed precision and `jit_compile=True`, on every backend.

Each test trains a tiny model for a few steps and checks that the losses
are finite, that the variables stay float32 while the layers compute in the
low-precision type, and that the weights moved. Under `mixed_float16`
Keras wraps `model.optimizer` in a `LossScaleOptimizer`; the players' steps
must then scale the losses, skip a phase with non-finite gradients and
adapt the scale (`keras_avb.trainers.loss_scaling`).
"""

import keras
import numpy as np
import pytest

from keras_avb import AVB
from keras_avb import VAE
from keras_avb import testing
from keras_avb.layers import ResidualAdversary

BACKEND = keras.backend.backend()


@pytest.fixture
def restore_policy():
    policy = keras.mixed_precision.global_policy()
    yield
    keras.mixed_precision.set_global_policy(policy)


def _tiny_vae():
    x = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x)
    encoder = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    return VAE(encoder, testing.tiny_decoder(units=8), seed=0)


def _tiny_model(kind):
    if kind == "vae":
        return _tiny_vae()
    encoder = (
        testing.tiny_basis_noise_encoder()
        if kind == "avb_basis_noise"
        else testing.tiny_black_box_encoder(units=8)
    )
    # A black-box encoder with Adaptive Contrast takes Monte Carlo moments.
    return AVB(
        encoder,
        testing.tiny_decoder(units=8),
        ResidualAdversary(units=8, num_blocks=1, name="adversary"),
        adaptive_contrast=True,
        moment_samples=4,
        seed=0,
    )


def _compile(model, **kwargs):
    optimizer = keras.optimizers.Adam(1e-2)
    if isinstance(model, VAE):
        model.compile(optimizer=optimizer, **kwargs)
    else:
        model.compile(
            optimizer=optimizer, adversary_optimizer=keras.optimizers.Adam(1e-2), **kwargs
        )


def _weights(model):
    return [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]


def _train_and_check(model, steps=3):
    x = testing.four_point_data(16 * steps)
    before = _weights(model)
    history = model.fit(x, batch_size=16, epochs=1, verbose=0, callbacks=[])
    for name in ("loss", "adversary_loss"):
        if name in history.history:
            assert np.all(np.isfinite(history.history[name])), (name, history.history)
    assert {v.dtype for v in model.trainable_variables} == {"float32"}
    after = _weights(model)
    assert all(np.all(np.isfinite(w)) for w in after)
    changed = [not np.allclose(a, b) for a, b in zip(before, after)]
    assert all(changed), [v.path for v, c in zip(model.trainable_variables, changed) if not c]


KINDS = ("avb_black_box_ac", "avb_basis_noise", "vae")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
@pytest.mark.parametrize("kind", KINDS)
def test_mixed_precision_trains(restore_policy, policy, kind):
    keras.mixed_precision.set_global_policy(policy)
    model = _tiny_model(kind)
    _compile(model)
    assert model.decoder.layers[-1].compute_dtype == policy.split("_")[1]
    assert (policy == "mixed_float16") == isinstance(
        model.optimizer, keras.optimizers.LossScaleOptimizer
    )
    # The basis-noise encoder's Adaptive Contrast divides by sqrt(v + 1e-4)
    # with a tiny initial v: at Keras' initial scale 2^15 its float16
    # gradients overflow, so the first ~5 steps are skipped while the scale
    # halves down to ~2^10.
    steps = 10 if (kind, policy) == ("avb_basis_noise", "mixed_float16") else 3
    _train_and_check(model, steps=steps)


@pytest.mark.parametrize("kind", ["avb_black_box_ac", "vae"])
def test_float16_loss_scale_grows_and_skips_non_finite_steps(restore_policy, kind):
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _tiny_model(kind)
    _compile(model)
    scaler = model.optimizer
    scaler.dynamic_growth_steps = 1  # every finite step doubles the scale
    x = testing.four_point_data(16)
    model.train_on_batch(x)
    scaler.dynamic_scale.assign(1.0)
    before = _weights(model)
    model.train_on_batch(x)
    assert float(keras.ops.convert_to_numpy(scaler.dynamic_scale)) == 2.0
    after = _weights(model)
    assert all(not np.allclose(a, b) for a, b in zip(before, after))
    # A scale of 1e30 overflows float16 in the backward pass: the step must
    # be skipped (weights untouched) and the scale halved.
    scaler.dynamic_scale.assign(1e30)
    model.train_on_batch(x)
    assert np.isclose(float(keras.ops.convert_to_numpy(scaler.dynamic_scale)), 5e29)
    for a, b in zip(after, _weights(model)):
        np.testing.assert_array_equal(a, b)


def test_float16_with_adversary_steps(restore_policy):
    # Separate phases for the two players, each with its own finite check.
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _tiny_model("avb_black_box_ac")
    model.adversary_steps = 2
    _compile(model)
    _train_and_check(model)


@pytest.mark.parametrize(
    "policy",
    [
        "float32",
        pytest.param(
            "mixed_float16",
            marks=pytest.mark.skipif(
                BACKEND == "torch",
                reason="torch.compile of the mixed-precision step takes minutes "
                "on CPU (measured ~200 s for 8 steps); float32 covers torch.compile",
            ),
        ),
    ],
)
def test_jit_compile(restore_policy, policy):
    keras.mixed_precision.set_global_policy(policy)
    model = _tiny_model("avb_black_box_ac")
    _compile(model, jit_compile=True)
    # TensorFlow: XLA; JAX: jax.jit (always); PyTorch: torch.compile.
    assert model.jit_compile is True
    _train_and_check(model, steps=2)
