"""Gaussian variational inference (ADVI, Kucukelbir et al.): the baselines."""

import keras
import numpy as np
from keras import ops

from keras_avb.distributions.gaussian import LOG_2PI
from keras_avb.models.adversarial_game import TrackedMetrics
from keras_avb.trainers import PlayersTrainer
from keras_avb.utils import validation

VARIATIONAL = "variational"


class GaussianVI(TrackedMetrics, PlayersTrainer, keras.Model):
    """A Gaussian `q = N(loc, L L^T)` fitted by the reparameterised ELBO.

    The loss is `-E_q[log p~(z)] - H[q]`: a Monte Carlo average of the
    target over `batch_size` reparameterised samples `z = loc + L eps`, and
    the Gaussian's entropy in closed form, `sum(log diag L) + d/2 log(2 pi e)`.
    Mean-field (`full_rank=False`) takes a diagonal `L = diag(exp(s))`;
    full-rank takes a lower-triangular `L` with a positive (exponentiated)
    diagonal. The initial `q` is `N(0, I)`, as in Stan's ADVI.

    It has one player, trained by `keras_avb.trainers.PlayersTrainer`; the
    data given to `fit` is ignored apart from its number of batches.

    Args:
        target_log_prob_fn: maps `(batch, event_size)` to `(batch,)`
            unnormalised log-densities, written with `keras.ops`.
        event_size: the dimension d.
        full_rank: full covariance (True) or diagonal (False).
        batch_size: Monte Carlo samples per step.
        seed: seed of the model's noise.

    Example:

    >>> import keras, numpy as np
    >>> def log_prob(z):
    ...     return -0.5 * keras.ops.sum(keras.ops.square(z - 3.0), axis=-1)
    >>> model = GaussianVI(log_prob, 2, full_rank=True, batch_size=64, seed=0)
    >>> model.compile(keras.optimizers.Adam(0.05))
    >>> _ = model.fit(np.zeros((300, 1)), batch_size=1, verbose=0)
    >>> bool(np.allclose(model.mean, 3.0, atol=0.2))
    True
    """

    METRIC_NAMES = ("loss", "entropy")
    counts_own_iterations = False

    def __init__(self, target_log_prob_fn, event_size, full_rank=False, batch_size=512,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(target_log_prob_fn):
            raise ValueError(
                f"`target_log_prob_fn` must be callable. Received: {target_log_prob_fn!r}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"`batch_size` must be an integer >= 1. Received: {batch_size!r}")
        self.target_log_prob_fn = target_log_prob_fn
        self.event_size = int(event_size)
        self.full_rank = bool(full_rank)
        self.batch_size = batch_size
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.trackers = [keras.metrics.Mean(name=name) for name in self.METRIC_NAMES]
        self.build(None)

    def build(self, input_shape=None):
        d = self.event_size
        self.loc = self.add_weight(shape=(d,), initializer="zeros", name="loc")
        if self.full_rank:
            self.scale_params = self.add_weight(
                shape=(d, d), initializer="zeros", name="scale_tril_params"
            )
        else:
            self.scale_params = self.add_weight(
                shape=(d,), initializer="zeros", name="log_scale"
            )
        self.built = True

    def scale_tril(self):
        """The lower-triangular factor L of the covariance (a tensor)."""
        if self.full_rank:
            params = ops.convert_to_tensor(self.scale_params)
            diagonal = ops.exp(ops.diagonal(params))
            return ops.tril(params, -1) + ops.diag(diagonal)
        return ops.diag(ops.exp(ops.convert_to_tensor(self.scale_params)))

    def _log_diagonal(self):
        if self.full_rank:
            return ops.diagonal(ops.convert_to_tensor(self.scale_params))
        return ops.convert_to_tensor(self.scale_params)

    def _transform(self, eps):
        if self.full_rank:
            return self.loc + ops.matmul(eps, ops.transpose(self.scale_tril()))
        return self.loc + eps * ops.exp(self.scale_params)

    def entropy(self):
        """The entropy of q in nats (a tensor)."""
        return ops.sum(self._log_diagonal()) + 0.5 * self.event_size * (
            1.0 + LOG_2PI
        )

    @property
    def mean(self):
        """The mean of q (NumPy)."""
        return keras.ops.convert_to_numpy(self.loc)

    @property
    def covariance(self):
        """The covariance `L L^T` of q (NumPy)."""
        scale = keras.ops.convert_to_numpy(self.scale_tril())
        return scale @ scale.T

    def call(self, noise, training=False):
        """Maps standard normal noise `(batch, event_size)` to samples of q."""
        return self._transform(noise)

    def sample(self, num_samples, seed=None):
        """Draws `num_samples` samples of q (NumPy array)."""
        num_samples = validation.check_int(num_samples, "num_samples", minimum=1)
        seed = self.seed_generator if seed is None else seed
        eps = keras.random.normal((num_samples, self.event_size), seed=seed)
        return keras.ops.convert_to_numpy(self._transform(eps))

    def players(self):
        return {VARIATIONAL: (self.trainable_variables, self.optimizer)}

    update_schedule = ((VARIATIONAL,),)

    def compute_losses(self, x, players, training):
        """The negative ELBO up to the target's log-normaliser (`keras.ops`)."""
        del x, players, training
        eps = keras.random.normal(
            (self.batch_size, self.event_size), seed=self.seed_generator
        )
        z = self._transform(eps)
        log_p = ops.reshape(ops.cast(self.target_log_prob_fn(z), "float32"), (-1,))
        entropy = self.entropy()
        loss = -ops.mean(log_p) - entropy
        return {VARIATIONAL: loss}, {"loss": loss, "entropy": entropy}


def empirical_moments(samples):
    """Mean and covariance of a `(n, d)` array of samples (NumPy).

    Example:

    >>> m, c = empirical_moments(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> m.tolist()
    [1.0, 2.0]
    """
    samples = np.asarray(samples, dtype="float64")
    return samples.mean(axis=0), np.cov(samples, rowvar=False)
