"""Bad input gets a clear error that names the problem, before any training."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def compiled_avb(**kwargs):
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        **kwargs,
    )
    model.compile()
    return model


def assert_not_trained(model):
    assert not model.optimizer.built or int(model.optimizer.iterations) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (np.where(np.eye(4)[[0, 1, 2, 3] * 4] > 0, np.nan, 0.0), "NaN or infinite"),
        (np.where(np.eye(4)[[0, 1, 2, 3] * 4] > 0, np.inf, 0.0), "NaN or infinite"),
        (np.zeros((16, 5), "float32"), r"shape \(5,\).*expects.*\(4,\)"),
        (np.full((16, 4), 0.5, "float32"), "binary"),
        (np.zeros((0, 4), "float32"), "empty"),
        (np.array([["a", "b", "c", "d"]] * 4), "must hold numbers"),
        (None, "None"),
    ],
    ids=["nan", "inf", "feature_shape", "non_binary", "empty", "strings", "none"],
)
def test_bad_training_data_is_rejected_before_training(data, message):
    model = compiled_avb()
    with pytest.raises(ValueError, match=message):
        model.fit(data, epochs=1, verbose=0)
    assert_not_trained(model)


def test_bad_validation_data_is_rejected_before_training():
    model = compiled_avb()
    with pytest.raises(ValueError, match="validation_data.*shape"):
        model.fit(
            four_point_data(16), validation_data=(np.zeros((4, 3), "float32"),), verbose=0
        )
    assert_not_trained(model)


def test_bad_first_batch_of_a_dataset_is_rejected():
    if keras.backend.backend() == "torch":
        import torch

        data = torch.utils.data.DataLoader(
            torch.full((8, 4), float("nan")), batch_size=4
        )
    else:
        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 2

            def __getitem__(self, index):
                return np.full((4, 4), np.nan, "float32")

        data = Batches()
    model = compiled_avb()
    with pytest.raises(ValueError, match="first batch.*NaN"):
        model.fit(data, epochs=1, verbose=0)
    assert_not_trained(model)


def test_prior_of_another_latent_size_is_rejected():
    with pytest.raises(ValueError, match="latent codes of size 2.*latent_dim=3"):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            prior=keras_avb.distributions.StandardNormal(3),
        )


def test_decoder_of_another_latent_size_is_rejected():
    with pytest.raises(ValueError, match="decoder does not accept latent codes"):
        keras_avb.AVB(
            tiny_black_box_encoder(latent_dim=2),
            tiny_decoder(latent_dim=3),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        )


def test_adversary_of_another_latent_size_is_rejected():
    x, z = keras.Input((4,)), keras.Input((3,))
    h = keras.layers.Concatenate()([x, z])
    adversary = keras.Model([x, z], keras.layers.Dense(1)(h))
    with pytest.raises(ValueError, match="adversary does not accept.*z of size 2"):
        keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(), adversary)


def test_decoder_output_that_does_not_fit_the_data_is_rejected():
    with pytest.raises(ValueError, match="decoder outputs shape"):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(data_dim=5),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adversary_steps": 0}, "adversary_steps"),
        ({"kl_annealing_steps": -1}, "kl_annealing_steps"),
        ({"likelihood": "poisson"}, "likelihood"),
    ],
)
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            **kwargs,
        )


def test_one_optimizer_for_both_players_is_rejected():
    model = keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different"):
        model.compile(optimizer=shared, adversary_optimizer=shared)
    with pytest.raises(ValueError, match="own losses"):
        model.compile(loss="mse")
