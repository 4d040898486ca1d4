"""Networks of the binarized MNIST experiment (section 5.2, Table 2).

Following the paper and the supplementary notes (`/work/shared/paper/NOTES.md`,
"The basis-noise encoder"):

- **Features** h(x), on the input centred as `2x - 1`: `"mlp"`, two layers
  of 300 softplus units; `"conv"`, three stride-2 5x5 convolutions of
  16/32/32 ELU units and a dense layer of 800 ELU units.
- **AVB encoder**: a `keras_avb.layers.BasisNoiseEncoder` head on h(x),
  with 64 noise entries per basis and `m = 16` bases for an 8-dim latent
  space, `m = 32` for a 32-dim one. It returns `(z, mean, variance)`, the
  moments that Adaptive Contrast needs.
- **VAE encoder**: the same features with two linear heads, mean and
  log-variance of a diagonal Gaussian.
- **Decoder**: `"conv"`, a 5-layer DC-GAN style network (dense to 7x7,
  transposed 5x5 convolutions up to 28x28, as in the authors' `conv0`
  decoder); `"mlp"`, 300-300 softplus units. Both return 784 Bernoulli
  logits.
- **Adversary** `MnistAdversary`: a 4-layer MLP of 1024 units on
  `concat(2x - 1, z)` plus networks on x alone and on z alone whose outputs
  are added to the result.

Images are flat, shape `(784,)`, as `keras_avb.datasets.load_mnist` gives
them. `build_mnist_model` puts the pieces together into an `AVB` (with or
without Adaptive Contrast) or a `VAE`.
"""

import keras
from keras import ops

from keras_avb.layers import Adversary
from keras_avb.layers import BasisNoiseEncoder
from keras_avb.utils import validation
from keras_avb.utils.shapes import flat_size

IMAGE_SHAPE = (28, 28)
DATA_DIM = 28 * 28
ARCHITECTURES = ("mlp", "conv")
KINDS = ("avb", "avb_ac", "vae")


def default_num_bases(latent_dim):
    """The paper's number of noise bases: 16 up to 8 latent dims, else 32.

    >>> default_num_bases(8), default_num_bases(32)
    (16, 32)
    """
    return 16 if int(latent_dim) <= 8 else 32


def _features(x, architecture, hidden_units, conv_filters, conv_units, prefix):
    """h(x) on flat images in [0, 1], centred as 2x - 1."""
    h = keras.layers.Rescaling(2.0, offset=-1.0, name=f"{prefix}_centre")(x)
    if architecture == "mlp":
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation="softplus", name=f"{prefix}_dense_{i}")(h)
        return h
    h = keras.layers.Reshape(IMAGE_SHAPE + (1,), name=f"{prefix}_image")(h)
    for i, filters in enumerate(conv_filters):
        h = keras.layers.Conv2D(
            filters, 5, strides=2, padding="same", activation="elu", name=f"{prefix}_conv_{i}"
        )(h)
    h = keras.layers.Flatten(name=f"{prefix}_flatten")(h)
    return keras.layers.Dense(conv_units, activation="elu", name=f"{prefix}_dense")(h)


def mnist_avb_encoder(
    architecture="mlp",
    latent_dim=8,
    num_bases=None,
    noise_dim=64,
    noise_units=(128, 128, 128),
    hidden_units=(300, 300),
    conv_filters=(16, 32, 32),
    conv_units=800,
    covariance="diagonal",
):
    """The basis-noise encoder: `[x, eps] -> (z, mean, variance)`.

    A functional `keras.Model`. `eps` holds `num_bases * noise_dim`
    standard normal entries per example.

    Args:
        architecture: `"mlp"` or `"conv"` features h(x).
        latent_dim: size of z.
        num_bases: noise bases m; `default_num_bases(latent_dim)` if None.
        noise_dim: noise entries per basis (64 in the paper).
        noise_units: hidden sizes of each basis MLP.
        hidden_units: the MLP features' layer sizes.
        conv_filters, conv_units: the conv features' filters and dense size.
        covariance: `"diagonal"`, or `"full"` to return q(z|x)'s covariance
            matrix for full-covariance Adaptive Contrast.

    Example:

    >>> encoder = mnist_avb_encoder(latent_dim=8, hidden_units=(32,),
    ...                             noise_units=(16,))
    >>> [tuple(t.shape) for t in encoder.inputs]
    [(None, 784), (None, 1024)]
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 8), (None, 8), (None, 8)]
    """
    validation.check_choice(architecture, "architecture", ARCHITECTURES)
    num_bases = default_num_bases(latent_dim) if num_bases is None else int(num_bases)
    x = keras.Input((DATA_DIM,), name="x")
    eps = keras.Input((num_bases * int(noise_dim),), name="eps")
    h = _features(x, architecture, hidden_units, conv_filters, conv_units, "encoder")
    z, mean, variance = BasisNoiseEncoder(
        latent_dim,
        num_bases=num_bases,
        noise_dim=noise_dim,
        noise_units=noise_units,
        covariance=covariance,
        name="basis_noise",
    )([h, eps])
    return keras.Model([x, eps], [z, mean, variance], name="encoder")


def mnist_vae_encoder(
    architecture="mlp",
    latent_dim=8,
    hidden_units=(300, 300),
    conv_filters=(16, 32, 32),
    conv_units=800,
):
    """The VAE's Gaussian encoder: `x -> [mean, log_variance]`.

    The same features as `mnist_avb_encoder`, with two linear heads.

    Example:

    >>> encoder = mnist_vae_encoder("conv", latent_dim=4, conv_filters=(4, 4, 4),
    ...                             conv_units=16)
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 4), (None, 4)]
    """
    validation.check_choice(architecture, "architecture", ARCHITECTURES)
    x = keras.Input((DATA_DIM,), name="x")
    h = _features(x, architecture, hidden_units, conv_filters, conv_units, "encoder")
    mean = keras.layers.Dense(latent_dim, name="encoder_mean")(h)
    log_variance = keras.layers.Dense(latent_dim, name="encoder_log_variance")(h)
    return keras.Model(x, [mean, log_variance], name="encoder")


def mnist_decoder(
    architecture="mlp",
    latent_dim=8,
    hidden_units=(300, 300),
    base_filters=32,
):
    """The decoder: `z -> 784` Bernoulli logits.

    `"mlp"`: dense layers of `hidden_units` softplus units, then linear.
    `"conv"` (DC-GAN style, 5 layers, the authors' `conv0` decoder on
    28x28): dense to `7x7x(8*base_filters)` ELU, transposed 5x5
    convolutions to 14x14x`4*base_filters` and 28x28x`2*base_filters`
    (stride 2) and 28x28x`base_filters` (stride 1), ELU, and a linear
    transposed 5x5 convolution to one channel of logits, flattened.

    Example:

    >>> decoder = mnist_decoder("conv", latent_dim=8, base_filters=2)
    >>> tuple(decoder.output.shape)
    (None, 784)
    """
    validation.check_choice(architecture, "architecture", ARCHITECTURES)
    z = keras.Input((latent_dim,), name="z")
    if architecture == "mlp":
        h = z
        for i, units in enumerate(hidden_units):
            h = keras.layers.Dense(units, activation="softplus", name=f"decoder_dense_{i}")(h)
        logits = keras.layers.Dense(DATA_DIM, name="decoder_logits")(h)
        return keras.Model(z, logits, name="decoder")
    f = int(base_filters)
    h = keras.layers.Dense(7 * 7 * 8 * f, activation="elu", name="decoder_dense")(z)
    h = keras.layers.Reshape((7, 7, 8 * f), name="decoder_reshape")(h)
    for i, (filters, stride) in enumerate(((4 * f, 2), (2 * f, 2), (f, 1))):
        h = keras.layers.Conv2DTranspose(
            filters, 5, strides=stride, padding="same", activation="elu",
            name=f"decoder_deconv_{i}",
        )(h)
    h = keras.layers.Conv2DTranspose(1, 5, padding="same", name="decoder_logits")(h)
    logits = keras.layers.Flatten(name="decoder_flatten")(h)
    return keras.Model(z, logits, name="decoder")


@keras.saving.register_keras_serializable(package="keras_avb")
class MnistAdversary(Adversary):
    """The MNIST adversary T(x, z) = f(x, z) + g(x) + k(z).

    `f` is an MLP of `depth` layers of `units` units on
    `concat(2x - 1, z)`; `g` and `k` are MLPs of `side_depth` layers of
    `side_units` units on `2x - 1` alone and on `z` alone. Each ends in a
    linear unit, and the three are added (the paper: "a fully connected
    4-layer neural network with 1024 units in each hidden layer. In
    addition, we added the result of neural networks acting on x and z
    alone to the end result").

    Args:
        units: width of the joint network (1024 in the paper).
        depth: hidden layers of the joint network (4 in the paper).
        side_units: width of the x- and z-networks; `units` if None.
        side_depth: hidden layers of the x- and z-networks; `depth` if None.
        activation: hidden activation, a name or a callable (a custom
            function must be registered with
            `keras.saving.register_keras_serializable` to be saved).
        add_squared_norm: add `0.5 * sum(z^2)` to T (the log-prior trick).

    Example:

    >>> adversary = MnistAdversary(units=16, depth=2)
    >>> t = adversary([ops.ones((4, 784)), ops.ones((4, 8))])
    >>> tuple(t.shape)
    (4,)
    """

    def __init__(
        self,
        units=1024,
        depth=4,
        side_units=None,
        side_depth=None,
        activation="elu",
        add_squared_norm=False,
        **kwargs,
    ):
        super().__init__(add_squared_norm=add_squared_norm, **kwargs)
        self.units = int(units)
        self.depth = int(depth)
        self.side_units = self.units if side_units is None else int(side_units)
        self.side_depth = self.depth if side_depth is None else int(side_depth)
        self.activation = keras.activations.get(activation)
        self.joint_network = self._mlp(self.units, self.depth, "joint")
        self.x_network = self._mlp(self.side_units, self.side_depth, "x")
        self.z_network = self._mlp(self.side_units, self.side_depth, "z")

    def _mlp(self, units, depth, prefix):
        layers = [
            keras.layers.Dense(
                units,
                activation=self.activation,
                dtype=self.dtype_policy,
                name=f"{prefix}_dense_{i}",
            )
            for i in range(depth)
        ]
        # Sublayers share the parent's dtype policy (e.g. mixed precision).
        layers.append(keras.layers.Dense(1, dtype=self.dtype_policy, name=f"{prefix}_output"))
        return keras.Sequential(layers, name=f"{prefix}_network")

    def build(self, input_shape):
        x_shape, z_shape = input_shape
        x_size = flat_size(x_shape[1:], owner="The adversary")
        self.joint_network.build((None, x_size + z_shape[-1]))
        self.x_network.build((None, x_size))
        self.z_network.build((None, z_shape[-1]))

    def logits(self, x, z, training=None):
        x = 2.0 * x - 1.0
        joint = self.joint_network(ops.concatenate([x, z], axis=-1), training=training)
        return (
            joint
            + self.x_network(x, training=training)
            + self.z_network(z, training=training)
        )

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "depth": self.depth,
            "side_units": self.side_units,
            "side_depth": self.side_depth,
            "activation": keras.activations.serialize(self.activation),
        }


def mnist_adversary(units=1024, depth=4, side_units=None, side_depth=None,
                    add_squared_norm=False):
    """The paper's MNIST adversary, a `MnistAdversary` named `"adversary"`.

    Example:

    >>> tuple(mnist_adversary(units=8, depth=1)(
    ...     [ops.ones((2, 784)), ops.ones((2, 8))]).shape)
    (2,)
    """
    return MnistAdversary(
        units=units,
        depth=depth,
        side_units=side_units,
        side_depth=side_depth,
        add_squared_norm=add_squared_norm,
        name="adversary",
    )


def build_mnist_model(
    kind="avb_ac",
    latent_dim=8,
    architecture="mlp",
    decoder_architecture=None,
    num_bases=None,
    noise_dim=64,
    noise_units=(128, 128, 128),
    hidden_units=(300, 300),
    conv_filters=(16, 32, 32),
    conv_units=800,
    decoder_units=(300, 300),
    decoder_filters=32,
    adversary_units=1024,
    adversary_depth=4,
    adversary_side_units=None,
    adversary_side_depth=None,
    adversary_steps=None,
    add_squared_norm=False,
    contrast_covariance="diagonal",
    seed=None,
):
    """Builds an uncompiled MNIST model: AVB, AVB with Adaptive Contrast, or a VAE.

    Args:
        kind: `"avb"` (basis-noise encoder, adversary on (x, z) against the
            prior), `"avb_ac"` (the same with Adaptive Contrast) or `"vae"`
            (Gaussian encoder on the same features).
        latent_dim: size of z (8 or 32 in Table 2).
        architecture: `"mlp"` or `"conv"`: the encoder's features, and the
            decoder's unless `decoder_architecture` is given.
        decoder_architecture: `"mlp"` or `"conv"`; `architecture` if None.
        num_bases, noise_dim, noise_units: of the basis-noise encoder.
        hidden_units, conv_filters, conv_units: of the encoder's features.
        decoder_units, decoder_filters: of the MLP or conv decoder.
        adversary_units, adversary_depth, adversary_side_units,
            adversary_side_depth, add_squared_norm: of `MnistAdversary`.
        adversary_steps: AVB's update schedule (None: simultaneous).
        contrast_covariance: `"avb_ac"` only: `"diagonal"` (the paper's
            Adaptive Contrast) or `"full"` (whiten z with q(z|x)'s
            covariance; see `AdaptiveContrast`).
        seed: the model's seed.

    Returns:
        A `keras_avb.AVB` or `keras_avb.VAE`, built for `(784,)` images.

    Example:

    >>> import numpy as np
    >>> model = build_mnist_model("avb_ac", latent_dim=4, hidden_units=(16,),
    ...     noise_units=(8,), num_bases=2, noise_dim=4, decoder_units=(16,),
    ...     adversary_units=16, adversary_depth=1, seed=0)
    >>> model.compile()
    >>> x = (np.random.rand(32, 784) < 0.2).astype("float32")
    >>> history = model.fit(x, batch_size=16, epochs=1, verbose=0)
    >>> model.adaptive_contrast, tuple(model.sample(3).shape)
    (True, (3, 784))
    """
    from keras_avb.models import AVB
    from keras_avb.models import VAE

    validation.check_choice(kind, "kind", KINDS)
    validation.check_choice(architecture, "architecture", ARCHITECTURES)
    decoder_architecture = architecture if decoder_architecture is None else decoder_architecture
    validation.check_choice(decoder_architecture, "decoder_architecture", ARCHITECTURES)
    decoder = mnist_decoder(
        decoder_architecture, latent_dim, hidden_units=decoder_units, base_filters=decoder_filters
    )
    features = dict(hidden_units=hidden_units, conv_filters=conv_filters, conv_units=conv_units)
    if kind == "vae":
        encoder = mnist_vae_encoder(architecture, latent_dim, **features)
        return VAE(encoder, decoder, likelihood="bernoulli", seed=seed, name="vae")
    validation.check_choice(contrast_covariance, "contrast_covariance", ("diagonal", "full"))
    if contrast_covariance == "full" and kind != "avb_ac":
        raise ValueError(
            '`contrast_covariance="full"` needs Adaptive Contrast (kind="avb_ac"). '
            f"Received: kind={kind!r}"
        )
    encoder = mnist_avb_encoder(
        architecture,
        latent_dim,
        num_bases=num_bases,
        noise_dim=noise_dim,
        noise_units=noise_units,
        covariance=contrast_covariance,
        **features,
    )
    adversary = mnist_adversary(
        adversary_units,
        adversary_depth,
        side_units=adversary_side_units,
        side_depth=adversary_side_depth,
        add_squared_norm=add_squared_norm,
    )
    return AVB(
        encoder,
        decoder,
        adversary,
        likelihood="bernoulli",
        adaptive_contrast=(kind == "avb_ac"),
        adversary_steps=adversary_steps,
        seed=seed,
        name=kind,
    )
