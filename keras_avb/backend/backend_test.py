"""The active backend's module, through the one API `keras_avb.backend` exposes."""

import keras
import numpy as np
from keras import ops

from keras_avb import backend


def test_value_and_grad_gives_each_rows_gradient():
    # f(z) = sum(sin(z) * w) per row: d f / dz = cos(z) * w, row by row.
    w = ops.convert_to_tensor([1.0, -2.0, 0.5])
    z = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    values, grads = backend.value_and_grad(lambda v: ops.sum(ops.sin(v) * w, axis=-1))(
        ops.convert_to_tensor(z)
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(values), np.sum(np.sin(z) * [1.0, -2.0, 0.5], -1), rtol=1e-5
    )
    np.testing.assert_allclose(
        ops.convert_to_numpy(grads), np.cos(z) * [1.0, -2.0, 0.5], rtol=1e-5, atol=1e-6
    )


def test_jit_computes_what_the_function_computes():
    def f(a, b):
        return ops.matmul(a, b) + 1.0

    a, b = ops.ones((2, 3)), ops.ones((3, 2))
    for xla in (False, True):  # XLA on TensorFlow, ignored elsewhere
        np.testing.assert_allclose(
            ops.convert_to_numpy(backend.jit(f, xla=xla)(a, b)),
            ops.convert_to_numpy(f(a, b)),
        )


def test_tfp_substrate_matches_the_backend():
    module = backend.tfp()
    if keras.backend.backend() == "torch":
        assert module is None and backend.TFP_MODULE is None
    else:
        assert module is not None and module.__name__ == backend.TFP_MODULE
        assert backend.TFP_SEED_DTYPE in ("int32", "uint32")


def test_draw_per_example_outside_a_strategy_is_one_draw():
    seed = keras.random.SeedGenerator(3)
    calls = []

    def sample(n):
        calls.append(n)
        return keras.random.normal((2, n, 3), seed=seed)

    eps = backend.draw_per_example(sample, 5, batch_axis=1)
    assert calls == [5] and tuple(eps.shape) == (2, 5, 3)
