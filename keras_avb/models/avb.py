"""Adversarial Variational Bayes (Mescheder, Nowozin and Geiger, ICML 2017)."""

import keras
from keras import ops

from keras_avb.backend import draw_per_example
from keras_avb.layers.adaptive_contrast import AdaptiveContrast
from keras_avb.models import input_checks
from keras_avb.models.adversarial_game import ADVERSARY
from keras_avb.models.adversarial_game import AdversarialGame
from keras_avb.models.adversarial_game import adversary_terms
from keras_avb.models.adversarial_game import check_adversary_steps
from keras_avb.models.importance_bound import importance_weighted_bound
from keras_avb.models.latent_variable_model import LatentVariableModel
from keras_avb.utils import validation

GENERATOR = "generator"


@keras.saving.register_keras_serializable(package="keras_avb")
class AVB(AdversarialGame, LatentVariableModel):
    """A VAE whose encoder is a black-box sampler, trained against an adversary.

    The encoder maps `[x, eps]`, with `eps ~ N(0, I)`, to a latent code `z`;
    its density q(z|x) is never evaluated. An adversary `T(x, z)` learns, by
    logistic regression between pairs `(x, z ~ q(z|x))` and `(x, z ~ p(z))`,
    the log-density ratio `log q(z|x) - log p(z)`, and the encoder and
    decoder minimise `-log p(x|z) + beta * T(x, z)`, minus the ELBO.

    With `adaptive_contrast=True` (section 4 of the paper) the encoder's
    sample is standardised by the mean and variance of q(z|x), the adversary
    contrasts it with `N(0, I)` samples, and the KL estimate becomes
    `T(x, z_norm) + log r(z|x) - log p(z)` with the Gaussian `r`.

    Metrics (means over the examples):

    - `adversarial_elbo`: `log p(x|z) - KL estimate`, with the adversary's
      KL estimate. It is an estimate, **not a bound**: when the adversary
      underestimates the KL (as a weak or untrained one does) it exceeds
      the ELBO and can exceed log p(x) itself.
    - `iw_bound` (evaluation only: `evaluate` and validation in `fit`): the
      importance-weighted bound `log (1/K) sum_k p(x|z_k) p(z_k) / r(z_k|x)`
      with `K = bound_samples` draws `z_k ~ r(z|x)` from an explicit
      Gaussian proposal r: the Gaussian with q(z|x)'s mean and variance
      (plus `contrast_epsilon`), the same moments Adaptive Contrast uses -
      the encoder's when it returns them (a full covariance matrix is used
      as such), otherwise estimated from `moment_samples` draws of q (a
      diagonal variance). Whatever r is, this is a stochastic lower bound
      on log p(x) (Jensen's inequality); it does not involve the adversary,
      so a weak adversary cannot inflate it. It tightens as r approaches
      the posterior and as K grows. It is `keras_avb.tuner.OBJECTIVE`.
    - `kl`: the KL estimate; `reconstruction_error`: `-log p(x|z)` per data
      entry; `loss` and `adversary_loss`: the two players' losses;
      `adversary_accuracy_posterior` / `_prior`: how often the adversary
      classifies posterior and reference samples correctly.

    Args:
        encoder: a layer or model called on `[x, eps]`. It returns `z`
            (any black-box sampler) or `[z, mean, variance]` (for example an
            encoder ending in `keras_avb.layers.BasisNoiseEncoder`), whose
            moments Adaptive Contrast then uses directly. `variance` may be
            a covariance matrix per example, `(batch, d, d)`: Adaptive
            Contrast then whitens z (`BasisNoiseEncoder(covariance="full")`).
        decoder: a layer or model mapping `z` to the likelihood's parameters
            (logits for `Bernoulli`).
        adversary: a layer or model called on `[x, z]` returning one logit per
            example, e.g. `keras_avb.layers.ResidualAdversary`.
        likelihood: `"bernoulli"`, `"gaussian"` or a `Likelihood`.
        prior: a `Prior`; a standard normal of the encoder's latent size by
            default.
        adaptive_contrast: whether to use Adaptive Contrast.
        adversary_steps: `None` (default) for simultaneous updates of both
            players from the same samples, as in the authors' code; an int
            `k >= 1` for `k` adversary updates, each on fresh noise, before
            every encoder/decoder update (the paper's variant).
        kl_annealing_steps: if positive, the KL term is scaled by
            `min(step / kl_annealing_steps, 1)` in training.
        noise_shape: shape of one example's encoder noise. Inferred from a
            functional encoder's second input or an encoder's `noise_shape`.
        moment_samples: for Adaptive Contrast with an encoder that returns
            only `z`: the number of samples per example whose mean and
            variance estimate the moments of q(z|x).
        contrast_epsilon: added to the variance in Adaptive Contrast and in
            the proposal of `iw_bound`.
        bound_samples: K, the importance samples per example of the
            `iw_bound` metric.
        seed: seed of the model's `keras.random.SeedGenerator`, the source of
            all its noise.

    Example:

    >>> import keras, keras_avb, numpy as np
    >>> x_in, eps_in = keras.Input((4,)), keras.Input((3,))
    >>> h = keras.layers.Dense(16, activation="elu")(
    ...     keras.layers.Concatenate()([x_in, eps_in]))
    >>> encoder = keras.Model([x_in, eps_in], keras.layers.Dense(2)(h))
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> model = keras_avb.AVB(encoder, decoder,
    ...     keras_avb.layers.ResidualAdversary(units=16, num_blocks=1))
    >>> model.compile()
    >>> x = np.eye(4, dtype="float32")[np.random.randint(0, 4, 64)]
    >>> history = model.fit(x, batch_size=16, epochs=1, verbose=0)
    >>> sorted(history.history)[:3]
    ['adversarial_elbo', 'adversary_accuracy_posterior', 'adversary_accuracy_prior']
    >>> logs = model.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    >>> bool(logs["iw_bound"] < 0.0)  # below log p(x) <= 0 of binary data
    True
    """

    METRIC_NAMES = (
        "loss",
        "adversary_loss",
        "adversarial_elbo",
        "iw_bound",
        "kl",
        "reconstruction_error",
        "adversary_accuracy_posterior",
        "adversary_accuracy_prior",
    )
    LOSS_METRICS = {GENERATOR: "loss", ADVERSARY: "adversary_loss"}
    ACCURACY_METRICS = ("adversary_accuracy_posterior", "adversary_accuracy_prior")
    KL_METRIC = "kl"
    EVALUATION_METRICS = ("iw_bound",)
    PLAYER = GENERATOR
    DEFAULT_LEARNING_RATES = (5e-5, 1e-4)

    def __init__(
        self,
        encoder,
        decoder,
        adversary,
        likelihood="bernoulli",
        prior=None,
        adaptive_contrast=False,
        adversary_steps=None,
        kl_annealing_steps=0,
        noise_shape=None,
        moment_samples=16,
        contrast_epsilon=1e-4,
        bound_samples=16,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            encoder, decoder, likelihood, prior, kl_annealing_steps, bound_samples, seed,
            **kwargs,
        )
        validation.check_callable(adversary, "adversary")
        validation.check_int(moment_samples, "moment_samples", minimum=2)
        validation.check_float(contrast_epsilon, "contrast_epsilon", minimum=0.0)
        self.adversary = adversary
        self.adaptive_contrast = bool(adaptive_contrast)
        self.adversary_steps = check_adversary_steps(adversary_steps)
        self.moment_samples = int(moment_samples)
        self.contrast_epsilon = float(contrast_epsilon)
        # float32 under a mixed precision policy too: log r(z|x) is added to
        # the float32 logits and log-prior, and 1 / sqrt(v + eps) overflows
        # float16 for small variances.
        self.contrast = AdaptiveContrast(
            self.contrast_epsilon, dtype="float32", name="adaptive_contrast"
        )
        self.noise_shape = self._infer_noise_shape(encoder, noise_shape)
        self.encoder_returns_moments = None
        self._build_if_data_shape_known()

    @staticmethod
    def _infer_noise_shape(encoder, noise_shape):
        if noise_shape is not None:
            if validation.is_int(noise_shape):
                noise_shape = (noise_shape,)
            if not isinstance(noise_shape, (tuple, list)) or not noise_shape:
                raise ValueError(
                    "`noise_shape` must be a tuple of positive integers. "
                    f"Received: {noise_shape!r}"
                )
            return tuple(
                validation.check_int(d, "noise_shape entries", minimum=1)
                for d in noise_shape
            )
        if getattr(encoder, "noise_shape", None) is not None:
            return tuple(encoder.noise_shape)
        inputs = getattr(encoder, "inputs", None)
        if inputs is not None and len(inputs) == 2 and None not in inputs[1].shape[1:]:
            return tuple(inputs[1].shape[1:])
        raise ValueError(
            "Cannot tell the shape of the encoder's noise input: pass "
            "`noise_shape`, or use a functional encoder with inputs [x, eps]."
        )

    # ------------------------------------------------------------------
    # Building and checking that the networks fit together
    # ------------------------------------------------------------------
    def build(self, input_shape):
        data_shape = tuple(input_shape[1:])
        if None in data_shape:
            raise ValueError(f"AVB needs a fully known data shape; got {data_shape}.")
        x = keras.KerasTensor((None,) + data_shape)
        eps = keras.KerasTensor((None,) + self.noise_shape)
        outputs = validation.call_network(
            self.encoder, [x, eps],
            f"The encoder does not accept [x, eps] with x of shape {data_shape} "
            f"and eps of shape {self.noise_shape}",
        )
        self.encoder_returns_moments = isinstance(outputs, (list, tuple))
        if self.encoder_returns_moments and len(outputs) != 3:
            raise ValueError(
                "The encoder must return z or [z, mean, variance]; it returns "
                f"{len(outputs)} tensors."
            )
        z = outputs[0] if self.encoder_returns_moments else outputs
        if len(z.shape) != 2:
            raise ValueError(
                f"The encoder must return flat latent codes (batch, latent_dim); "
                f"it returns shape {tuple(z.shape)}."
            )
        self._resolve_prior(int(z.shape[-1]))
        self._build_decoder(z, data_shape)
        self.build_adversary(x, z, f"x of shape {data_shape}")
        self.data_shape = data_shape

    @property
    def generator_optimizer(self):
        """The optimizer of the encoder and decoder (`player_optimizer`)."""
        return self.player_optimizer

    # ------------------------------------------------------------------
    # The objective
    # ------------------------------------------------------------------
    def posterior(self, x, training=False):
        """Draws `z ~ q(z|x)` and the moments of q that Adaptive Contrast needs.

        Returns `(z, mean, variance)`; the moments are `None` when neither the
        encoder returns them nor Adaptive Contrast needs them.
        """
        batch_size = ops.shape(x)[0]
        if self.encoder_returns_moments or not self.adaptive_contrast:
            eps = draw_per_example(
                lambda n: keras.random.normal(
                    (n,) + self.noise_shape, seed=self.seed_generator
                ),
                batch_size,
            )
            outputs = self.encoder([x, eps], training=training)
            if self.encoder_returns_moments:
                return tuple(outputs)
            return outputs, None, None
        # Black-box encoder with AC: Monte Carlo moments from several draws.
        # The moments are constants for the gradient, so only the sample z
        # goes through the encoder with its gradient; the other draws - 1
        # are a stop-gradient pass. (Slicing z out of one pass over all the
        # draws made the backward pass run over every draw: 16x the
        # encoder's backward cost, benchmarks/step_cost.py.)
        draws = self.moment_samples
        x = ops.convert_to_tensor(x)
        tiled = ops.tile(x, (draws - 1,) + (1,) * (len(x.shape) - 1))
        eps = draw_per_example(
            lambda n: keras.random.normal(
                (draws, n) + self.noise_shape, seed=self.seed_generator
            ),
            batch_size,
            batch_axis=1,
        )
        z = self.encoder([x, eps[0]], training=training)
        others = self.encoder(
            [tiled, ops.reshape(eps[1:], (-1,) + self.noise_shape)], training=training
        )
        z_all = ops.concatenate(
            [ops.expand_dims(z, 0), ops.reshape(others, (draws - 1, batch_size, -1))],
            axis=0,
        )
        z_all = ops.stop_gradient(z_all)
        return z, ops.mean(z_all, axis=0), ops.var(z_all, axis=0)

    def draw_reference(self, batch_size):
        """`batch_size` codes from the adversary's reference distribution.

        N(0, I) under Adaptive Contrast (the adversary sees normalised
        codes), else the prior.
        """
        if self.adaptive_contrast:

            def draw(n):
                return keras.random.normal((n, self.latent_dim), seed=self.seed_generator)

        else:

            def draw(n):
                return self.prior.sample(n, seed=self.seed_generator)

        return draw_per_example(draw, batch_size)

    def compute_losses(self, x, players, training):
        """Both players' losses and the metric values, with `keras.ops` only.

        Args:
            x: a batch of data.
            players: names of the players whose losses are needed; the
                decoder is skipped when only the adversary's is.
            training: whether the networks run in training mode (this also
                switches KL annealing on).
        """
        x = ops.cast(x, self.compute_dtype)
        z, mean, variance = self.posterior(x, training=training)
        if self.adaptive_contrast:
            z_posterior, log_r = self.contrast([z, mean, variance])
        else:
            z_posterior = z
        t_posterior, losses, values = adversary_terms(
            self.adversary, x, z_posterior, self.draw_reference, players, training
        )
        if GENERATOR in players:
            log_likelihood, reconstruction_error = self.reconstruction_terms(
                x, z, training
            )
            kl = t_posterior
            if self.adaptive_contrast:
                kl = kl + log_r - self.prior.log_prob(ops.cast(z, "float32"))
            generator_loss = ops.mean(-log_likelihood + self.kl_weight(training) * kl)
            losses[GENERATOR] = generator_loss
            values.update(
                loss=generator_loss,
                adversarial_elbo=ops.mean(log_likelihood - kl),
                kl=ops.mean(kl),
                reconstruction_error=reconstruction_error,
            )
            if not training:
                values["iw_bound"] = ops.mean(self.iw_bound(x, mean, variance))
        return losses, values

    def proposal(self, x, mean=None, variance=None):
        """The mean and variance of the Gaussian proposal r(z|x) of `iw_bound`.

        q(z|x)'s moments (`mean`, `variance` if given, else the encoder's or
        a `moment_samples` estimate) with `contrast_epsilon` added to the
        variance (times the identity for a covariance matrix); float32.
        """
        if mean is None:
            if self.encoder_returns_moments:
                _, mean, variance = self.posterior(x)
            else:
                mean, variance = self.sampled_moments(x)
        mean = ops.stop_gradient(ops.cast(mean, "float32"))
        variance = ops.stop_gradient(ops.cast(variance, "float32"))
        if len(variance.shape) == len(mean.shape) + 1:
            jitter = self.contrast_epsilon * ops.eye(mean.shape[-1], dtype="float32")
        else:
            jitter = self.contrast_epsilon
        return mean, variance + jitter

    def posterior_moments(self, x):
        """Mean and variance of the Gaussian that stands in for q(z|x) in evaluation.

        `proposal(x)` (q's moments plus `contrast_epsilon`: Adaptive
        Contrast's r(z|x)), with a full covariance reduced to its diagonal;
        AIS starts from it and importance sampling draws from it. An encoder
        that estimates the moments from the batch
        (`keras_avb.layers.BasisNoiseEncoder`) sees at least
        `moment_samples` rows: a smaller batch is repeated, so that one
        example alone does not get a variance of 0.

        Returns float32 tensors of shape `(batch, latent_dim)`.
        """
        rows = int(x.shape[0])
        if 0 < rows < self.moment_samples and input_checks.uses_batch_moments(self):
            repeats = -(-self.moment_samples // rows)
            tiled = ops.tile(x, (repeats,) + (1,) * (len(x.shape) - 1))
            mean, variance = self.proposal(tiled)
            mean, variance = mean[:rows], variance[:rows]
        else:
            mean, variance = self.proposal(x)
        if len(variance.shape) == len(mean.shape) + 1:
            variance = ops.diagonal(variance, axis1=-2, axis2=-1)
        return mean, variance

    def sampled_moments(self, x):
        """q(z|x)'s mean and variance per example from `moment_samples` draws."""
        draws = self.moment_samples
        x = ops.convert_to_tensor(x)
        batch_size = ops.shape(x)[0]
        eps = draw_per_example(
            lambda n: keras.random.normal(
                (draws, n) + self.noise_shape, seed=self.seed_generator
            ),
            batch_size,
            batch_axis=1,
        )
        tiled = ops.tile(x, (draws,) + (1,) * (len(x.shape) - 1))
        z = self.encoder([tiled, ops.reshape(eps, (-1,) + self.noise_shape)])
        z = ops.reshape(ops.cast(z, "float32"), (draws, batch_size, self.latent_dim))
        return ops.mean(z, axis=0), ops.var(z, axis=0)

    def iw_bound(self, x, mean=None, variance=None):
        """The importance-weighted lower bound on log p(x), per example.

        `log (1/K) sum_k p(x|z_k) p(z_k) / r(z_k|x)` with `K = bound_samples`
        draws from the Gaussian proposal r of `proposal()`. Its expectation
        is below log p(x) whatever r is, and it does not use the adversary.

        Args:
            x: a batch of data.
            mean, variance: q(z|x)'s moments if already computed.
        """
        x = ops.cast(x, self.compute_dtype)
        mean, variance = self.proposal(x, mean, variance)
        return importance_weighted_bound(
            self.decoder,
            self.likelihood,
            self.prior,
            x,
            mean,
            variance,
            self.bound_samples,
            self.seed_generator,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "adversary": keras.saving.serialize_keras_object(self.adversary),
            "adaptive_contrast": self.adaptive_contrast,
            "adversary_steps": self.adversary_steps,
            "noise_shape": list(self.noise_shape),
            "moment_samples": self.moment_samples,
            "contrast_epsilon": self.contrast_epsilon,
        }

