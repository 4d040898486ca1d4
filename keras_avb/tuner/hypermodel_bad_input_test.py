"""`AVBHyperModel` rejects a bad search space before any trial starts."""

import pytest

import keras_avb.tuner


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"data_shape": (0,)}, "`data_shape entries` must be an integer >= 1"),
        ({"data_shape": "784"}, "`data_shape` must be a tuple or list"),
        ({"latent_dims": ()}, "`latent_dims` needs at least one value"),
        ({"latent_dims": (2, 0)}, "`latent_dims entries` must be an integer >= 1"),
        ({"latent_dims": (2.5,)}, "`latent_dims entries`.*of type float"),
        ({"num_bases": (-1,)}, "`num_bases entries`"),
        ({"adversary_steps": (-1,)}, "`adversary_steps` must be None .* or an integer >= 1"),
        ({"adversary_steps": (None, 0)}, "`adversary_steps` must be None .* Received: 0"),
        ({"adversary_steps": 2}, "`adversary_steps` must be a tuple or list"),
        ({"adaptive_contrast": ()}, "`adaptive_contrast` needs at least one value"),
        ({"learning_rate_range": (1e-3,)}, "`learning_rate_range` must be a pair"),
        ({"learning_rate_range": (1e-2, 1e-3)}, "`learning_rate_range` must be \\(min, max\\)"),
        ({"adversary_learning_rate_range": (0.0, 1e-3)}, "`adversary_learning_rate_range`"),
        ({"learning_rate_range": (float("nan"), 1e-3)}, "`learning_rate_range` must be a finite"),
        ({"hidden_units": 0}, "`hidden_units` must be an integer >= 1"),
        ({"noise_dim": 2.5}, "`noise_dim`"),
        ({"noise_units": (0,)}, "`noise_units entries`"),
        ({"adversary_units": "8"}, "`adversary_units`"),
        ({"likelihood": "poisson"}, "`likelihood` must be"),
        ({"kl_annealing_steps": -1}, "`kl_annealing_steps` must be an integer >= 0"),
        ({"seed": "a"}, "`seed` must be an integer >= 0 or None"),
    ],
)
def test_hypermodel_rejects_a_bad_search_space(kwargs, message):
    options = {"data_shape": (4,), **kwargs}
    with pytest.raises(ValueError, match=message):
        keras_avb.tuner.AVBHyperModel(**options)
