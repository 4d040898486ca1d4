import keras

import keras_avb
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder
from keras_avb.trainers import PlayersModel
from keras_avb.vi import PosteriorSampler


def log_prob(z):
    return -0.5 * keras.ops.sum(keras.ops.square(z), axis=-1)


def test_the_package_models_satisfy_the_contract():
    encoder_net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    x = keras.Input((4,))
    h = encoder_net(x)
    gaussian_encoder = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    models = [
        keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)),
        keras_avb.VAE(gaussian_encoder, tiny_decoder()),
        PosteriorSampler(log_prob, 2, hidden_units=(8,)),
    ]
    for model in models:
        assert isinstance(model, PlayersModel), type(model).__name__
        model.compile()  # players() names each player's optimizer
        schedule = model.update_schedule
        assert set(name for phase in schedule for name in phase) <= set(model.players())


def test_a_plain_model_does_not():
    assert not isinstance(keras.Sequential([keras.layers.Dense(1)]), PlayersModel)
