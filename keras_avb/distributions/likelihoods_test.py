import math

import numpy as np
import pytest
from keras import ops

from keras_avb.distributions import Bernoulli
from keras_avb.distributions import Gaussian


def test_bernoulli_log_prob_matches_closed_form():
    logits = np.array([[0.3, -2.0, 1.5]], "float32")
    x = np.array([[1.0, 0.0, 1.0]], "float32")
    p = 1 / (1 + np.exp(-logits))
    expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    np.testing.assert_allclose(
        ops.convert_to_numpy(Bernoulli().log_prob(x, logits)), [expected], rtol=1e-5
    )


def test_bernoulli_rejects_non_binary_data():
    with pytest.raises(ValueError, match="binary"):
        Bernoulli().validate(np.array([[0.0, 0.5]]))
    Bernoulli().validate(np.array([[0, 1]], "uint8"))


def test_gaussian_log_prob_matches_closed_form_with_fixed_and_learned_scale():
    x = np.array([[1.0, -0.5]], "float32")
    mean = np.array([[0.5, 0.0]], "float32")
    log_scale = np.array([[0.2, -0.3]], "float32")
    scale = np.exp(log_scale)
    expected = np.sum(
        -0.5 * ((x - mean) / scale) ** 2 - np.log(scale) - 0.5 * math.log(2 * math.pi)
    )
    learned = Gaussian(scale=None)
    assert learned.params_per_entry == 2
    np.testing.assert_allclose(
        ops.convert_to_numpy(learned.log_prob(x, np.concatenate([mean, log_scale], -1))),
        [expected],
        rtol=1e-5,
    )
    fixed = Gaussian(scale=2.0)
    expected_fixed = np.sum(
        -0.5 * ((x - mean) / 2.0) ** 2 - math.log(2.0) - 0.5 * math.log(2 * math.pi)
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(fixed.log_prob(x, mean)), [expected_fixed], rtol=1e-5
    )
