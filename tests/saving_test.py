"""Saving, loading and resuming whole models with both optimizers."""

import keras
import numpy as np

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing.model_saving import run_model_saving_test
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_decoder
from keras_avb.testing import tiny_vae


def basis_noise_avb():
    model = keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=16, num_blocks=1, add_squared_norm=True),
        adaptive_contrast=True,
        adversary_steps=2,
        kl_annealing_steps=100,
        seed=3,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
        adversary_optimizer=keras.optimizers.Adam(4e-3, beta_1=0.5),
    )
    return model


def test_avb_round_trips_with_both_optimizers_and_resumes(tmp_path):
    model = basis_noise_avb()
    x = four_point_data(128)
    model.fit(x, batch_size=32, epochs=2, verbose=0)
    loaded = run_model_saving_test(model, tmp_path / "avb.keras", x)
    assert loaded.adaptive_contrast and loaded.adversary_steps == 2
    assert loaded.kl_annealing_steps == 100
    # Both players' optimizer states (moments and step counts) came back.
    assert int(loaded.generator_optimizer.iterations) == 8
    assert int(loaded.adversary_optimizer.iterations) == 16
    np.testing.assert_allclose(
        float(loaded.adversary_optimizer.learning_rate), 4e-3, rtol=1e-6
    )
    # Training resumes where it stopped.
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 12
    assert int(loaded.adversary_optimizer.iterations) == 24


def test_vae_round_trips_and_resumes(tmp_path):
    model = tiny_vae(seed=1)
    x = four_point_data(64)
    model.fit(x, batch_size=32, epochs=1, verbose=0)
    loaded = run_model_saving_test(model, tmp_path / "vae.keras", x)
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 4
