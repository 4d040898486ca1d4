"""Resuming AVB training with Keras' BackupAndRestore and ModelCheckpoint.

An interrupted run resumed from its backup must end with the weights of the
run that was never interrupted: the backup has to hold the weights, both
players' optimizer states (KL annealing reads the step counter) and the
model's noise stream. The data are not shuffled, so that only the model's
state (and not the data pipeline's random order) decides the outcome.
"""

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder

EPOCHS = 4
INTERRUPT_AT = 2  # raised at the start of the third epoch (index 2)


def black_box_avb():
    return keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=16, num_blocks=1, name="adversary"),
        kl_annealing_steps=10,
        seed=5,
    )


def basis_noise_avb():
    return keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=16, num_blocks=1, add_squared_norm=True),
        adaptive_contrast=True,
        adversary_steps=2,
        kl_annealing_steps=10,
        seed=3,
    )


BUILDERS = {"black_box": black_box_avb, "basis_noise_ac": basis_noise_avb}


def new_model(kind):
    keras.utils.set_random_seed(0)
    model = BUILDERS[kind]()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3, beta_1=0.5),
        adversary_optimizer=keras.optimizers.Adam(5e-3, beta_1=0.5),
    )
    return model


class Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == INTERRUPT_AT:
            raise RuntimeError("interrupted")


def fit(model, callbacks=(), epochs=EPOCHS, **kwargs):
    return model.fit(
        four_point_data(96),
        batch_size=32,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=list(callbacks),
        **kwargs,
    )


def state(model):
    return {
        "weights": [ops.convert_to_numpy(v) for v in model.weights],
        "optimizer": [ops.convert_to_numpy(v) for v in model.optimizer.variables],
        "seed": ops.convert_to_numpy(model.seed_generator.state),
    }


def assert_same_state(a, b):
    assert len(a["weights"]) == len(b["weights"])
    for x, y in zip(a["weights"], b["weights"]):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    assert len(a["optimizer"]) == len(b["optimizer"])
    for x, y in zip(a["optimizer"], b["optimizer"]):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(a["seed"], b["seed"])


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_backup_and_restore_resumes_to_the_uninterrupted_weights(tmp_path, kind):
    reference = new_model(kind)
    fit(reference)
    expected = state(reference)
    steps = EPOCHS * 3
    assert int(reference.generator_optimizer.iterations) == steps

    backup = str(tmp_path / "backup")
    interrupted = new_model(kind)
    with pytest.raises(RuntimeError, match="interrupted"):
        fit(interrupted, [keras.callbacks.BackupAndRestore(backup), Interrupt()])
    assert int(interrupted.generator_optimizer.iterations) == INTERRUPT_AT * 3

    resumed = new_model(kind)  # a fresh process would start from here
    history = fit(resumed, [keras.callbacks.BackupAndRestore(backup)])
    assert len(history.epoch) == EPOCHS - INTERRUPT_AT  # only the missing epochs
    assert int(resumed.generator_optimizer.iterations) == steps
    assert_same_state(state(resumed), expected)


@pytest.mark.parametrize("kind", sorted(BUILDERS))
def test_model_checkpoint_resumes_to_the_uninterrupted_weights(tmp_path, kind):
    reference = new_model(kind)
    fit(reference)

    pattern = str(tmp_path / "avb_{epoch}.keras")
    first = new_model(kind)
    fit(first, [keras.callbacks.ModelCheckpoint(pattern)], epochs=INTERRUPT_AT)
    assert sorted(p.name for p in tmp_path.glob("*.keras")) == ["avb_1.keras", "avb_2.keras"]

    loaded = keras.saving.load_model(pattern.format(epoch=INTERRUPT_AT))
    assert isinstance(loaded, keras_avb.AVB)
    fit(loaded, initial_epoch=INTERRUPT_AT)
    assert_same_state(state(loaded), state(reference))


def test_model_checkpoint_keeps_the_best_validation_bound(tmp_path):
    path = str(tmp_path / "best.weights.h5")
    model = new_model("black_box")
    x_val = four_point_data(64, seed=1)
    checkpoint = keras.callbacks.ModelCheckpoint(
        path, monitor="val_iw_bound", mode="max", save_best_only=True, save_weights_only=True
    )
    history = fit(model, [checkpoint], validation_data=(x_val,))
    best_epoch = int(np.argmax(history.history["val_iw_bound"]))
    assert checkpoint.best == pytest.approx(max(history.history["val_iw_bound"]))

    restored = new_model("black_box")
    restored.load_weights(path)
    trained = state(model)["weights"]
    loaded = state(restored)["weights"]
    if best_epoch == EPOCHS - 1:
        for a, b in zip(trained, loaded):
            np.testing.assert_array_equal(a, b)
    else:
        assert any(not np.array_equal(a, b) for a, b in zip(trained, loaded))
