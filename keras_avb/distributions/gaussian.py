"""The Gaussian log-density, written once for the whole package.

The standard-normal prior, the Gaussian likelihood, the VAE's q(z|x),
Adaptive Contrast's r(z|x), the importance-sampling and AIS proposals and
the VI reference all evaluate `normal_log_prob` on a whitened residual:
each caller computes the residual in the form it already has (moments,
log-variances or a Cholesky factor), so only the density itself is here.
"""

import math

from keras import ops

#: log(2 pi), the normalising constant of one standard-normal entry.
LOG_2PI = math.log(2.0 * math.pi)


def normal_log_prob(z_norm, log_variance=None, log_det=None):
    """log N(z; mean, covariance) per row, from the whitened residual (keras.ops).

    Args:
        z_norm: `(..., d)`: `(z - mean) / sqrt(variance)` for a diagonal
            Gaussian, or `L^-1 (z - mean)` for a covariance `L L^T`.
        log_variance: diagonal Gaussian: the log-variances, broadcastable
            to `z_norm`; None for unit variance (the standard normal).
        log_det: full covariance: `log det(L L^T)`, shape `(...)`; give it
            instead of `log_variance`.

    Returns:
        `(...)`: `-0.5 (|z_norm|^2 + sum(log_variance) + d log(2 pi))`, with
        `log_det` in place of `sum(log_variance)` when given.

    Example:

    >>> float(normal_log_prob(ops.zeros((1, 2)))[0])  # -log(2 pi)
    -1.837877...
    >>> float(normal_log_prob(ops.ones((1, 2)), log_det=ops.zeros((1,)))[0])
    -2.837877...
    """
    if log_det is not None:
        if log_variance is not None:
            raise ValueError("Give `log_variance` or `log_det`, not both.")
        dim = z_norm.shape[-1]
        return -0.5 * (ops.sum(ops.square(z_norm), axis=-1) + log_det + dim * LOG_2PI)
    if log_variance is None:
        return -0.5 * ops.sum(ops.square(z_norm) + LOG_2PI, axis=-1)
    return -0.5 * ops.sum(ops.square(z_norm) + log_variance + LOG_2PI, axis=-1)


def gaussian_log_prob(z, mean, variance):
    """log N(z; mean, diag(variance)), one value per row (keras.ops).

    `mean` and `variance` broadcast against `z` (numbers work too).

    Example:

    >>> float(gaussian_log_prob(ops.zeros((1, 2)), ops.zeros((1, 2)), ops.ones((1, 2)))[0])
    -1.837877...
    """
    variance = ops.convert_to_tensor(variance, dtype=z.dtype)
    return normal_log_prob((z - mean) / ops.sqrt(variance), ops.log(variance))
