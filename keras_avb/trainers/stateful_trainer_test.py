"""Tests of the phase loop shared by the TensorFlow and PyTorch trainers.

`Quadratic` takes its gradients in closed form, so `StatefulPlayersTrainer`
runs on its own, eagerly, on every backend: the updates are checked against
hand-computed SGD steps. Under TensorFlow and PyTorch `keras.Model.fit`
runs this step too (under JAX it runs `jax_trainer.py`'s), which the last
tests check.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.models.adversarial_game import TrackedMetrics
from keras_avb.trainers.stateful_trainer import StatefulPlayersTrainer
from keras_avb.trainers.stateful_trainer import unpack_x

BACKEND = keras.backend.backend()
RATE = 0.5
stateful_backends_only = pytest.mark.skipif(
    BACKEND == "jax",
    reason="under JAX, `fit` runs the stateless JAXPlayersTrainer step; "
    "StatefulPlayersTrainer's is the TensorFlow and PyTorch one",
)


class Quadratic(StatefulPlayersTrainer, TrackedMetrics, keras.Model):
    """Players a and b: loss_a = (a - mean(x))^2 / 2, loss_b = (b - a)^2 / 2.

    Player b chases a, so the order of the phases shows in b's update. The
    variables are built from the first batch (one entry per feature of x).
    """

    METRIC_NAMES = ("loss_a", "loss_b")

    def __init__(self, schedule, counts_own_iterations=True, **kwargs):
        super().__init__(**kwargs)
        self.update_schedule = schedule
        self.counts_own_iterations = counts_own_iterations
        self.optimizers = {"a": keras.optimizers.SGD(RATE), "b": keras.optimizers.SGD(RATE)}
        self.trackers = [keras.metrics.Mean(name=name) for name in self.METRIC_NAMES]
        self.built_with = None

    def build(self, input_shape):
        self.built_with = tuple(input_shape)
        self.a = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="a")
        self.b = self.add_weight(shape=(input_shape[-1],), initializer="zeros", name="b")
        self.built = True

    def players(self):
        return {name: ([getattr(self, name)], self.optimizers[name]) for name in ("a", "b")}

    def compute_losses(self, x, players, training):
        target = ops.mean(ops.cast(x, "float32"), axis=0)
        losses = {
            "a": 0.5 * ops.sum(ops.square(self.a - target)),
            "b": 0.5 * ops.sum(ops.square(self.b - self.a)),
        }
        # Each phase reports the losses of its own players.
        return (
            {name: losses[name] for name in players},
            {"loss_" + name: losses[name] for name in players},
        )

    def player_gradients(self, x, phase, players):
        target = ops.mean(ops.cast(x, "float32"), axis=0)
        _, values = self.compute_losses(x, phase, training=True)
        raw = {"a": self.a - target, "b": self.b - self.a}
        # The gradient of `scale * loss` is `scale * gradient`.
        grads = self.scale_losses({name: raw[name] for name in phase})
        return values, {name: [grads[name]] for name in phase}


def _numpy(variable):
    return ops.convert_to_numpy(variable)


def _compiled(schedule, **kwargs):
    model = Quadratic(schedule, **kwargs)
    # `model.optimizer` holds no player's variables; the step counts its
    # iterations itself when `counts_own_iterations` is set.
    model.compile(optimizer=keras.optimizers.SGD())
    return model


X = np.array([[2.0, 4.0], [4.0, 8.0]], "float32")  # mean (3, 6)


@pytest.mark.parametrize(
    "schedule, expected_b",
    [
        # a moves first to RATE * 3 = 1.5, then b moves towards the new a.
        ((("a",), ("b",)), RATE * np.array([1.5, 3.0])),
        # Together: b's gradient is taken before a moved, at b = a = 0.
        ((("a", "b"),), np.zeros(2)),
        # b first (a = 0 still), then a.
        ((("b",), ("a",)), np.zeros(2)),
    ],
    ids=["a-then-b", "simultaneous", "b-then-a"],
)
def test_phases_run_in_order_and_each_player_moves_once(schedule, expected_b):
    model = _compiled(schedule)
    logs = model.train_step((X, None))
    assert model.built_with == (2, 2)  # built from the first batch
    np.testing.assert_allclose(_numpy(model.a), RATE * np.array([3.0, 6.0]))
    np.testing.assert_allclose(_numpy(model.b), expected_b)
    assert set(logs) == {"loss_a", "loss_b"}
    # Each player's optimizer counts its own update; the step counts one.
    assert [int(_numpy(o.iterations)) for o in model.optimizers.values()] == [1, 1]
    assert int(_numpy(model.optimizer.iterations)) == 1
    assert model.optimizer.built


def test_a_second_step_continues_from_the_first():
    model = _compiled((("a",), ("b",)))
    model.train_step(X)
    logs = model.train_step((X,))
    # a: 0 -> 1.5 -> 2.25 (per unit of the target 3); b follows a.
    a1, a2 = 1.5 / 3, 2.25 / 3
    b1 = RATE * a1
    b2 = b1 + RATE * (a2 - b1)
    target = np.array([3.0, 6.0])
    np.testing.assert_allclose(_numpy(model.a), a2 * target, rtol=1e-6)
    np.testing.assert_allclose(_numpy(model.b), b2 * target, rtol=1e-6)
    # The trackers average the losses of both steps, as `fit` reports them.
    loss_a = [0.5 * np.sum(((a - 1.0) * target) ** 2) for a in (0.0, a1)]
    assert float(_numpy(logs["loss_a"])) == pytest.approx(np.mean(loss_a), rel=1e-6)
    assert int(_numpy(model.optimizer.iterations)) == 2


def test_a_model_whose_optimizer_counts_leaves_the_counter_alone():
    model = _compiled((("a",), ("b",)), counts_own_iterations=False)
    model.train_step(X)
    assert int(_numpy(model.optimizer.iterations)) == 0


def test_test_step_reports_losses_without_updating():
    model = _compiled((("a",), ("b",)))
    logs = model.test_step((X, np.zeros(2), np.ones(2)))
    np.testing.assert_array_equal(_numpy(model.a), np.zeros(2))
    assert float(_numpy(logs["loss_a"])) == pytest.approx(0.5 * (9.0 + 36.0))
    assert float(_numpy(logs["loss_b"])) == 0.0
    assert [int(_numpy(o.iterations)) for o in model.optimizers.values()] == [0, 0]


def test_scale_losses_uses_the_dynamic_loss_scale():
    model = Quadratic((("a",),))
    assert model.scale_losses({"a": 2.0}) == {"a": 2.0}  # no LossScaleOptimizer
    model.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()))
    model.build((2, 2))
    model.optimizer.build(model.trainable_variables)
    scale = float(_numpy(model.optimizer.dynamic_scale))
    assert scale > 1.0
    scaled = model.scale_losses({"a": ops.convert_to_tensor(2.0)})
    assert float(_numpy(scaled["a"])) == pytest.approx(2.0 * scale)


@pytest.mark.parametrize(
    "data", [X, (X,), (X, np.zeros(2)), (X, np.zeros(2), np.ones(2))], ids=["x", "1", "2", "3"]
)
def test_unpack_x(data):
    assert unpack_x(data) is X


@stateful_backends_only
def test_loss_scaled_steps_match_unscaled_steps():
    plain = _compiled((("a",), ("b",)))
    scaled = Quadratic((("a",), ("b",)))
    scaled.compile(optimizer=keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD()))
    for _ in range(2):
        plain.train_step(X)
        scaled.train_step(X)
    for name in ("a", "b"):
        np.testing.assert_allclose(
            _numpy(getattr(scaled, name)), _numpy(getattr(plain, name)), rtol=1e-6
        )
    # Two finite phases a step, two steps: the scaler counted four.
    assert int(_numpy(scaled.optimizer.step_counter)) == 4


@stateful_backends_only
def test_fit_runs_this_step():
    model = _compiled((("a",), ("b",)))
    if BACKEND == "torch":
        # Keras' PyTorch `fit` wants a built model (the package's models
        # build in `__init__`); under TensorFlow the step builds it.
        model.build((None, 2))
    history = model.fit(X, batch_size=2, epochs=2, verbose=0)
    assert model.built_with[-1] == 2
    expected_a = np.array([3.0, 6.0]) * (1 - (1 - RATE) ** 2)
    np.testing.assert_allclose(_numpy(model.a), expected_a, rtol=1e-6)
    assert len(history.history["loss_a"]) == 2
    assert int(_numpy(model.optimizer.iterations)) == 2
