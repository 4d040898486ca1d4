"""Networks of the synthetic 4-point experiment (section 5.2, Table 1).

Two variants:

- `"notebook"` (default): the authors' toy notebook. Encoder and decoder are
  MLPs of 3 x 64 ELU units; the encoder sees `concat(x, eps)` with 64-dim
  noise; the adversary is a residual MLP on `concat(x, z)` with
  `0.5 * sum(z^2)` added to its output (the log-prior trick).
- `"paper"`: the paper's text. Encoder and decoder are MLPs of 2 x 512
  units; the adversary is two 2-layer 512-unit networks on x and on z whose
  512-dim outputs are combined by an inner product.

The data are 2x2 binary images, flattened to 4 entries; the latent space has
2 dimensions so that log p(x) can be computed by quadrature
(`keras_avb.evaluation.quadrature_log_likelihood`).
"""

import keras

from keras_avb.layers import InnerProductAdversary
from keras_avb.layers import ResidualAdversary
from keras_avb.utils import validation

VARIANTS = ("notebook", "paper")

_HIDDEN = {"notebook": (64, 64, 64), "paper": (512, 512)}
_NOISE_DIM = {"notebook": 64, "paper": 64}


def _check_variant(variant):
    validation.check_choice(variant, "variant", VARIANTS)


def _hidden_layers(h, units, activation, prefix):
    for i, u in enumerate(units):
        h = keras.layers.Dense(u, activation=activation, name=f"{prefix}_dense_{i}")(h)
    return h


def synthetic_avb_encoder(
    variant="notebook", data_dim=4, latent_dim=2, noise_dim=None, activation="elu"
):
    """The AVB encoder: a black-box sampler z = f(x, eps).

    A functional `keras.Model` on `[x, eps]`: an MLP on `concat(x, eps)`
    with a linear output of size `latent_dim`.

    Args:
        variant: `"notebook"` (3 x 64 units) or `"paper"` (2 x 512 units).
        data_dim: entries per (flattened) data point.
        latent_dim: size of z.
        noise_dim: size of eps; 64 by default, as in the authors' notebook.
        activation: hidden activation.

    Example:

    >>> encoder = synthetic_avb_encoder()
    >>> [tuple(t.shape) for t in encoder.inputs], tuple(encoder.output.shape)
    ([(None, 4), (None, 64)], (None, 2))
    """
    _check_variant(variant)
    noise_dim = _NOISE_DIM[variant] if noise_dim is None else int(noise_dim)
    x = keras.Input((data_dim,), name="x")
    eps = keras.Input((noise_dim,), name="eps")
    h = keras.layers.Concatenate(name="encoder_concat")([x, eps])
    h = _hidden_layers(h, _HIDDEN[variant], activation, "encoder")
    z = keras.layers.Dense(latent_dim, name="encoder_z")(h)
    return keras.Model([x, eps], z, name="encoder")


def synthetic_vae_encoder(variant="notebook", data_dim=4, latent_dim=2, activation="elu"):
    """The VAE encoder: x -> [mean, log_variance] of a diagonal Gaussian.

    The same MLP as `synthetic_avb_encoder` but without noise input and
    with two linear heads.

    Example:

    >>> encoder = synthetic_vae_encoder()
    >>> [tuple(t.shape) for t in encoder.outputs]
    [(None, 2), (None, 2)]
    """
    _check_variant(variant)
    x = keras.Input((data_dim,), name="x")
    h = _hidden_layers(x, _HIDDEN[variant], activation, "encoder")
    mean = keras.layers.Dense(latent_dim, name="encoder_mean")(h)
    log_variance = keras.layers.Dense(latent_dim, name="encoder_log_variance")(h)
    return keras.Model(x, [mean, log_variance], name="encoder")


def synthetic_decoder(variant="notebook", data_dim=4, latent_dim=2, activation="elu"):
    """The decoder: z -> logits of `data_dim` independent Bernoulli pixels.

    Example:

    >>> decoder = synthetic_decoder("paper")
    >>> tuple(decoder.output.shape), len(decoder.layers)
    ((None, 4), 4)
    """
    _check_variant(variant)
    z = keras.Input((latent_dim,), name="z")
    h = _hidden_layers(z, _HIDDEN[variant], activation, "decoder")
    logits = keras.layers.Dense(data_dim, name="decoder_logits")(h)
    return keras.Model(z, logits, name="decoder")


def synthetic_adversary(variant="notebook", units=None, num_blocks=5, add_squared_norm=True):
    """The adversary T(x, z).

    `"notebook"`: `ResidualAdversary` on `concat(x, z)` (256 units, 5
    blocks by default, as in the authors' notebook). `"paper"`:
    `InnerProductAdversary` with two 2 x 512 networks and 512-dim
    embeddings. Both add `0.5 * sum(z^2)` (`-log p(z)` up to a constant) by
    default.

    Args:
        variant: `"notebook"` or `"paper"`.
        units: width (256 for the notebook variant, 512 for the paper's).
        num_blocks: residual blocks of the notebook variant.
        add_squared_norm: add `0.5 * sum(z^2)` to T.

    Example:

    >>> from keras import ops
    >>> adversary = synthetic_adversary(units=32, num_blocks=1)
    >>> tuple(adversary([ops.ones((3, 4)), ops.ones((3, 2))]).shape)
    (3,)
    """
    _check_variant(variant)
    if variant == "notebook":
        return ResidualAdversary(
            units=256 if units is None else int(units),
            num_blocks=num_blocks,
            activation="elu",
            add_squared_norm=add_squared_norm,
            name="adversary",
        )
    units = 512 if units is None else int(units)
    return InnerProductAdversary(
        hidden_units=(units, units),
        embedding_dim=units,
        activation="elu",
        add_squared_norm=add_squared_norm,
        name="adversary",
    )
