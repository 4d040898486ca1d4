"""The backend-specific pieces besides the training step, chosen here, at import.

Evaluation (AIS, importance sampling), `keras_avb.vi`'s HMC and the TFP
priors use these; the two-player training steps have their own per-backend
modules in `keras_avb.trainers`. Each module exposes the same small API:

- `value_and_grad(fn)`: for `fn` mapping a batch of latent codes `z` of shape
  `(n, d)` to one value per row, returns a function `z -> (values, grads)`
  with `grads = d sum(fn(z)) / dz`, i.e. each row's gradient of its own value.
- `jit(fn, xla=False)`: `fn` compiled where the backend can (`jax.jit`,
  `tf.function`, by XLA there with `xla=True`), unchanged on PyTorch.
- `TFP_SEED_DTYPE`: the dtype of TFP's `(2,)` seed tensors.
- `TFP_MODULE`: the name of the backend's TFP substrate module, or None
  (PyTorch); `tfp()` imports it here, once for all backends.
- `players_trainer()`: the backend's training step for several players
  (`keras_avb.trainers`), imported on first use.
- `draw_per_example(sample, batch_size, batch_axis=0)`: per-example noise
  drawn inside a training step, `sample(batch_size)`, such that
  data-parallel replicas draw one global batch between them (sliced per
  replica under `tf.distribute`; nothing to do under JAX's
  `DataParallel`, one program over the global batch), so that a run on N
  devices matches one device on the same global batch.

Everything that uses them is written with `keras.ops`.

Example:

>>> from keras import ops
>>> from keras_avb import backend
>>> f = backend.value_and_grad(lambda z: ops.sum(z * z, axis=-1))
>>> values, grads = f(ops.ones((2, 3)))
>>> [float(v) for v in values], [float(g) for g in grads[0]]
([3.0, 3.0], [2.0, 2.0, 2.0])
"""

import importlib

import keras

_BACKEND = keras.backend.backend()
if _BACKEND not in ("jax", "tensorflow", "torch"):
    raise ImportError(
        "keras_avb supports the tensorflow, jax and torch backends; "
        f"the active Keras backend is '{_BACKEND}'."
    )
_impl = importlib.import_module(f"keras_avb.backend.{_BACKEND}")

TFP_MODULE = _impl.TFP_MODULE
TFP_SEED_DTYPE = _impl.TFP_SEED_DTYPE
draw_per_example = _impl.draw_per_example
jit = _impl.jit
players_trainer = _impl.players_trainer
value_and_grad = _impl.value_and_grad


def tfp():
    """The `tensorflow_probability` module of this backend's substrate.

    None where TFP has no substrate for the backend (PyTorch) or is not
    installed (as on a GPU machine without TFP).

    Example:

    >>> module = tfp()
    >>> module is None or module.mcmc.HamiltonianMonteCarlo.__name__ == "HamiltonianMonteCarlo"
    True
    """
    if TFP_MODULE is None:
        return None
    try:
        return importlib.import_module(TFP_MODULE)
    except ImportError:
        return None
