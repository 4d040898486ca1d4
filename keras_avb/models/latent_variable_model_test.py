"""`LatentVariableModel.get_config` carries Keras' own entries for both models."""

import json

import keras
import pytest

import keras_avb
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_decoder


def _vae(**kwargs):
    x_in = keras.Input((4,))
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(2)(x_in)])
    return keras_avb.VAE(encoder, tiny_decoder(), seed=1, **kwargs)


def _avb(**kwargs):
    adversary = keras_avb.layers.ResidualAdversary(units=4, num_blocks=1)
    return keras_avb.AVB(tiny_basis_noise_encoder(), tiny_decoder(), adversary, seed=1, **kwargs)


@pytest.mark.parametrize("make", [_vae, _avb], ids=["vae", "avb"])
def test_config_has_keras_entries_and_round_trips_them(make):
    model = make(name="mine", trainable=False, dtype="mixed_bfloat16")
    config = model.get_config()
    base = keras.Model.get_config(model)
    assert {"name", "trainable", "dtype"} <= set(base)
    for key, value in base.items():
        assert config[key] == value
    clone = type(model).from_config(json.loads(json.dumps(config)))
    assert clone.name == "mine"
    assert clone.trainable is False
    assert clone.dtype_policy.name == "mixed_bfloat16"
    assert clone.seed == 1
    assert {key: clone.get_config()[key] for key in base} == base


def test_configs_saved_without_keras_entries_still_load():
    config = _vae(name="old").get_config()
    for key in ("trainable", "dtype"):
        del config[key]
    clone = keras_avb.VAE.from_config(config)
    assert clone.name == "old" and clone.trainable
    assert clone.dtype_policy.name == keras.config.dtype_policy().name
