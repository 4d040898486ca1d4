"""A `TestCase` for the package's layers, built on Keras' own layer harness.

`keras.src.testing.TestCase.run_layer_test` checks a layer the way Keras
checks its own: config and serialization round trips, build, symbolic and
eager calls against the expected shapes and dtypes, a compiled training
step, and a `mixed_float16` call whose output dtypes must match
`compute_output_spec` and whose weights must stay float32. This subclass
runs that harness unchanged and adds a mixed-precision check on every
backend: Keras skips its own on PyTorch without CUDA, this one runs there
too (PyTorch supports float16 on CPU), and it also compares the
`mixed_float16` outputs with the float32 outputs of the same weights, to
half-precision tolerance, so that a layer computing a numerically
sensitive part in float16 (a Cholesky factor, a log-density) is caught.

Several inputs are given as a tuple of shapes or a tuple of arrays (the
training check feeds them through a generator, and TensorFlow's generator
dataset rejects a list).

Example:

>>> import keras
>>> from keras_avb.testing.layer_test_case import TestCase
>>> TestCase().run_layer_test(
...     keras.layers.Dense, {"units": 2}, input_shape=(3, 4),
...     expected_output_shape=(3, 2), expected_num_trainable_weights=2,
...     run_training_check=False)
"""

import keras
import numpy as np
from keras import ops
from keras.src.testing import TestCase as KerasTestCase

#: Relative tolerance of a float16 result against float32, as a fraction of
#: the largest float32 output (float16 keeps about 3 significant digits).
HALF_PRECISION_TOLERANCE = 1e-2


def _is_shape(value):
    return all(dim is None or isinstance(dim, int) for dim in value)


def _random_inputs(input_shape, input_dtype):
    """Inputs in [0, 3) of the given shape or shapes, as Keras' harness draws them."""
    rng = np.random.default_rng(0)

    def draw(shape, dtype):
        return ops.convert_to_tensor((3 * rng.random(shape)).astype(dtype))

    if _is_shape(input_shape):
        return draw(input_shape, input_dtype or "float32")
    input_dtype = input_dtype or ["float32"] * len(input_shape)
    return tuple(draw(shape, dtype) for shape, dtype in zip(input_shape, input_dtype))


class TestCase(KerasTestCase):
    """Keras' `TestCase` with the package's additions to `run_layer_test`."""

    def run_layer_test(
        self,
        layer_cls,
        init_kwargs,
        input_shape=None,
        input_dtype=None,
        input_data=None,
        run_mixed_precision_check=True,
        mixed_precision_tolerance=HALF_PRECISION_TOLERANCE,
        **kwargs,
    ):
        """Keras' `run_layer_test`, then a mixed-precision check on every backend.

        Takes the arguments of `keras.src.testing.TestCase.run_layer_test`
        and `mixed_precision_tolerance`, the largest difference allowed
        between the `mixed_float16` and float32 outputs, as a fraction of
        the largest float32 output.
        """
        super().run_layer_test(
            layer_cls,
            init_kwargs,
            input_shape=input_shape,
            input_dtype=input_dtype,
            input_data=input_data,
            run_mixed_precision_check=run_mixed_precision_check,
            **kwargs,
        )
        if run_mixed_precision_check:
            if input_data is None:
                input_data = _random_inputs(input_shape, input_dtype)
            self.run_mixed_precision_value_check(
                layer_cls, init_kwargs, input_data, mixed_precision_tolerance
            )

    def run_mixed_precision_value_check(
        self, layer_cls, init_kwargs, input_data, tolerance=HALF_PRECISION_TOLERANCE
    ):
        """The layer under `mixed_float16` against float32, same weights.

        Checks that every output has the dtype `compute_output_spec`
        promises, that every float weight is float32, and that every
        output is finite and within `tolerance * max|float32 output|` of
        the float32 output.
        """
        reference = layer_cls(**init_kwargs)
        expected = reference(input_data)
        layer = layer_cls(**{**init_kwargs, "dtype": "mixed_float16"})
        layer(input_data)  # builds it
        layer.set_weights(reference.get_weights())
        outputs = layer(input_data)
        specs = layer.compute_output_spec(
            keras.tree.map_structure(
                lambda x: keras.KerasTensor(
                    x.shape,
                    dtype=(
                        layer.compute_dtype
                        if "float" in keras.backend.standardize_dtype(x.dtype)
                        else x.dtype
                    ),
                ),
                input_data,
            )
        )
        for weight in layer.weights:
            self.assertEqual(keras.backend.standardize_dtype(weight.dtype), "float32")
        self.assertLen(keras.tree.flatten(outputs), len(keras.tree.flatten(specs)))
        for output, spec, reference_output in zip(
            keras.tree.flatten(outputs),
            keras.tree.flatten(specs),
            keras.tree.flatten(expected),
        ):
            self.assertEqual(
                keras.backend.standardize_dtype(output.dtype),
                spec.dtype,
                "mixed_float16 output dtype differs from compute_output_spec",
            )
            output = ops.convert_to_numpy(ops.cast(output, "float32"))
            reference_output = ops.convert_to_numpy(reference_output)
            self.assertTrue(np.all(np.isfinite(output)), "non-finite float16 output")
            scale = max(1.0, float(np.max(np.abs(reference_output))))
            self.assertAllClose(
                output,
                reference_output,
                atol=tolerance * scale,
                rtol=0.0,
                msg="mixed_float16 output differs from float32",
            )
