"""JAX: `jax.grad`, `jax.jit`, TFP's JAX substrate."""

import jax
import jax.numpy as jnp

from keras_avb.backend.common import draw_per_example  # noqa: F401


#: dtype of the `(2,)` seed tensors TFP takes (JAX keys are uint32 pairs).
TFP_SEED_DTYPE = "uint32"

#: TFP's JAX substrate, imported by `keras_avb.backend.tfp()`.
TFP_MODULE = "tensorflow_probability.substrates.jax"


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


def jit(fn, xla=False):
    """`jax.jit(fn)` (always XLA; `xla` is for TensorFlow's sake).

    Example:

    >>> float(jit(lambda a: a + 1)(1.0))
    2.0
    """
    return jax.jit(fn)


def players_trainer():
    """The class whose `train_step` runs the players' updates on this backend."""
    from keras_avb.trainers.jax_trainer import JAXPlayersTrainer

    return JAXPlayersTrainer
