"""A linear-Gaussian latent-variable model whose log p(x) is known exactly.

z ~ N(0, I_d) and x = W z + b + noise with noise ~ N(0, sigma^2 I_D). Then
x ~ N(b, W W^T + sigma^2 I) and the posterior is Gaussian with covariance
(I + W^T W / sigma^2)^-1, which makes it a reference for the log-likelihood
estimators.
"""

from typing import NamedTuple

import keras
import numpy as np

from keras_avb.distributions.gaussian import LOG_2PI


class LinearGaussianProblem(NamedTuple):
    """A decoder, data and the exact answers; see `linear_gaussian_problem`."""

    decoder: keras.Model
    x: np.ndarray
    log_likelihood: np.ndarray
    posterior_mean: np.ndarray
    posterior_variance: np.ndarray
    scale: float


def linear_gaussian_problem(
    num_examples=20, latent_dim=2, data_dim=5, scale=0.5, seed=0
):
    """A random linear-Gaussian model, data drawn from it and exact log p(x).

    Args:
        num_examples: rows of data.
        latent_dim: d, the size of z.
        data_dim: D, the size of x.
        scale: sigma, the noise standard deviation (the `Gaussian(scale)`
            likelihood of the decoder).
        seed: seed of the NumPy generator of W, b and the data.

    Returns:
        A `LinearGaussianProblem`: a `Dense` decoder computing `W z + b`, the
        data `x` (float32), the exact `log_likelihood` per example, and the
        exact posterior's mean and the diagonal of its covariance (float32,
        shape `(num_examples, latent_dim)`).

    Example:

    >>> problem = linear_gaussian_problem(num_examples=3)
    >>> problem.x.shape, problem.log_likelihood.shape, problem.posterior_mean.shape
    ((3, 5), (3,), (3, 2))
    """
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=(data_dim, latent_dim))
    bias = rng.normal(size=(data_dim,))
    z = rng.normal(size=(num_examples, latent_dim))
    x = z @ weights.T + bias + scale * rng.normal(size=(num_examples, data_dim))
    x = x.astype("float32")
    decoder = keras.Sequential(
        [keras.Input((latent_dim,)), keras.layers.Dense(data_dim)],
        name="linear_gaussian_decoder",
    )
    decoder.layers[-1].set_weights(
        [weights.T.astype("float32"), bias.astype("float32")]
    )
    # Exact values in float64 from the float32 parameters the decoder uses.
    weights = weights.astype("float32").astype("float64")
    bias = bias.astype("float32").astype("float64")
    diff = x.astype("float64") - bias
    covariance = weights @ weights.T + scale**2 * np.eye(data_dim)
    _, log_det = np.linalg.slogdet(covariance)
    mahalanobis = np.einsum("ni,ij,nj->n", diff, np.linalg.inv(covariance), diff)
    log_likelihood = -0.5 * (mahalanobis + log_det + data_dim * LOG_2PI)
    posterior_cov = np.linalg.inv(np.eye(latent_dim) + weights.T @ weights / scale**2)
    posterior_mean = diff @ weights @ posterior_cov / scale**2
    posterior_variance = np.tile(np.diag(posterior_cov), (num_examples, 1))
    return LinearGaussianProblem(
        decoder=decoder,
        x=x,
        log_likelihood=log_likelihood,
        posterior_mean=posterior_mean.astype("float32"),
        posterior_variance=posterior_variance.astype("float32"),
        scale=float(scale),
    )
