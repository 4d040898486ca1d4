"""PyTorch's trainer: the fused Adam update is Keras' Adam (collected under torch only)."""

import keras
import numpy as np
import pytest
import torch

from keras_avb.trainers.torch_trainer import fuse_adam


def _run(optimizer, steps=12, seed=0):
    rng = np.random.default_rng(seed)
    variables = [
        keras.Variable(rng.normal(size=shape).astype("float32")) for shape in [(5, 3), (3,)]
    ]
    for _ in range(steps):
        grads = [torch.tensor(rng.normal(size=v.shape).astype("float32")) for v in variables]
        optimizer.apply(grads, variables)
    return [v.numpy() for v in variables], optimizer


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(learning_rate=1e-2, beta_1=0.5),
        dict(learning_rate=keras.optimizers.schedules.CosineDecay(1e-2, 12), epsilon=1e-3),
        dict(learning_rate=1e-2, clipnorm=0.5, weight_decay=0.1),
        dict(learning_rate=1e-2, gradient_accumulation_steps=3),
    ],
    ids=["constant", "schedule-epsilon", "clip-decay", "accumulation"],
)
def test_fused_update_matches_keras_adam(kwargs):
    expected, reference = _run(keras.optimizers.Adam(**kwargs))
    fused_optimizer = keras.optimizers.Adam(**kwargs)
    assert fuse_adam(fused_optimizer)
    found, fused_optimizer = _run(fused_optimizer)
    for a, b in zip(expected, found):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    for a, b in zip(reference.variables, fused_optimizer.variables):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-7)
    assert int(fused_optimizer.iterations.numpy()) == int(reference.iterations.numpy())


def test_only_plain_adam_is_fused():
    assert not fuse_adam(keras.optimizers.Adam(amsgrad=True))
    assert not fuse_adam(keras.optimizers.SGD())
    assert not fuse_adam(keras.optimizers.AdamW())
    optimizer = keras.optimizers.Adam()
    assert fuse_adam(optimizer) and fuse_adam(optimizer)  # again: a no-op


def test_fit_fuses_the_players_adam():
    import keras_avb
    from keras_avb import testing

    model = keras_avb.AVB(
        testing.tiny_black_box_encoder(),
        testing.tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        seed=0,
    )
    model.compile()
    model.fit(testing.four_point_data(64), batch_size=32, epochs=1, verbose=0)
    optimizers = [optimizer for _, optimizer in model.players().values()]
    assert optimizers and all(o._keras_avb_fused for o in optimizers)
    assert int(model.optimizer.iterations.numpy()) == 2
