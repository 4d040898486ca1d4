"""AVB for black-box variational inference: a neural sampler against an adversary."""

import keras
from keras import ops

from keras_avb.distributions.gaussian import gaussian_log_prob
from keras_avb.callbacks import health
from keras_avb.layers.adaptive_contrast import AdaptiveContrast
from keras_avb.layers.adversaries import ResidualAdversary
from keras_avb.models.adversarial_game import ADVERSARY
from keras_avb.models.adversarial_game import AdversarialGame
from keras_avb.models.adversarial_game import adversary_terms
from keras_avb.models.adversarial_game import check_adversary_steps
from keras_avb.trainers import PlayersTrainer
from keras_avb.utils import validation

SAMPLER = "sampler"


def default_sampler(noise_dim, event_size, hidden_units=(128, 128), activation="elu"):
    """The paper's eight-schools sampler: eps -> ELU MLP -> z (linear output).

    Example:

    >>> net = default_sampler(noise_dim=3, event_size=2, hidden_units=(8,))
    >>> tuple(net(keras.ops.zeros((5, 3))).shape)
    (5, 2)
    """
    layers = [keras.Input((int(noise_dim),))]
    for index, units in enumerate(hidden_units):
        layers.append(
            keras.layers.Dense(int(units), activation=activation, name=f"hidden_{index}")
        )
    layers.append(keras.layers.Dense(int(event_size), name="output"))
    return keras.Sequential(layers, name="sampler")


class PosteriorSampler(AdversarialGame, PlayersTrainer, keras.Model):
    """A neural sampler `z = f(eps)` fitted to an unnormalised target by AVB.

    The sampler minimises KL(q || p) up to the target's log-normaliser,
    `E_q[log q(z) - log p~(z)]`, where `q` is the sampler's implicit density.
    An adversary `T(z)` learns `log q(z) - log r(z)` by logistic regression
    between samples of `q` (label 1) and of a reference `r` (label 0), and
    the sampler minimises `E_q[T(z) + log r(z) - log p~(z)]`.

    - Without Adaptive Contrast, `r = N(0, s^2 I)` is fixed
      (`s = reference_scale`); the adversary contrasts `z / s` with `N(0, I)`
      samples. Far from r's samples the adversary is an extrapolation that
      the sampler can exploit (the loss then runs off to -inf with
      `log r`), so the default adversary adds `0.5 * |z / s|^2` to its output
      (the log-prior trick of the authors' code, `add_squared_norm=True`),
      which cancels the quadratic part of `log r`.
    - With Adaptive Contrast (section 4 of the paper), `r = N(m, C)` with the
      batch mean `m` and covariance `C` of the samples (held constant for
      the gradient; with `covariance="diagonal"` only the variances); the
      adversary contrasts the whitened `z_norm = L^-1 (z - m)` (`C = L L^T`)
      with `N(0, I)` samples and the loss is `T(z_norm) + log r(z) -
      log p~(z)`.

    The two players are trained by `keras_avb.trainers.PlayersTrainer` with
    their own optimizers, held in a `keras.optimizers.MultiOptimizer` as in
    `keras_avb.AVB`. The data given to `fit` is ignored apart from its number
    of batches: each step draws `batch_size` fresh samples.
    `keras_avb.vi.fit_posterior` hides this; use the class directly for more
    control.

    Args:
        target_log_prob_fn: maps a `(batch, event_size)` tensor to `(batch,)`
            unnormalised log-densities, written with `keras.ops`.
        event_size: the number of entries of a sample.
        sampler: a layer or model mapping noise `(batch, noise_dim)` to
            `(batch, event_size)`; by default two ELU layers of 128 units.
        adversary: a layer called on `[x, z]` returning one logit per sample,
            like the core's adversaries (`x` is an empty `(batch, 0)` tensor
            here); by default `ResidualAdversary(128, 3 blocks)`, with
            `add_squared_norm=True` when `adaptive_contrast=False`. (The
            paper's 256 units and 5 blocks cost about 6x more per step for
            no better KL at an equal time on eight schools, BENCHMARKS.md.)
        noise_dim: size of the noise; `event_size` by default.
        hidden_units: hidden sizes of the default sampler.
        adaptive_contrast: whether to use Adaptive Contrast.
        adversary_steps: `None` for simultaneous updates of both players, or
            `k >= 1` adversary updates (each on fresh samples) per sampler
            update.
        batch_size: samples drawn per step (>= 2; AC uses batch moments).
        reference_scale: standard deviation `s` of the fixed reference
            without AC.
        contrast_epsilon: added to the batch variance in AC.
        covariance: `"full"` (default): AC's reference r is the Gaussian
            with the batch's mean and full covariance, and the adversary
            sees the whitened samples, so it need not learn their linear
            correlations (on eight schools, KL(q || p) 0.20 against 0.27 for
            `"diagonal"` at an equal budget, BENCHMARKS.md). The covariance
            is factorised once per step, O(event_size^3); `"diagonal"` uses
            the batch variances only.
        seed: seed of the model's noise.

    Example:

    >>> import keras, keras_avb, numpy as np
    >>> def log_prob(z):  # N((1, -1), I) up to a constant
    ...     mode = keras.ops.convert_to_tensor([1.0, -1.0])
    ...     return -0.5 * keras.ops.sum(keras.ops.square(z - mode), axis=-1)
    >>> model = PosteriorSampler(log_prob, 2, hidden_units=(16,),
    ...     adversary=keras_avb.layers.ResidualAdversary(16, 1, name="adversary"),
    ...     batch_size=32, seed=0)
    >>> model.compile()
    >>> _ = model.fit(np.zeros((4, 1)), batch_size=1, verbose=0)
    >>> model.sample(10).shape
    (10, 2)
    """

    METRIC_NAMES = (
        "loss",
        "adversary_loss",
        "adversary_accuracy_posterior",
        "adversary_accuracy_prior",
    )
    PLAYER = SAMPLER
    DEFAULT_LEARNING_RATES = (1e-4, 2e-4)
    LOSS_METRICS = {SAMPLER: "loss", ADVERSARY: "adversary_loss"}
    ACCURACY_METRICS = ("adversary_accuracy_posterior", "adversary_accuracy_prior")

    def __init__(
        self,
        target_log_prob_fn,
        event_size,
        sampler=None,
        adversary=None,
        noise_dim=None,
        hidden_units=(128, 128),
        adaptive_contrast=True,
        adversary_steps=2,
        batch_size=512,
        reference_scale=1.0,
        contrast_epsilon=1e-4,
        covariance="full",
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not callable(target_log_prob_fn):
            raise ValueError(
                f"`target_log_prob_fn` must be callable. Received: {target_log_prob_fn!r}"
            )
        check_adversary_steps(adversary_steps)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 2:
            raise ValueError(
                f"`batch_size` must be an integer >= 2. Received: {batch_size!r}"
            )
        if not float(reference_scale) > 0:
            raise ValueError(
                f"`reference_scale` must be > 0. Received: {reference_scale!r}"
            )
        self.target_log_prob_fn = target_log_prob_fn
        self.event_size = int(event_size)
        self.noise_dim = int(noise_dim) if noise_dim is not None else self.event_size
        if self.noise_dim < 1:
            raise ValueError(f"`noise_dim` must be >= 1. Received: {noise_dim!r}")
        self.sampler = sampler or default_sampler(
            self.noise_dim, self.event_size, hidden_units
        )
        self.adaptive_contrast = bool(adaptive_contrast)
        self.adversary = adversary or ResidualAdversary(
            128, 3, add_squared_norm=not self.adaptive_contrast, name="adversary"
        )
        validation.check_callable(self.sampler, "sampler")
        validation.check_callable(self.adversary, "adversary")
        validation.check_choice(covariance, "covariance", ("diagonal", "full"))
        self.covariance = covariance
        self.adversary_steps = check_adversary_steps(adversary_steps)
        self.batch_size = batch_size
        self.reference_scale = float(reference_scale)
        self.contrast = AdaptiveContrast(float(contrast_epsilon), name="adaptive_contrast")
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.trackers = [keras.metrics.Mean(name=name) for name in self.METRIC_NAMES]
        self.build(None)

    # ------------------------------------------------------------------
    # Building
    # ------------------------------------------------------------------
    def build(self, input_shape=None):
        """Builds the networks; the shape of the (ignored) data does not matter."""
        eps = keras.KerasTensor((None, self.noise_dim))
        z = validation.call_network(
            self.sampler, eps,
            f"The sampler does not accept noise of shape (batch, {self.noise_dim})",
        )
        if tuple(z.shape[1:]) != (self.event_size,):
            raise ValueError(
                f"The sampler must return samples of shape (batch, "
                f"{self.event_size}); it returns {tuple(z.shape)}."
            )
        self.contrast([z, z, z])
        self.build_adversary(keras.KerasTensor((None, 0)), z, "an empty x")
        self.built = True

    def fit(self, *args, callbacks=None, **kwargs):
        """`keras.Model.fit` with a default `TrainingMonitor` (see `AVB.fit`)."""
        return super().fit(
            *args, callbacks=health.with_training_monitor(callbacks), **kwargs
        )

    def call(self, noise, training=False):
        """Maps noise of shape `(batch, noise_dim)` to samples."""
        return self.sampler(noise, training=training)

    def sample(self, num_samples, seed=None):
        """Draws `num_samples` samples of the fitted distribution (NumPy array).

        Args:
            num_samples: how many samples; any number.
            seed: an int or `keras.random.SeedGenerator`; the model's own
                generator by default.
        """
        num_samples = validation.check_int(num_samples, "num_samples", minimum=1)
        seed = self.seed_generator if seed is None else seed
        eps = keras.random.normal((num_samples, self.noise_dim), seed=seed)
        return keras.ops.convert_to_numpy(self.sampler(eps, training=False))

    # ------------------------------------------------------------------
    # The objective
    # ------------------------------------------------------------------
    def _batch_moments(self, z):
        """The batch mean and (co)variance, broadcast to one per sample."""
        mean = ops.mean(z, axis=0, keepdims=True)
        if self.covariance == "diagonal":
            variance = ops.var(z, axis=0, keepdims=True)
            return ops.broadcast_to(mean, ops.shape(z)), ops.broadcast_to(
                variance, ops.shape(z)
            )
        centred = z - mean
        covariance = ops.matmul(ops.transpose(centred), centred) / ops.cast(
            ops.shape(z)[0], z.dtype
        )
        # Shape (1, d, d): `AdaptiveContrast` factorises it once for the batch.
        return ops.broadcast_to(mean, ops.shape(z)), covariance[None]

    def draw_reference(self, batch_size):
        """`batch_size` codes from the adversary's reference, N(0, I)."""
        return keras.random.normal((batch_size, self.event_size), seed=self.seed_generator)

    def compute_losses(self, x, players, training):
        """Both players' losses and metric values (`keras.ops` only).

        `x` is ignored; `batch_size` fresh samples are drawn. The sampler's
        loss (`loss` in the logs) estimates KL(q || p) minus the target's
        log-normaliser, i.e. minus the ELBO.
        """
        del x
        batch = self.batch_size
        eps = keras.random.normal((batch, self.noise_dim), seed=self.seed_generator)
        z = ops.cast(self.sampler(eps, training=training), "float32")
        if self.adaptive_contrast:
            z_posterior, log_r = self.contrast([z, *self._batch_moments(z)])
        else:
            # r = N(0, s^2 I); the adversary sees z / s against N(0, I), so
            # that a standard-normal log-prior trick applies at any scale s.
            z_posterior = z / self.reference_scale
            log_r = gaussian_log_prob(z, 0.0, self.reference_scale**2)
        empty = ops.zeros((batch, 0), dtype="float32")
        t_posterior, losses, values = adversary_terms(
            self.adversary, empty, z_posterior, self.draw_reference, players, training
        )
        if SAMPLER in players:
            log_p = ops.reshape(ops.cast(self.target_log_prob_fn(z), "float32"), (-1,))
            loss = ops.mean(t_posterior + log_r - log_p)
            losses[SAMPLER] = loss
            values["loss"] = loss
        return losses, values
