"""Value and gradient of a log-density under the TensorFlow backend."""

import numpy as np
import tensorflow as tf


def value_and_grad(log_prob_fn):
    """Returns `f(z) -> (log_prob, grad)` on NumPy `(batch, d)` arrays."""

    @tf.function(autograph=False, reduce_retracing=True)
    def _compute(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            value = tf.reshape(tf.cast(log_prob_fn(z), tf.float32), [-1])
            total = tf.reduce_sum(value)
        return value, tape.gradient(total, z)

    def compute(z):
        value, grad = _compute(tf.constant(z, tf.float32))
        return np.asarray(value, "float64"), np.asarray(grad, "float64")

    return compute
