"""The helpers `adversarial_game` shares with the tuner, the examples and `vi`."""

import keras
import pytest

import keras_avb
from keras_avb.models import adversary_steps_from_int
from keras_avb.models import adversary_steps_to_int
from keras_avb.models import default_optimizer
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_decoder


@pytest.mark.parametrize("value, steps", [(0, None), (1, 1), (5, 5)])
def test_adversary_steps_from_and_to_int_are_inverse(value, steps):
    assert adversary_steps_from_int(value) == steps
    assert adversary_steps_to_int(steps) == value


@pytest.mark.parametrize("value", [-1, 1.0, True, None, "2"])
def test_adversary_steps_from_int_rejects_what_is_not_a_count(value):
    with pytest.raises(ValueError, match="`adversary_steps` must be an integer >= 0"):
        adversary_steps_from_int(value)


@pytest.mark.parametrize("steps", [0, -2, 1.5, False])
def test_adversary_steps_to_int_takes_what_avb_takes(steps):
    with pytest.raises(ValueError, match="`adversary_steps` must be None"):
        adversary_steps_to_int(steps)


def test_default_optimizer_is_the_papers_adam():
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, 10, 0.5)
    for rate, initial in ((2e-4, 2e-4), (schedule, 1e-3)):
        optimizer = default_optimizer(rate)
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert optimizer.beta_1 == 0.5
        assert float(optimizer.learning_rate) == pytest.approx(initial)


def test_compile_without_optimizers_uses_the_default_at_the_models_rates():
    model = keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=4, num_blocks=1),
    )
    model.compile()
    for optimizer, rate in zip(
        (model.generator_optimizer, model.adversary_optimizer), model.DEFAULT_LEARNING_RATES
    ):
        assert isinstance(optimizer, keras.optimizers.Adam) and optimizer.beta_1 == 0.5
        assert float(optimizer.learning_rate) == pytest.approx(rate)
