"""Saving, loading and resuming whole models with both optimizers."""

import keras
import numpy as np
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_decoder


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


def numpy_values(variables):
    return [ops.convert_to_numpy(v) for v in variables]


def test_avb_round_trips_with_both_optimizers_and_resumes(tmp_path):
    model = basis_noise_avb()
    x = four_point_data(128)
    model.fit(x, batch_size=32, epochs=2, verbose=0)
    path = tmp_path / "avb.keras"
    model.save(path)

    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_avb.AVB)
    assert loaded.adaptive_contrast and loaded.adversary_steps == 2
    assert loaded.kl_annealing_steps == 100
    for a, b in zip(numpy_values(model.weights), numpy_values(loaded.weights)):
        np.testing.assert_array_equal(a, b)
    # Both players' optimizer states (moments and step counts) come back.
    for a, b in zip(
        numpy_values(model.optimizer.variables), numpy_values(loaded.optimizer.variables)
    ):
        np.testing.assert_array_equal(a, b)
    assert int(loaded.generator_optimizer.iterations) == 8
    assert int(loaded.adversary_optimizer.iterations) == 16
    np.testing.assert_allclose(
        float(loaded.adversary_optimizer.learning_rate), 4e-3, rtol=1e-6
    )
    # The noise stream is restored too, so the same state gives the same
    # evaluation, noise included.
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.seed_generator.state),
        ops.convert_to_numpy(model.seed_generator.state),
    )
    expected = model.evaluate(x, verbose=0, return_dict=True)
    np.testing.assert_allclose(
        list(loaded.evaluate(x, verbose=0, return_dict=True).values()),
        list(expected.values()),
        rtol=1e-5,
    )
    # Training resumes where it stopped.
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 12
    assert int(loaded.adversary_optimizer.iterations) == 24


def test_vae_round_trips_and_resumes(tmp_path):
    x_in = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x_in)
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    model = keras_avb.VAE(encoder, tiny_decoder(), seed=1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = four_point_data(64)
    model.fit(x, batch_size=32, epochs=1, verbose=0)
    model.save(tmp_path / "vae.keras")
    loaded = keras.saving.load_model(tmp_path / "vae.keras")
    for a, b in zip(numpy_values(model.weights), numpy_values(loaded.weights)):
        np.testing.assert_array_equal(a, b)
    loaded.fit(x, batch_size=32, epochs=1, verbose=0)
    assert int(loaded.optimizer.iterations) == 4
