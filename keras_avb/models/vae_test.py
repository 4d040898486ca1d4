import keras
import numpy as np
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_decoder


def gaussian_encoder(data_dim=4, latent_dim=2):
    x = keras.Input((data_dim,))
    h = keras.layers.Dense(16, activation="elu")(x)
    return keras.Model(x, [keras.layers.Dense(latent_dim)(h), keras.layers.Dense(latent_dim)(h)])


def test_losses_fall_and_metrics_are_consistent():
    model = keras_avb.VAE(gaussian_encoder(), tiny_decoder(), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    history = model.fit(four_point_data(512), batch_size=64, epochs=8, verbose=0).history
    assert history["loss"][-1] < history["loss"][0] - 0.3
    assert history["reconstruction_error"][-1] < history["reconstruction_error"][0]
    logs = model.evaluate(four_point_data(128, seed=1), verbose=0, return_dict=True)
    np.testing.assert_allclose(logs["loss"], -logs["elbo"], rtol=1e-5)
    assert logs["kl"] > 0


def test_analytic_kl_matches_the_monte_carlo_kl_of_a_non_gaussian_code_path():
    # The same encoder with a TFP-free "other" prior path: a StandardNormal
    # subclass is not special-cased, so the VAE uses the one-sample estimate.
    class MonteCarloStandardNormal(keras_avb.distributions.StandardNormal):
        pass

    encoder = gaussian_encoder()
    decoder = tiny_decoder()
    exact = keras_avb.VAE(encoder, decoder, seed=0)
    sampled = keras_avb.VAE(encoder, decoder, prior=MonteCarloStandardNormal(2), seed=0)
    x = np.repeat(four_point_data(4), 5000, axis=0)
    _, exact_values = exact.compute_losses(x, ("model",), training=False)
    _, sampled_values = sampled.compute_losses(x, ("model",), training=False)
    assert abs(float(exact_values["kl"]) - float(sampled_values["kl"])) < 0.03
    assert float(exact_values["kl"]) > 0.05


def test_encode_decode_and_sample_shapes():
    model = keras_avb.VAE(gaussian_encoder(), tiny_decoder(), seed=0)
    z = model.encode(four_point_data(3))
    assert tuple(z.shape) == (3, 2)
    probabilities = ops.convert_to_numpy(model.decode(z))
    assert probabilities.shape == (3, 4)
    assert np.all((probabilities > 0) & (probabilities < 1))
    assert tuple(model.sample(5).shape) == (5, 4)


def test_posterior_moments_are_the_encoders_gaussian():
    model = keras_avb.VAE(gaussian_encoder(), tiny_decoder(), seed=0)
    x = four_point_data(8)
    mean, variance = model.posterior_moments(x)
    expected_mean, log_variance = model.encoder(x)
    np.testing.assert_allclose(ops.convert_to_numpy(mean), ops.convert_to_numpy(expected_mean), rtol=1e-6)
    np.testing.assert_allclose(
        ops.convert_to_numpy(variance), np.exp(ops.convert_to_numpy(log_variance)), rtol=1e-5
    )
