import math

import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.distributions import StandardNormal
from keras_avb.distributions import TFPPrior


def test_standard_normal_log_prob_and_samples():
    prior = StandardNormal(3)
    z = np.array([[0.5, -1.0, 2.0]], "float32")
    expected = -0.5 * np.sum(z**2) - 1.5 * math.log(2 * math.pi)
    np.testing.assert_allclose(ops.convert_to_numpy(prior.log_prob(z)), [expected], rtol=1e-6)
    samples = ops.convert_to_numpy(prior.sample(20000, seed=keras.random.SeedGenerator(0)))
    assert samples.shape == (20000, 3)
    np.testing.assert_allclose(samples.mean(0), 0.0, atol=0.03)
    np.testing.assert_allclose(samples.std(0), 1.0, atol=0.03)
    assert StandardNormal.from_config(prior.get_config()).latent_dim == 3


def test_tfp_prior_where_tfp_runs():
    if keras.backend.backend() == "torch":
        with pytest.raises(NotImplementedError, match="no substrate"):
            TFPPrior("Laplace", latent_dim=2, loc=0.0, scale=1.0)
        return
    prior = TFPPrior("Laplace", latent_dim=2, loc=0.0, scale=1.0)
    z = np.array([[1.0, -2.0]], "float32")
    np.testing.assert_allclose(
        np.asarray(prior.log_prob(z)), [-3.0 - 2 * math.log(2.0)], rtol=1e-5
    )
    samples = np.asarray(prior.sample(4000, seed=keras.random.SeedGenerator(0)))
    assert samples.shape == (4000, 2)
    np.testing.assert_allclose(np.abs(samples).mean(), 1.0, atol=0.06)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(prior))
    assert clone.get_config() == prior.get_config()
