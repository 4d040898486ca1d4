"""The Gaussian-posterior VAE baseline (Kingma and Welling, 2014)."""

import keras
from keras import ops

from keras_avb.distributions.gaussian import normal_log_prob
from keras_avb.distributions.priors import StandardNormal
from keras_avb.models.importance_bound import importance_weighted_bound
from keras_avb.models.latent_variable_model import LatentVariableModel
from keras_avb.models.optimizer_state import RestoresOptimizerState
from keras_avb.utils import validation
from keras_avb.backend import draw_per_example

MODEL = "model"


@keras.saving.register_keras_serializable(package="keras_avb")
class VAE(RestoresOptimizerState, LatentVariableModel):
    """A VAE with a diagonal Gaussian posterior q(z|x) = N(mean(x), exp(log_var(x))).

    It shares the decoder, likelihood and prior API of `keras_avb.AVB`, so
    the two compare like for like. The KL term is exact for the standard
    normal prior and a one-sample Monte Carlo estimate for other priors.

    Metrics (means over the examples): `elbo`, the evidence lower bound
    `log p(x|z) - KL(q(z|x) || p(z))` with one sample z (a true stochastic
    lower bound on log p(x)); `kl`; `reconstruction_error`, `-log p(x|z)`
    per data entry; `loss`, minus the ELBO (KL-annealed in training); and
    in evaluation only (`evaluate`, validation in `fit`) `iw_bound`, the
    importance-weighted bound of Burda et al. (2016),
    `log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)` with `K = bound_samples`
    draws `z_k ~ q(z|x)`: also a lower bound on log p(x), at least as tight
    as the ELBO in expectation, and the quantity AVB's `iw_bound` reports
    with its own Gaussian proposal, so the two models compare on one scale.

    Args:
        encoder: a layer or model mapping `x` to `[mean, log_variance]`.
        decoder: a layer or model mapping `z` to the likelihood's parameters.
        likelihood: `"bernoulli"`, `"gaussian"` or a `Likelihood`.
        prior: a `Prior`; a standard normal by default.
        kl_annealing_steps: if positive, the KL term is scaled by
            `min(step / kl_annealing_steps, 1)` in training.
        bound_samples: K, the importance samples per example of the
            `iw_bound` metric.
        seed: seed of the model's `keras.random.SeedGenerator`.

    Example:

    >>> import keras, keras_avb, numpy as np
    >>> x_in = keras.Input((4,))
    >>> h = keras.layers.Dense(16, activation="elu")(x_in)
    >>> encoder = keras.Model(
    ...     x_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> model = keras_avb.VAE(encoder, decoder)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> x = np.eye(4, dtype="float32")[np.random.randint(0, 4, 64)]
    >>> history = model.fit(x, batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['elbo', 'kl', 'loss', 'reconstruction_error']
    """

    METRIC_NAMES = ("loss", "elbo", "iw_bound", "kl", "reconstruction_error")
    LOSS_METRICS = {MODEL: "loss"}
    EVALUATION_METRICS = ("iw_bound",)

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        prior=None,
        kl_annealing_steps=0,
        bound_samples=16,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            encoder, decoder, likelihood, prior, kl_annealing_steps, bound_samples, seed,
            **kwargs,
        )
        self._build_if_data_shape_known()

    def build(self, input_shape):
        data_shape = tuple(input_shape[1:])
        x = keras.KerasTensor((None,) + data_shape)
        outputs = validation.call_network(
            self.encoder, x, f"The encoder does not accept x of shape {data_shape}"
        )
        if not isinstance(outputs, (list, tuple)) or len(outputs) != 2:
            raise ValueError(
                "The VAE encoder must return [mean, log_variance]."
            )
        mean, log_variance = outputs
        if tuple(mean.shape) != tuple(log_variance.shape) or len(mean.shape) != 2:
            raise ValueError(
                "The VAE encoder's mean and log-variance must both have shape "
                f"(batch, latent_dim); got {tuple(mean.shape)} and "
                f"{tuple(log_variance.shape)}."
            )
        self._resolve_prior(int(mean.shape[-1]))
        self._build_decoder(mean, data_shape)
        self.data_shape = data_shape

    def players(self):
        return {MODEL: (self.trainable_variables, self.optimizer)}

    @property
    def update_schedule(self):
        return ((MODEL,),)

    def posterior(self, x, training=False):
        """Returns `(z, mean, log_variance)` with `z ~ q(z|x)`."""
        mean, log_variance = self.encoder(x, training=training)
        mean = ops.cast(mean, "float32")
        log_variance = ops.cast(log_variance, "float32")
        eps = draw_per_example(
            lambda n: keras.random.normal(
                (n,) + tuple(mean.shape[1:]), seed=self.seed_generator
            ),
            ops.shape(mean)[0],
        )
        return mean + ops.exp(0.5 * log_variance) * eps, mean, log_variance

    def posterior_moments(self, x):
        """The mean and variance of the Gaussian q(z|x).

        Returns float32 tensors of shape `(batch, latent_dim)`.
        """
        mean, log_variance = self.encoder(x, training=False)
        return ops.cast(mean, "float32"), ops.exp(ops.cast(log_variance, "float32"))

    def compute_losses(self, x, players, training):
        x = ops.cast(x, self.compute_dtype)
        z, mean, log_variance = self.posterior(x, training=training)
        log_likelihood, reconstruction_error = self.reconstruction_terms(x, z, training)
        if isinstance(self.prior, StandardNormal):
            kl = 0.5 * ops.sum(
                ops.exp(log_variance) + ops.square(mean) - 1.0 - log_variance, axis=-1
            )
        else:
            log_q = normal_log_prob(
                (z - mean) * ops.exp(-0.5 * log_variance), log_variance
            )
            kl = log_q - self.prior.log_prob(z)
        loss = ops.mean(-log_likelihood + self.kl_weight(training) * kl)
        values = {
            "loss": loss,
            "elbo": ops.mean(log_likelihood - kl),
            "kl": ops.mean(kl),
            "reconstruction_error": reconstruction_error,
        }
        if not training:
            values["iw_bound"] = ops.mean(self.iw_bound(x, mean, log_variance))
        return {MODEL: loss}, values

    def iw_bound(self, x, mean=None, log_variance=None):
        """The importance-weighted (IWAE) lower bound on log p(x), per example.

        `log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)` with `K = bound_samples`
        draws `z_k ~ q(z|x)`.

        Args:
            x: a batch of data.
            mean, log_variance: q(z|x)'s parameters if already computed.
        """
        x = ops.cast(x, self.compute_dtype)
        if mean is None:
            _, mean, log_variance = self.posterior(x)
        return importance_weighted_bound(
            self.decoder,
            self.likelihood,
            self.prior,
            x,
            ops.stop_gradient(mean),
            ops.stop_gradient(ops.exp(log_variance)),
            self.bound_samples,
            self.seed_generator,
        )

