"""Priors p(z) over the latent space.

A prior is a small serializable object with `latent_dim`, `sample()` and
`log_prob()`. `StandardNormal` is written with `keras.ops` and runs on every
backend; `TFPPrior` wraps a TensorFlow Probability distribution on the
backends that have a TFP substrate (TensorFlow and JAX).
"""

import keras
from keras import ops

from keras_avb import backend
from keras_avb.distributions.gaussian import normal_log_prob


class Prior:
    """Base class of priors over a flat latent vector of size `latent_dim`.

    Subclasses implement `sample(batch_size, seed)` and `log_prob(z)`.
    """

    def __init__(self, latent_dim):
        if not isinstance(latent_dim, int) or latent_dim < 1:
            raise ValueError(
                f"`latent_dim` must be a positive integer. Received: {latent_dim!r}"
            )
        self.latent_dim = latent_dim

    def sample(self, batch_size, seed=None):
        raise NotImplementedError

    def log_prob(self, z):
        raise NotImplementedError

    def get_config(self):
        return {"latent_dim": self.latent_dim}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(latent_dim={self.latent_dim})"


@keras.saving.register_keras_serializable(package="keras_avb")
class StandardNormal(Prior):
    """The standard normal prior N(0, I) on every backend.

    Example:

    >>> prior = StandardNormal(latent_dim=2)
    >>> z = prior.sample(4, seed=keras.random.SeedGenerator(0))
    >>> tuple(z.shape)
    (4, 2)
    >>> float(prior.log_prob(ops.zeros((1, 2)))[0])  # -log(2 pi)
    -1.837877...
    """

    def sample(self, batch_size, seed=None):
        return keras.random.normal((batch_size, self.latent_dim), seed=seed)

    def log_prob(self, z):
        return normal_log_prob(z)


def _tfp_distributions():
    """The `tfp.distributions` module of the active backend's substrate."""
    tfp = backend.tfp()
    if tfp is None:
        raise NotImplementedError(
            "TensorFlow Probability has no substrate for the "
            f"'{keras.backend.backend()}' backend (or it is not installed). Use "
            "`keras_avb.distributions.StandardNormal` or a `Prior` subclass "
            "written with `keras.ops` instead."
        )
    return tfp.distributions


@keras.saving.register_keras_serializable(package="keras_avb")
class TFPPrior(Prior):
    """A prior made of independent TFP distributions, one per latent entry.

    The distribution is named by its class in `tfp.distributions` and built
    from scalar parameters, so the prior serializes with the model. It runs
    under the TensorFlow and JAX backends (TFP has no PyTorch substrate).

    Args:
        distribution: name of a scalar `tfp.distributions` class, such as
            `"Laplace"`, `"StudentT"` or `"Logistic"`.
        latent_dim: size of the latent vector.
        **parameters: scalar parameters of the distribution.

    Example (TensorFlow or JAX backend):

    >>> prior = TFPPrior("Laplace", latent_dim=2, loc=0.0, scale=1.0)
    >>> z = prior.sample(3, seed=keras.random.SeedGenerator(1))
    >>> tuple(prior.log_prob(z).shape)
    (3,)
    """

    def __init__(self, distribution, latent_dim, **parameters):
        super().__init__(latent_dim)
        tfd = _tfp_distributions()
        if not hasattr(tfd, distribution):
            raise ValueError(
                f"`tfp.distributions` has no distribution named {distribution!r}."
            )
        self.distribution_name = distribution
        self.parameters = dict(parameters)
        base = getattr(tfd, distribution)(
            **{k: float(v) for k, v in parameters.items()}
        )
        if tuple(base.event_shape) != () or tuple(base.batch_shape) != ():
            raise ValueError(
                "`TFPPrior` takes a scalar distribution with scalar "
                f"parameters; {distribution} with {parameters} has batch "
                f"shape {base.batch_shape} and event shape {base.event_shape}."
            )
        self.distribution = tfd.Sample(base, sample_shape=[latent_dim])

    def sample(self, batch_size, seed=None):
        if isinstance(seed, keras.random.SeedGenerator):
            seed = ops.cast(seed.next(), backend.TFP_SEED_DTYPE)  # TFP's stateless seeds
        return self.distribution.sample(batch_size, seed=seed)

    def log_prob(self, z):
        return self.distribution.log_prob(z)

    def get_config(self):
        return {
            "distribution": self.distribution_name,
            "latent_dim": self.latent_dim,
            **self.parameters,
        }

    def __repr__(self):
        params = ", ".join(f"{k}={v}" for k, v in self.parameters.items())
        return (
            f"TFPPrior({self.distribution_name!r}, "
            f"latent_dim={self.latent_dim}, {params})"
        )


def get(identifier, latent_dim=None):
    """Returns a prior from an instance, a config dict or `"standard_normal"`."""
    if isinstance(identifier, Prior):
        return identifier
    if identifier in (None, "standard_normal", "normal"):
        if latent_dim is None:
            raise ValueError(
                "A standard normal prior needs `latent_dim`: pass it, or a "
                "built encoder whose output size gives it."
            )
        return StandardNormal(latent_dim)
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(
        "`prior` must be a `keras_avb.distributions.Prior`, a serialized "
        f"prior or 'standard_normal'. Received: {identifier!r}"
    )
