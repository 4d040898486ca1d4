"""Small data, networks and models that the test suites build themselves.

Example:

>>> from keras_avb.testing import four_point_data
>>> four_point_data(8).shape
(8, 4)
"""

import keras
import numpy as np


def four_point_data(n=256, seed=0):
    """The paper's synthetic data: 2x2 binary images with one pixel on."""
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype="float32")[rng.integers(0, 4, n)]


def tiny_black_box_encoder(data_dim=4, noise_dim=3, latent_dim=2, units=16, name="encoder"):
    x = keras.Input((data_dim,))
    eps = keras.Input((noise_dim,))
    h = keras.layers.Concatenate()([x, eps])
    h = keras.layers.Dense(units, activation="elu")(h)
    return keras.Model([x, eps], keras.layers.Dense(latent_dim)(h), name=name)


def tiny_decoder(latent_dim=2, data_dim=4, units=16, name="decoder"):
    return keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(units, activation="elu"),
            keras.layers.Dense(data_dim),
        ],
        name=name,
    )


def fixed_gaussian_encoder(mean_kernel, mean_bias, scale, name="gaussian_encoder"):
    """A non-trainable encoder with q(z|x) = N(x W + b, diag(scale^2)).

    Its density is known in closed form, so tests can compare an adversary
    with the optimal T* = log q(z|x) - log p(z).
    """
    mean_kernel = np.asarray(mean_kernel, "float32")
    data_dim, latent_dim = mean_kernel.shape
    x = keras.Input((data_dim,))
    eps = keras.Input((latent_dim,))
    mean = keras.layers.Dense(
        latent_dim,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(mean_kernel),
        bias_initializer=keras.initializers.Constant(np.asarray(mean_bias, "float32")),
    )(x)
    noise = keras.layers.Dense(
        latent_dim,
        use_bias=False,
        trainable=False,
        kernel_initializer=keras.initializers.Constant(np.diag(np.asarray(scale, "float32"))),
    )(eps)
    return keras.Model([x, eps], keras.layers.Add()([mean, noise]), name=name)


def tiny_basis_noise_encoder(data_dim=4, latent_dim=2, num_bases=3, noise_dim=2, name="encoder"):
    """A small encoder ending in `BasisNoiseEncoder`: returns [z, mean, variance]."""
    from keras_avb.layers import BasisNoiseEncoder

    x = keras.Input((data_dim,))
    eps = keras.Input((num_bases * noise_dim,))
    h = keras.layers.Dense(16, activation="softplus")(x)
    outputs = BasisNoiseEncoder(
        latent_dim=latent_dim, num_bases=num_bases, noise_dim=noise_dim, noise_units=(8,)
    )([h, eps])
    return keras.Model([x, eps], outputs, name=name)


def tiny_vae(seed=0, learning_rate=1e-3):
    """A compiled VAE on 4-dim data with a 2-dim latent space (8 ELU units)."""
    import keras_avb

    x = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x)
    encoder = keras.Model(x, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    model = keras_avb.VAE(encoder, tiny_decoder(), seed=seed)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate))
    return model


def tiny_avb(encoder=None, add_squared_norm=False, compile=True, **kwargs):
    """An AVB on 4-dim data: a tiny encoder, decoder and residual adversary.

    `kwargs` go to `keras_avb.AVB`; with `compile=True` both players get
    `Adam(1e-3)`.
    """
    import keras_avb

    model = keras_avb.AVB(
        encoder or tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(
            units=8, num_blocks=1, add_squared_norm=add_squared_norm, name="adversary"
        ),
        **kwargs,
    )
    if compile:
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            adversary_optimizer=keras.optimizers.Adam(1e-3),
        )
    return model
