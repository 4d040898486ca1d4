import keras
from keras import ops

from keras_avb.distributions.gaussian import normal_log_prob
from keras_avb.layers._precision import precise_dtype


@keras.saving.register_keras_serializable(package="keras_avb")
class AdaptiveContrast(keras.layers.Layer):
    """Adaptive Contrast normalisation (Mescheder et al. 2017, section 4).

    Given a posterior sample `z` with the mean `m(x)` and variance `v(x)` of
    q(z|x), returns the normalised sample `(z - m) / sqrt(v + epsilon)` and
    `log r(z|x)`, the log-density of the Gaussian r = N(m, v + epsilon).
    The moments are treated as constants for the gradient. The adversary
    then only has to learn KL(q~ || N(0, I)) of the normalised variable, and
    the per-example KL estimate is `T(x, z_norm) + log r(z|x) - log p(z)`.

    Full covariance: when the third input is a covariance matrix per example,
    shape `(batch, d, d)` (e.g. from `BasisNoiseEncoder(covariance="full")`),
    r = N(m, C + epsilon I) and `z_norm = L^-1 (z - m)` with `L` its
    Cholesky factor, so the normalised code is white, not just standardised.
    A covariance of shape `(1, d, d)` is shared by the whole batch and
    factorised once (`keras_avb.vi.PosteriorSampler` uses the batch's
    covariance so).
    The Gaussian part of the KL, -0.5 log det of the correlation, then sits
    in the closed-form `log r` instead of in what the adversary must learn:
    with diagonal moments a posterior concentrated near a subspace keeps
    unit marginal variances but a nearly singular correlation, which a small
    adversary underestimates badly (BENCHMARKS.md, binarized MNIST).

    The layer has no weights. Under a float16 or bfloat16 dtype policy the
    normalisation, the Cholesky factorisation and `log r` are computed in
    float32 and the outputs cast back to the compute dtype.

    Args:
        epsilon: added to the variance; the same value is used in the
            normalisation and in `log r`, so `r` is exactly the Gaussian
            whose standardisation `z_norm` is.

    Example:

    >>> z = ops.ones((2, 3))
    >>> mean, var = ops.zeros((2, 3)), ops.ones((2, 3))
    >>> z_norm, log_r = AdaptiveContrast(epsilon=0.0)([z, mean, var])
    >>> tuple(z_norm.shape), tuple(log_r.shape)
    ((2, 3), (2,))
    >>> covariance = ops.tile(ops.expand_dims(ops.eye(3), 0), (2, 1, 1))
    >>> z_white, log_r_full = AdaptiveContrast(epsilon=0.0)([z, mean, covariance])
    >>> bool(ops.all(ops.isclose(log_r_full, log_r)))
    True
    """

    def __init__(self, epsilon=1e-4, **kwargs):
        super().__init__(**kwargs)
        if epsilon < 0:
            raise ValueError(f"`epsilon` must be >= 0. Received: {epsilon}")
        self.epsilon = float(epsilon)
        # No weights: built on instantiation, as Keras' own stateless layers
        # (`keras.layers.ELU`, `Softmax`) are; a subclass that overrides
        # `build` is left unbuilt.
        self._build_at_init()

    def call(self, inputs):
        z, mean, variance = inputs
        dtype = precise_dtype(self.compute_dtype)
        z, mean, variance = (ops.cast(t, dtype) for t in (z, mean, variance))
        if len(variance.shape) == len(z.shape) + 1:
            z_norm, log_r = self._full_covariance(z, mean, variance)
        else:
            z_norm, log_r = self._diagonal(z, mean, variance)
        return ops.cast(z_norm, self.compute_dtype), ops.cast(log_r, self.compute_dtype)

    def _diagonal(self, z, mean, variance):
        mean = ops.stop_gradient(mean)
        variance = ops.stop_gradient(variance) + self.epsilon
        z_norm = (z - mean) * ops.rsqrt(variance)
        return z_norm, normal_log_prob(z_norm, ops.log(variance))

    def _full_covariance(self, z, mean, covariance):
        dim = z.shape[-1]
        mean = ops.stop_gradient(mean)
        covariance = ops.stop_gradient(covariance) + self.epsilon * ops.eye(
            dim, dtype=covariance.dtype
        )
        if covariance.shape[0] == 1:
            # One covariance shared by the whole batch: factorise it once.
            chol = ops.cholesky(covariance[0])
            z_norm = ops.transpose(
                ops.solve_triangular(chol, ops.transpose(z - mean), lower=True)
            )
            log_det = 2.0 * ops.sum(ops.log(ops.diagonal(chol)))
        else:
            chol = ops.cholesky(covariance)
            residual = ops.expand_dims(z - mean, -1)
            z_norm = ops.squeeze(ops.solve_triangular(chol, residual, lower=True), -1)
            log_det = 2.0 * ops.sum(
                ops.log(ops.diagonal(chol, axis1=-2, axis2=-1)), axis=-1
            )
        return z_norm, normal_log_prob(z_norm, log_det=log_det)

    def compute_output_shape(self, input_shape):
        z_shape = input_shape[0]
        return tuple(z_shape), tuple(z_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
