"""The importance-weighted lower bound on log p(x) that models report in evaluation.

With an explicit Gaussian proposal r(z|x) and K draws z_k ~ r(z|x),

    iw_bound(x) = log (1/K) sum_k p(x|z_k) p(z_k) / r(z_k|x)

has an expectation below log p(x) for any proposal (Jensen's inequality;
Burda et al., 2016), and tightens towards log p(x) as K grows or as r
approaches the posterior p(z|x). It involves only the decoder, the prior
and r, never an adversary, so it cannot be inflated by a weak adversary.

Example:

>>> import keras
>>> from keras import ops
>>> from keras_avb.distributions import Gaussian, StandardNormal
>>> from keras_avb.models.importance_bound import importance_weighted_bound
>>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
>>> bound = importance_weighted_bound(
...     decoder, Gaussian(1.0), StandardNormal(2), ops.zeros((4, 3)),
...     ops.zeros((4, 2)), ops.ones((4, 2)), num_samples=8,
...     seed=keras.random.SeedGenerator(0))
>>> tuple(bound.shape)
(4,)
"""

import math

import keras
from keras import ops

from keras_avb.distributions.gaussian import normal_log_prob
from keras_avb.backend import draw_per_example


def sample_gaussian(mean, variance, num_samples, seed):
    """Draws `num_samples` codes per example from N(mean, variance).

    Args:
        mean: `(batch, d)`.
        variance: `(batch, d)` (diagonal) or `(batch, d, d)` (a covariance
            matrix per example, used through its Cholesky factor).
        num_samples: K.
        seed: a `keras.random.SeedGenerator`.

    Returns:
        `(z, log_r)`: the codes, `(K, batch, d)`, and their log-density under
        the Gaussian, `(K, batch)`; both float32.
    """
    mean = ops.cast(mean, "float32")
    variance = ops.cast(variance, "float32")
    dim = mean.shape[-1]
    noise = draw_per_example(
        lambda n: keras.random.normal((num_samples, n, dim), seed=seed),
        ops.shape(mean)[0],
        batch_axis=1,
    )
    if len(variance.shape) == len(mean.shape) + 1:
        chol = ops.cholesky(variance)
        z = mean + ops.einsum("bij,kbj->kbi", chol, noise)
        log_det = 2.0 * ops.sum(
            ops.log(ops.diagonal(chol, axis1=-2, axis2=-1)), axis=-1
        )
    else:
        z = mean + ops.sqrt(variance) * noise
        log_det = ops.sum(ops.log(variance), axis=-1)
    return z, normal_log_prob(noise, log_det=log_det)


def importance_weighted_bound(
    decoder, likelihood, prior, x, mean, variance, num_samples, seed
):
    """`log (1/K) sum_k p(x|z_k) p(z_k) / r(z_k|x)` per example, z_k ~ r.

    The proposal r(z|x) is the Gaussian N(mean, variance). The K codes of
    every example go through the decoder in one call on `K * batch` rows.

    Args:
        decoder: maps codes `(n, d)` to the likelihood's parameters.
        likelihood: a `keras_avb.distributions.Likelihood`.
        prior: a `keras_avb.distributions.Prior`.
        x: a batch of data, `(batch, ...)`.
        mean, variance: the proposal, as in `sample_gaussian`.
        num_samples: K >= 1.
        seed: a `keras.random.SeedGenerator`.

    Returns:
        The bound per example, float32 of shape `(batch,)`.
    """
    z, log_r = sample_gaussian(mean, variance, num_samples, seed)
    batch_size = ops.shape(x)[0]
    codes = ops.reshape(z, (-1, z.shape[-1]))
    x = ops.convert_to_tensor(x)
    repeated = ops.tile(x, (num_samples,) + (1,) * (len(x.shape) - 1))
    params = ops.cast(decoder(codes, training=False), "float32")
    log_likelihood = ops.reshape(
        likelihood.log_prob(repeated, params), (num_samples, batch_size)
    )
    log_prior = ops.reshape(prior.log_prob(codes), (num_samples, batch_size))
    log_weights = log_likelihood + ops.cast(log_prior, "float32") - log_r
    return ops.logsumexp(log_weights, axis=0) - math.log(num_samples)
