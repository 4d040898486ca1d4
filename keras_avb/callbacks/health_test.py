import os
import warnings

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.callbacks import NonFiniteLossError
from keras_avb.callbacks import TrainingHealthWarning
from keras_avb.callbacks import TrainingMonitor
from keras_avb.callbacks.health import _Window
from keras_avb.testing import fixed_gaussian_encoder
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


class NaNFromStep(keras.optimizers.schedules.LearningRateSchedule):
    """A learning rate that becomes NaN once `iterations >= step`."""

    def __init__(self, step, rate=1e-2):
        self.step = step
        self.rate = rate

    def __call__(self, iterations):
        return keras.ops.where(
            keras.ops.greater_equal(iterations, self.step), float("nan"), self.rate
        )

    def get_config(self):
        return {"step": self.step, "rate": self.rate}


def tiny_avb(**kwargs):
    return keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        **kwargs,
    )


def all_finite(model):
    return all(np.isfinite(keras.ops.convert_to_numpy(v)).all() for v in model.weights)


# ----------------------------------------------------------------------
# NaN/inf losses stop training
# ----------------------------------------------------------------------
def test_default_monitor_names_players_and_step_of_a_nan_loss():
    model = tiny_avb()
    # The update of step 4 (iterations == 3) writes NaN into the encoder and
    # decoder, so step 5's losses are the first non-finite ones: the
    # generator's directly and the adversary's through its NaN codes.
    model.compile(optimizer=keras.optimizers.Adam(NaNFromStep(3)))
    with pytest.raises(NonFiniteLossError, match="step 5.*generator loss") as info:
        model.fit(four_point_data(64), batch_size=4, epochs=2, verbose=0)
    assert info.value.step == 5
    assert info.value.players == ["generator", "adversary"]
    assert "No checkpoint was written" in str(info.value)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 5


def test_checkpoint_keeps_the_last_finite_state(tmp_path):
    path = os.path.join(tmp_path, "last_good.keras")
    model = tiny_avb()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        adversary_optimizer=keras.optimizers.Adam(NaNFromStep(3)),
    )
    monitor = TrainingMonitor(checkpoint_path=path, checkpoint_every=1)
    with pytest.raises(NonFiniteLossError, match="adversary's weights") as info:
        model.fit(four_point_data(64), batch_size=4, callbacks=[monitor], verbose=0)
    # Step 4's update made the adversary NaN: its weights are caught before
    # they are saved, one step before any loss shows it.
    assert info.value.step == 4
    assert info.value.players == ["adversary"]
    assert info.value.checkpoint_step == monitor.last_good_step == 3
    assert path in str(info.value)
    restored = keras.saving.load_model(path, custom_objects={"NaNFromStep": NaNFromStep})
    assert all_finite(restored)
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 3


def test_stop_mode_warns_and_stops():
    model = tiny_avb()
    model.compile(optimizer=keras.optimizers.Adam(NaNFromStep(2)))
    monitor = TrainingMonitor(on_nonfinite="stop")
    with pytest.warns(TrainingHealthWarning, match="diverged at step 4"):
        model.fit(four_point_data(64), batch_size=4, epochs=3, callbacks=[monitor], verbose=0)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 4
    assert [kind for _, kind, _ in monitor.events] == ["nonfinite"]


def test_disabled_monitor_lets_training_run():
    model = tiny_avb()
    model.compile(optimizer=keras.optimizers.Adam(NaNFromStep(2)))
    model.fit(
        four_point_data(32),
        batch_size=4,
        callbacks=[TrainingMonitor(enabled=False)],
        verbose=0,
    )
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8
    assert not all_finite(model)


def test_vae_nan_names_its_single_player():
    x = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x)
    encoder = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    model = keras_avb.VAE(encoder, tiny_decoder())
    model.compile(optimizer=keras.optimizers.Adam(NaNFromStep(1)))
    with pytest.raises(NonFiniteLossError, match="step 3") as info:
        model.fit(four_point_data(32), batch_size=4, verbose=0)
    assert info.value.players == ["model"]


# ----------------------------------------------------------------------
# An unhealthy adversary is reported
# ----------------------------------------------------------------------
def test_saturated_adversary_warns_once():
    # q(z|x) = N((8, 8), 0.1^2 I) is far from the prior: a trained adversary
    # separates the two perfectly.
    encoder = fixed_gaussian_encoder(np.zeros((4, 2)), [8.0, 8.0], [0.1, 0.1])
    model = keras_avb.AVB(
        encoder,
        tiny_decoder(latent_dim=2),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
    )
    model.compile(adversary_optimizer=keras.optimizers.Adam(1e-2))
    monitor = TrainingMonitor(patience=10)
    with pytest.warns(TrainingHealthWarning, match="saturated"):
        model.fit(four_point_data(64), batch_size=8, epochs=8, callbacks=[monitor], verbose=0)
    # Reported once, when the condition starts (the random initial adversary
    # may also give a negative KL estimate in the first steps).
    reports = [message for _, kind, message in monitor.events if kind == "adversary"]
    assert len(reports) == 1 and "saturated" in reports[0]


def fake_model(**class_attributes):
    model = type("Fake", (), dict(class_attributes))()
    model.stop_training = False
    model.optimizer = type("Optimizer", (), {"iterations": np.int64(0)})()
    return model


def run_logs(monitor, model, logs_per_step, steps_per_epoch=1000):
    monitor.set_model(model)
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    sums = {}
    for batch, logs in enumerate(logs_per_step):
        for key, value in logs.items():
            sums[key] = sums.get(key, 0.0) + value
        # Keras logs running means over the epoch.
        monitor.on_train_batch_end(batch, {k: v / (batch + 1) for k, v in sums.items()})


AVB_LIKE = dict(
    LOSS_METRICS={"generator": "loss", "adversary": "adversary_loss"},
    ACCURACY_METRICS=("adversary_accuracy_posterior", "adversary_accuracy_prior"),
    KL_METRIC="kl",
)


def healthy(**changes):
    logs = dict(
        loss=1.0,
        adversary_loss=1.3,
        adversary_accuracy_posterior=0.6,
        adversary_accuracy_prior=0.55,
        kl=0.5,
    )
    logs.update(changes)
    return logs


def test_collapsed_adversary_and_negative_kl_are_reported_after_patience():
    monitor = TrainingMonitor(patience=20)
    steps = [healthy()] * 30 + [
        healthy(adversary_accuracy_posterior=0.0, adversary_accuracy_prior=1.0, kl=-0.2)
    ] * 40
    with pytest.warns(TrainingHealthWarning) as record:
        run_logs(monitor, fake_model(**AVB_LIKE), steps)
    kinds = [(step, kind) for step, kind, _ in monitor.events]
    # The windowed means cross the thresholds only once the last 20 steps
    # are all bad (the KL mean turns negative earlier: 0.5 * a + -0.2 * b).
    assert kinds == [(45, "negative_kl"), (50, "adversary")]
    assert "collapsed" in monitor.events[1][2]
    assert len(record) == 2


def test_healthy_logs_and_recovered_conditions():
    monitor = TrainingMonitor(patience=5)
    bad = healthy(adversary_accuracy_posterior=1.0, adversary_accuracy_prior=1.0)
    steps = [healthy()] * 10 + [bad] * 10 + [healthy()] * 10 + [bad] * 10
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        run_logs(monitor, fake_model(**AVB_LIKE), steps)
    # Reported when it starts, again only after it cleared in between.
    assert [kind for _, kind, _ in monitor.events] == ["adversary", "adversary"]
    assert len(record) == 2


def test_nonfinite_adversary_loss_names_only_the_adversary():
    monitor = TrainingMonitor()
    steps = [healthy()] * 3 + [healthy(adversary_loss=float("inf"))]
    with pytest.raises(NonFiniteLossError, match="step 4: the adversary loss") as info:
        run_logs(monitor, fake_model(**AVB_LIKE), steps)
    assert info.value.players == ["adversary"]


def test_window_recovers_per_step_means_from_running_means():
    window = _Window(size=4)
    values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    # Blocks of 2, 1 and 3 steps, as with steps_per_execution > 1.
    for seen in (2, 3, 6):
        window.add(seen, float(np.mean(values[:seen])))
    assert window.mean() == pytest.approx(np.mean(values[2:6]))
    window.reset_epoch()
    window.add(1, 10.0)
    assert window.mean() == pytest.approx(np.mean([4.0, 5.0, 6.0, 10.0]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(patience=0), "patience"),
        (dict(tolerance=0.5), "tolerance"),
        (dict(checkpoint_every=0), "checkpoint_every"),
        (dict(checkpoint_path="model.h5"), "checkpoint_path"),
        (dict(on_nonfinite="ignore"), "on_nonfinite"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingMonitor(**kwargs)
