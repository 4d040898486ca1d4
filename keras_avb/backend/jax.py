"""JAX pieces of the evaluation code: gradients with `jax.grad`, `jax.jit`."""

import jax
import jax.numpy as jnp


#: dtype of the `(2,)` seed tensors TFP takes (JAX keys are uint32 pairs).
TFP_SEED_DTYPE = "uint32"


def value_and_grad(fn):
    """`z -> (fn(z), d sum(fn(z)) / dz)` for a row-wise function `fn`.

    Example:

    >>> import jax.numpy as jnp
    >>> values, grads = value_and_grad(lambda z: jnp.sum(z ** 2, -1))(jnp.ones((1, 2)))
    >>> grads.tolist()
    [[2.0, 2.0]]
    """

    def summed(z):
        values = fn(z)
        return jnp.sum(values), values

    grad_fn = jax.grad(summed, has_aux=True)

    def wrapped(z):
        grads, values = grad_fn(z)
        return values, grads

    return wrapped


def jit(fn):
    """`jax.jit(fn)`.

    Example:

    >>> float(jit(lambda a: a + 1)(1.0))
    2.0
    """
    return jax.jit(fn)


def tfp():
    """TensorFlow Probability's JAX substrate, or None if TFP is not installed.

    Example:

    >>> tfp().mcmc.HamiltonianMonteCarlo.__name__
    'HamiltonianMonteCarlo'
    """
    try:
        from tensorflow_probability.substrates import jax as tfp_jax
    except ImportError:  # not installed (as on a GPU machine without TFP)
        return None
    return tfp_jax


def draw_per_example(sample, batch_size, batch_axis=0):
    """`sample(batch_size)`: one program runs the global batch under JAX's
    `keras.distribution.DataParallel`, so every replica's noise is already
    its own.

    Example:

    >>> import keras
    >>> seed = keras.random.SeedGenerator(0)
    >>> eps = draw_per_example(lambda n: keras.random.normal((n, 3), seed=seed), 4)
    >>> tuple(eps.shape)
    (4, 3)
    """
    return sample(batch_size)
