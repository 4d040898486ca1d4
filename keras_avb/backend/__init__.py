"""The backend-specific pieces outside training, chosen here, at import.

Evaluation (AIS, importance sampling), `keras_avb.vi`'s HMC and the TFP
priors use these; the two-player training steps have their own per-backend
modules in `keras_avb.trainers`. Each module exposes the same small API:

- `value_and_grad(fn)`: for `fn` mapping a batch of latent codes `z` of shape
  `(n, d)` to one value per row, returns a function `z -> (values, grads)`
  with `grads = d sum(fn(z)) / dz`, i.e. each row's gradient of its own value.
- `jit(fn)`: `fn` compiled where the backend can (`jax.jit`, `tf.function`),
  unchanged on PyTorch.
- `TFP_SEED_DTYPE`: the dtype of TFP's `(2,)` seed tensors.
- `tfp()`: the `tensorflow_probability` module of the backend's substrate, or
  `None` where there is none (PyTorch).
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

import keras

_BACKEND = keras.backend.backend()

if _BACKEND == "jax":
    from keras_avb.backend.jax import TFP_SEED_DTYPE
    from keras_avb.backend.jax import draw_per_example
    from keras_avb.backend.jax import jit
    from keras_avb.backend.jax import tfp
    from keras_avb.backend.jax import value_and_grad
elif _BACKEND == "tensorflow":
    from keras_avb.backend.tensorflow import TFP_SEED_DTYPE
    from keras_avb.backend.tensorflow import draw_per_example
    from keras_avb.backend.tensorflow import jit
    from keras_avb.backend.tensorflow import tfp
    from keras_avb.backend.tensorflow import value_and_grad
elif _BACKEND == "torch":
    from keras_avb.backend.torch import TFP_SEED_DTYPE
    from keras_avb.backend.torch import draw_per_example
    from keras_avb.backend.torch import jit
    from keras_avb.backend.torch import tfp
    from keras_avb.backend.torch import value_and_grad
else:
    raise ImportError(
        "keras_avb supports the tensorflow, jax and torch backends; "
        f"the active Keras backend is '{_BACKEND}'."
    )
