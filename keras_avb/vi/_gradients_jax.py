"""Value and gradient of a log-density under the JAX backend."""

import jax
import jax.numpy as jnp
import numpy as np


def value_and_grad(log_prob_fn):
    """Returns `f(z) -> (log_prob, grad)` on NumPy `(batch, d)` arrays."""

    def total(z):
        value = jnp.reshape(log_prob_fn(z).astype(jnp.float32), (-1,))
        return jnp.sum(value), value

    compiled = jax.jit(jax.value_and_grad(total, has_aux=True))

    def compute(z):
        (_, value), grad = compiled(jnp.asarray(z, jnp.float32))
        return np.asarray(value, "float64"), np.asarray(grad, "float64")

    return compute
