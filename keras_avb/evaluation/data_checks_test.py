import keras
import numpy as np
import pytest

from keras_avb.distributions import Bernoulli
from keras_avb.distributions import Gaussian
from keras_avb.evaluation import data_checks
from keras_avb.testing import tiny_decoder


def test_data_shape_comes_from_the_decoder_and_likelihood():
    decoder = tiny_decoder(latent_dim=2, data_dim=4)
    assert data_checks.decoder_data_shape(decoder, Bernoulli(), 2) == (4,)
    # A Gaussian with a learned scale takes two values per entry.
    two_per_entry = Gaussian(scale=None)
    assert data_checks.decoder_data_shape(decoder, two_per_entry, 2) == (2,)
    # A plain function that cannot be called symbolically: nothing to say.
    assert data_checks.decoder_data_shape(lambda z: np.asarray(z) + 0, Bernoulli(), 2) is None


def test_evaluation_data_must_fit_the_decoder():
    decoder = tiny_decoder(latent_dim=2, data_dim=4)
    x = data_checks.check_evaluation_data(decoder, Bernoulli(), 2, np.ones((3, 4), "uint8"))
    assert x.shape == (3, 4)
    with pytest.raises(ValueError, match=r"examples of shape \(5,\), but the decoder models"):
        data_checks.check_evaluation_data(decoder, Bernoulli(), 2, np.ones((3, 5)))
    with pytest.raises(ValueError, match="does not accept latent codes of size 3"):
        data_checks.check_evaluation_data(decoder, Bernoulli(), 3, np.ones((3, 4)))
    odd = keras.Sequential([keras.Input((2,)), keras.layers.Dense(5)])
    with pytest.raises(ValueError, match="needs 2 values per data entry"):
        data_checks.check_evaluation_data(odd, Gaussian(scale=None), 2, np.ones((3, 2)))
