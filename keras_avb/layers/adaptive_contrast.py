import math

import keras
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)


@keras.saving.register_keras_serializable(package="keras_avb")
class AdaptiveContrast(keras.layers.Layer):
    """Adaptive Contrast normalisation (Mescheder et al. 2017, section 4).

    Given a posterior sample `z` with the mean `m(x)` and variance `v(x)` of
    q(z|x), returns the normalised sample `(z - m) / sqrt(v + epsilon)` and
    `log r(z|x)`, the log-density of the Gaussian r = N(m, v + epsilon).
    The moments are treated as constants for the gradient. The adversary
    then only has to learn KL(q~ || N(0, I)) of the normalised variable, and
    the per-example KL estimate is `T(x, z_norm) + log r(z|x) - log p(z)`.

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
    """

    def __init__(self, epsilon=1e-4, **kwargs):
        super().__init__(**kwargs)
        if epsilon < 0:
            raise ValueError(f"`epsilon` must be >= 0. Received: {epsilon}")
        self.epsilon = float(epsilon)

    def call(self, inputs):
        z, mean, variance = inputs
        mean = ops.stop_gradient(mean)
        variance = ops.stop_gradient(variance) + self.epsilon
        z_norm = (z - mean) * ops.rsqrt(variance)
        log_r = -0.5 * ops.sum(
            ops.square(z_norm) + ops.log(variance) + LOG_2PI, axis=-1
        )
        return z_norm, log_r

    def compute_output_shape(self, input_shape):
        z_shape = input_shape[0]
        return tuple(z_shape), tuple(z_shape[:-1])

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
