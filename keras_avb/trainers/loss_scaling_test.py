import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.trainers.loss_scaling import next_scale


def _values(scale, counter):
    return float(ops.convert_to_numpy(scale)), int(ops.convert_to_numpy(counter))


def test_next_scale_grows_after_growth_steps_finite_phases_and_halves_on_overflow():
    scale, counter = ops.convert_to_tensor(8.0), ops.convert_to_tensor(0, "int32")
    # Keras' LossScaleOptimizer semantics with dynamic_growth_steps=3.
    expected = [
        (True, (8.0, 1)),
        (True, (8.0, 2)),
        (True, (16.0, 0)),
        (True, (16.0, 1)),
        (False, (8.0, 0)),
        (False, (4.0, 0)),
        (True, (4.0, 1)),
    ]
    for finite, after in expected:
        scale, counter = next_scale(ops.convert_to_tensor(finite), scale, counter, 3)
        assert _values(scale, counter) == after


@pytest.mark.parametrize("counter_dtype", ["int32", "int64"])
def test_next_scale_keeps_the_dtypes_of_the_state(counter_dtype):
    scale = ops.convert_to_tensor(2.0, "float32")
    counter = ops.convert_to_tensor(0, counter_dtype)
    for finite in (True, False):
        new_scale, new_counter = next_scale(finite, scale, counter, 1)
        assert keras.backend.standardize_dtype(new_scale.dtype) == "float32"
        # (JAX without x64 holds an int64 request as int32.)
        assert new_counter.dtype == counter.dtype


def test_next_scale_matches_keras_on_the_scaler_variables():
    """The same state a `LossScaleOptimizer`'s variables would hold."""
    optimizer = keras.optimizers.LossScaleOptimizer(
        keras.optimizers.SGD(0.0), initial_scale=4.0, dynamic_growth_steps=2
    )
    variable = keras.Variable(np.zeros((1,), "float32"))
    optimizer.build([variable])
    scale, counter = next_scale(
        True, optimizer.dynamic_scale, optimizer.step_counter, optimizer.dynamic_growth_steps
    )
    assert _values(scale, counter) == (4.0, 1)
    optimizer.step_counter.assign(counter)
    scale, counter = next_scale(
        True, optimizer.dynamic_scale, optimizer.step_counter, optimizer.dynamic_growth_steps
    )
    assert _values(scale, counter) == (8.0, 0)
    assert keras.backend.standardize_dtype(counter.dtype) == keras.backend.standardize_dtype(
        optimizer.step_counter.dtype
    )
