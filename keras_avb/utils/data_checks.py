"""Checks of data given as arrays, before any work starts.

Data that is an array is checked whole (in chunks, so the check adds no
copy of the data). What is accepted: real numbers of any dtype. Integer
and boolean arrays are accepted and cast to the model's float dtype (so
`uint8` 0/1 images work; `uint8` 0..255 images fail the Bernoulli check,
which says to binarize them). Complex numbers, strings, object arrays and
nested Python lists are rejected, as are NaN/inf, float64 values beyond
the float32 range (they would become inf), empty data and data without a
batch axis. Each check raises `ValueError` naming the argument.
"""

import numbers

import keras
import numpy as np

from keras_avb.utils.shapes import flat_size

#: Elements checked at a time, so that a check never allocates a temporary
#: the size of the data.
_CHUNK_ELEMENTS = 1 << 20
_FLOAT32_MAX = float(np.finfo("float32").max)


def is_array_like(data):
    """Whether `data` is a NumPy array or a backend tensor (not a data set)."""
    if isinstance(data, np.ndarray):
        return True
    module = type(data).__module__
    return hasattr(data, "shape") and hasattr(data, "dtype") and (
        module.startswith(("tensorflow", "jax", "jaxlib", "torch", "keras"))
    )


def to_numpy(data):
    """`data` as a NumPy array (a view where it can be one)."""
    if isinstance(data, np.ndarray):
        return data
    if hasattr(data, "detach"):  # torch
        return data.detach().cpu().numpy()
    return np.asarray(data)


def is_concrete(x):
    """Whether `x` holds values now (not a symbolic or traced tensor)."""
    if x is None or isinstance(x, keras.KerasTensor):
        return False
    if isinstance(x, (np.ndarray, list, tuple, numbers.Number)):
        return True
    module = type(x).__module__
    if module.startswith("jax"):
        import jax

        return not isinstance(x, jax.core.Tracer)
    if module.startswith("tensorflow"):
        import tensorflow as tf

        return tf.executing_eagerly() and hasattr(x, "numpy")
    if module.startswith("torch"):
        return getattr(x, "device", None) is None or x.device.type != "meta"
    return hasattr(x, "__array__")


def _label(name):
    return name if name.startswith("the ") else f"`{name}`"


def _chunks(array):
    """Views of `array` of about `_CHUNK_ELEMENTS` elements each, along axis 0."""
    per_row = max(1, flat_size(array.shape[1:]))
    rows = max(1, _CHUNK_ELEMENTS // per_row)
    for start in range(0, array.shape[0], rows):
        yield array[start : start + rows]


def check_dtype(array, name):
    """Raises `ValueError` unless the NumPy `array` holds real numbers."""
    dtype = array.dtype
    if np.issubdtype(dtype, np.complexfloating):
        raise ValueError(
            f"{_label(name)} has the complex dtype {dtype}; keras_avb models "
            "real-valued data. Pass the real part (`x.real`) or split real and "
            "imaginary parts into features."
        )
    if dtype == object:
        raise ValueError(
            f"{_label(name)} must hold numbers, but has dtype object (a ragged "
            "array or mixed Python objects). Convert it with "
            "`np.asarray(x, dtype='float32')`."
        )
    if not (np.issubdtype(dtype, np.number) or dtype == bool):
        raise ValueError(
            f"{_label(name)} must hold numbers, but has dtype {dtype}."
        )


def check_values(array, name, likelihood=None):
    """Checks the values of the NumPy `array`, a chunk at a time.

    Raises `ValueError` for NaN/inf, for float64 values beyond the float32
    range and for values the `likelihood` cannot model (non-binary data for
    a Bernoulli likelihood).
    """
    floating = np.issubdtype(array.dtype, np.floating)
    wide = floating and np.finfo(array.dtype).bits > 32
    bad = 0
    too_large = False
    for chunk in _chunks(array):
        if floating:
            bad += int(chunk.size - np.count_nonzero(np.isfinite(chunk)))
            if wide and not bad and chunk.size:
                too_large = too_large or float(np.max(np.abs(chunk))) > _FLOAT32_MAX
    if bad:
        raise ValueError(
            f"{_label(name)} contains {bad} NaN or infinite value(s); "
            "clean or impute the data first."
        )
    if too_large:
        raise ValueError(
            f"{_label(name)} has values beyond the float32 range "
            f"(|x| > {_FLOAT32_MAX:.3g}), which become infinite when the model "
            "casts them; rescale the data."
        )
    if likelihood is not None:
        for chunk in _chunks(array):
            likelihood.validate(chunk, name=name)


def check_shape(array, name, data_shape):
    """Raises `ValueError` unless `array` has a batch axis and examples of `data_shape`."""
    if array.ndim < 2:
        raise ValueError(
            f"{_label(name)} must have a batch axis and at least one feature "
            f"axis, but has shape {array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(f"{_label(name)} is empty (shape {array.shape}).")
    if data_shape is not None and tuple(array.shape[1:]) != tuple(data_shape):
        raise ValueError(
            f"{_label(name)} has examples of shape {tuple(array.shape[1:])}, "
            f"but the model expects examples of shape {tuple(data_shape)}."
        )


def check_examples(x, name="x", data_shape=None, likelihood=None):
    """Checks an array of examples and returns it as a NumPy array.

    For the evaluators and the models' `encode`: `x` must be an array (NumPy
    or a backend tensor) of real numbers, shape `(num_examples,) +
    data_shape` with at least one example, finite, and suited to the
    `likelihood` if one is given. The dtype is kept (the callers cast).
    """
    if x is None:
        raise ValueError(f"`{name}` is None: pass an array of examples.")
    if isinstance(x, (str, bytes, dict)) or isinstance(x, numbers.Number):
        raise ValueError(
            f"`{name}` must be an array of shape (num_examples, ...). "
            f"Received a {type(x).__name__}."
        )
    try:
        array = to_numpy(x) if is_array_like(x) else np.asarray(x)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            f"`{name}` must be an array of numbers; converting it failed: {error}"
        ) from error
    check_dtype(array, name)
    check_shape(array, name, data_shape)
    check_values(array, name, likelihood)
    return array


def check_latent_codes(z, latent_dim, name="z"):
    """Checks latent codes `(n, latent_dim)` of real, finite numbers."""
    return check_examples(z, name=name, data_shape=(latent_dim,))


def check_gaussian(mean, variance, name):
    """Checks the mean and variance of a diagonal Gaussian (NumPy arrays)."""
    for part, label in ((mean, "mean"), (variance, "variance")):
        check_dtype(part, f"the {label} of `{name}`")
        check_values(part, f"the {label} of `{name}`")
    if not np.all(variance > 0):
        raise ValueError(f"The variances of `{name}` must be positive.")
