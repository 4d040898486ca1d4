"""The helpers `adversarial_game` shares with the tuner, the examples and `vi`."""

import pytest

from keras_avb.models import adversary_steps_from_int
from keras_avb.models import adversary_steps_to_int


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
