"""Input checks that run before any training or evaluation work starts.

Every public entry point of keras_avb (the models' `fit`, `evaluate`,
`predict`, `encode`, `decode` and `sample`; `keras_avb.vi.fit_posterior`;
the evaluators; the exporters) calls these checks first. Each raises
`ValueError` with a message that names the argument and the problem (wrong
values, wrong shapes and wrong dtypes alike, as Keras does); the library's
existing `TypeError` for unexpected keyword arguments is kept.

Data that is an array is checked whole (in chunks, so the check adds no
copy of the data); for a `tf.data.Dataset`, a PyTorch `DataLoader` or a
`keras.utils.PyDataset` the first batch is checked.

The models are unsupervised and take one input, the data: a tuple or list
of arrays given as `x` (which Keras reads as several inputs) is rejected,
and labels (`y`, `sample_weight`, the second element of `validation_data`
or of a data set's batches) are ignored with a `UserWarning`.

What data is accepted: real numbers of any dtype. Integer and boolean
arrays are accepted and cast to the model's float dtype (so `uint8` 0/1
images work; `uint8` 0..255 images fail the Bernoulli check, which says
to binarize them). Complex numbers, strings, object arrays and nested
Python lists are rejected, as are NaN/inf, float64 values beyond the
float32 range (they would become inf), empty data and data without a
batch axis.
"""

import math
import numbers
import os
import sys
import warnings

import keras
import numpy as np

from keras_avb.utils.shapes import flat_size

#: Elements checked at a time, so that a check never allocates a temporary
#: the size of the data.
_CHUNK_ELEMENTS = 1 << 20
_FLOAT32_MAX = float(np.finfo("float32").max)


# ----------------------------------------------------------------------
# Scalars: counts, sizes, rates
# ----------------------------------------------------------------------
def _is_int(value):
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_int(value, name, minimum=None, maximum=None, allow_none=False):
    """Returns `value` as an `int`, or raises `ValueError` naming `name`.

    Floats (even `2.0`), bools and strings are rejected: a count given as
    `2.5` or `"2"` is more likely a mistake than something to round.

    Example:

    >>> check_int(3, "num_chains", minimum=1)
    3
    >>> check_int(0, "num_chains", minimum=1)
    Traceback (most recent call last):
    ...
    ValueError: `num_chains` must be an integer >= 1. Received: 0
    """
    if value is None and allow_none:
        return None
    bounds = _bounds_text(minimum, maximum)
    none_text = " or None" if allow_none else ""
    if not _is_int(value):
        raise ValueError(
            f"`{name}` must be an integer{bounds}{none_text}. Received: {value!r} "
            f"(of type {type(value).__name__})"
        )
    if (minimum is not None and value < minimum) or (
        maximum is not None and value > maximum
    ):
        raise ValueError(
            f"`{name}` must be an integer{bounds}{none_text}. Received: {value!r}"
        )
    return int(value)


def _bounds_text(minimum, maximum):
    if minimum is not None and maximum is not None:
        return f" in [{minimum}, {maximum}]"
    if minimum is not None:
        return f" >= {minimum}"
    if maximum is not None:
        return f" <= {maximum}"
    return ""


def check_float(
    value, name, minimum=None, maximum=None, exclusive=False, allow_none=False
):
    """Returns `value` as a finite `float`, or raises `ValueError` naming `name`.

    Args:
        minimum, maximum: the allowed range.
        exclusive: whether the bounds themselves are excluded.

    Example:

    >>> check_float(0.5, "step_size", minimum=0.0, exclusive=True)
    0.5
    >>> check_float(float("nan"), "step_size", minimum=0.0, exclusive=True)
    Traceback (most recent call last):
    ...
    ValueError: `step_size` must be a finite number > 0.0. Received: nan
    """
    if value is None and allow_none:
        return None
    low, high = (">", "<") if exclusive else (">=", "<=")
    parts = []
    if minimum is not None:
        parts.append(f"{low} {minimum}")
    if maximum is not None:
        parts.append(f"{high} {maximum}")
    wanted = f"`{name}` must be a finite number{' ' if parts else ''}{' and '.join(parts)}"
    if allow_none:
        wanted += " or None"
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (numbers.Real, np.floating, np.integer)
    ):
        raise ValueError(
            f"{wanted}. Received: {value!r} (of type {type(value).__name__})"
        )
    value = float(value)
    bad = not math.isfinite(value)
    if minimum is not None:
        bad = bad or (value <= minimum if exclusive else value < minimum)
    if maximum is not None:
        bad = bad or (value >= maximum if exclusive else value > maximum)
    if bad:
        raise ValueError(f"{wanted}. Received: {value!r}")
    return value


def check_choice(value, name, choices):
    """Returns `value` if it is one of `choices`, or raises `ValueError` naming `name`.

    The choices are strings, and may include None (an option's "off").

    Example:

    >>> check_choice("ais", "method", ("ais", "importance"))
    'ais'
    >>> check_choice("nuts", "method", ("ais", "importance"))
    Traceback (most recent call last):
    ...
    ValueError: `method` must be one of ('ais', 'importance'). Received: 'nuts'
    """
    choices = tuple(choices)
    if not any(
        value is choice or (isinstance(value, str) and value == choice)
        for choice in choices
    ):
        raise ValueError(f"`{name}` must be one of {choices}. Received: {value!r}")
    return value


def check_seed(seed, name="seed"):
    """`None`, an integer >= 0 or a `keras.random.SeedGenerator`; returned as is."""
    if seed is None or isinstance(seed, keras.random.SeedGenerator):
        return seed
    if not _is_int(seed) or seed < 0:
        raise ValueError(
            f"`{name}` must be None, an integer >= 0 or a "
            f"`keras.random.SeedGenerator`. Received: {seed!r}"
        )
    return int(seed)


def check_callable(value, name, what="a Keras layer or model"):
    """Raises `ValueError` unless `value` is callable."""
    if not callable(value):
        raise ValueError(f"`{name}` must be {what}. Received: {value!r}")
    return value


# ----------------------------------------------------------------------
# Arrays
# ----------------------------------------------------------------------
def _is_array_like(data):
    if isinstance(data, np.ndarray):
        return True
    module = type(data).__module__
    return hasattr(data, "shape") and hasattr(data, "dtype") and (
        module.startswith(("tensorflow", "jax", "jaxlib", "torch", "keras"))
    )


def _to_numpy(data):
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


def _check_shape(array, name, data_shape):
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
        array = _to_numpy(x) if _is_array_like(x) else np.asarray(x)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            f"`{name}` must be an array of numbers; converting it failed: {error}"
        ) from error
    check_dtype(array, name)
    _check_shape(array, name, data_shape)
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


# ----------------------------------------------------------------------
# Data given to `fit` and `evaluate`
# ----------------------------------------------------------------------
def peek_batch(data):
    """The first batch of a data set as it yields it, or `None` if it can't be peeked.

    Peeks a `tf.data.Dataset`, a PyTorch `DataLoader` or a
    `keras.utils.PyDataset`; returns `None` for anything else (a Python
    generator is not consumed). Raises `ValueError` for an empty data set.
    """
    module = type(data).__module__
    try:
        if module.startswith("tensorflow") and hasattr(data, "take"):
            return next(iter(data.take(1)))
        if module.startswith("torch.utils.data"):
            return next(iter(data))
        if _is_py_dataset(data):
            if data.num_batches == 0:
                raise StopIteration
            return data[0]
    except StopIteration:
        raise ValueError("The data set is empty: it yields no batch.") from None
    return None


def _is_py_dataset(data):
    return hasattr(data, "__getitem__") and hasattr(data, "num_batches")


def _x_of(batch):
    """The `x` of a batch `x`, `(x,)` or `(x, y, ...)`; `None` for a dict."""
    if batch is None or isinstance(batch, dict):
        return None
    if isinstance(batch, (tuple, list)):
        return batch[0]
    return batch


def has_labels(batch):
    """Whether a batch `(x, y, ...)` carries labels or sample weights.

    Example:

    >>> has_labels((np.zeros((2, 4)), np.zeros(2))), has_labels((np.zeros((2, 4)),))
    (True, False)
    """
    return isinstance(batch, (tuple, list)) and any(
        part is not None for part in batch[1:]
    )


def first_batch(data):
    """The `x` of the first batch of a dataset, or `None` if it can't be peeked."""
    return _x_of(peek_batch(data))


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _stacklevel_outside_package():
    """The `stacklevel` that attributes a warning to the first caller outside keras_avb."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def warn_ignored(what, model_name):
    """Warns (`UserWarning`) that `what` is ignored by an unsupervised model.

    The warning is attributed to the caller's line outside keras_avb, so
    Python's default filter shows it once for each line of user code.
    """
    warnings.warn(
        f"{what} ignored: {model_name} is unsupervised and learns from the data "
        "`x` alone (labels and sample weights are not used).",
        UserWarning,
        stacklevel=_stacklevel_outside_package(),
    )


def check_one_input(x, name="x", method="fit"):
    """Raises `ValueError` if `x` is a tuple or list of arrays or data sets.

    Keras reads a tuple or list `x` as several model inputs, so `fit((x, y))`
    would fail inside Keras with an unrelated error; keras_avb models take
    one input, the data. (Nested Python lists of numbers are named by
    `check_data`.)

    Example:

    >>> check_one_input(np.zeros((2, 4)))
    >>> check_one_input((np.zeros((2, 4)), np.zeros(2)))
    Traceback (most recent call last):
    ...
    ValueError: `x` is a tuple of 2 elements, which Keras reads as 2 model inputs, ...
    """
    if not isinstance(x, (tuple, list)) or not x:
        return
    if isinstance(x[0], (tuple, list, numbers.Number)):
        return
    kind, count = type(x).__name__, len(x)
    if count == 1:
        raise ValueError(
            f"`{name}` is a {kind} of 1 element; keras_avb models take the data "
            f"array (or data set) itself: pass `model.{method}({name}[0])`."
        )
    raise ValueError(
        f"`{name}` is a {kind} of {count} elements, which Keras reads as "
        f"{count} model inputs, but keras_avb models take one input, the data. "
        f"If it is `(data, labels)`, pass the data alone: `model.{method}(data)` "
        "(the models are unsupervised; labels are not used)."
    )


def _unwrap(data, name):
    """The `x` part of `data`: `x`, `(x,)`, `(x, y)` or `(x, y, weights)`."""
    if isinstance(data, (str, bytes)):
        raise ValueError(
            f"`{name}` is a string ({data!r}); pass the data itself (an array "
            "or a data set), not a file name: load it first."
        )
    if isinstance(data, numbers.Number):
        raise ValueError(
            f"`{name}` must be an array of shape (num_examples, ...) or a data "
            f"set. Received the number {data!r}."
        )
    if isinstance(data, dict):
        raise ValueError(
            f"`{name}` is a dict; keras_avb models take one input, an array "
            "of examples (or a data set yielding such batches)."
        )
    if isinstance(data, (tuple, list)):
        if not len(data):
            raise ValueError(f"`{name}` is an empty {type(data).__name__}.")
        if isinstance(data[0], (tuple, list, numbers.Number)):
            inner = data[0] if isinstance(data[0], (tuple, list)) else data
            raise ValueError(
                f"`{name}` is a nested Python {type(inner).__name__}; pass a "
                "NumPy array, e.g. `np.asarray(x, dtype='float32')`."
            )
        return data[0]
    return data


def check_data(
    data,
    *,
    data_shape=None,
    likelihood=None,
    name="x",
    whole=True,
    model_name=None,
):
    """Checks data for training or evaluation and returns it unchanged.

    Args:
        data: an array, an `(x,)`/`(x, y)` tuple or a data set.
        data_shape: the shape of one example the model expects, if known.
        likelihood: a `keras_avb.distributions.Likelihood` whose `validate`
            checks the values (for example binary data for Bernoulli).
        name: the argument's name, used in messages.
        model_name: if given, labels in `data` (the second element of an
            `(x, y)` tuple, or of a data set's first batch) are warned about
            as ignored by that model.
    """
    del whole
    if data is None:
        raise ValueError(f"`{name}` is None: pass the data.")
    x = _unwrap(data, name)
    label = name
    if isinstance(data, (tuple, list)) and has_labels(data):
        ignored = f"The labels in `{name}` (its elements after the first) are"
    else:
        ignored = None
    if not _is_array_like(x):
        batch = peek_batch(x)
        if has_labels(batch):
            ignored = f"The labels in the batches of `{name}` are"
        x = _x_of(batch)
        label = f"the first batch of `{name}`"
    if x is not None:
        array = _to_numpy(x)
        check_dtype(array, label)
        _check_shape(array, label, data_shape)
        check_values(array, label, likelihood)
    if ignored and model_name is not None:
        warn_ignored(ignored, model_name)
    return data


def num_examples(data):
    """The number of examples of array data (`x` or `(x, ...)`), else None."""
    if isinstance(data, (tuple, list)) and data:
        data = data[0]
    if _is_array_like(data) and len(data.shape):
        return int(data.shape[0])
    return None


def uses_batch_moments(model):
    """Whether the model's encoder estimates q's moments from batch statistics.

    True for an AVB encoder that contains a `keras_avb.layers.BasisNoiseEncoder`
    (its moments use the mean and variance of the basis vectors over the
    batch, which are 0 and degenerate for a batch of one example).
    """
    from keras_avb.layers.basis_noise_encoder import BasisNoiseEncoder

    encoder = getattr(model, "encoder", None)
    if encoder is None or not hasattr(encoder, "_flatten_layers"):
        return False
    return any(
        isinstance(layer, BasisNoiseEncoder)
        for layer in encoder._flatten_layers(include_self=True, recursive=True)
    )


_BATCH_MOMENTS_HINT = (
    "The encoder's BasisNoiseEncoder estimates the moments of q(z|x) from "
    "the batch, which needs 2 or more examples per batch"
)


def _better_batch_size(count, size):
    """The smallest batch size above `size` that leaves no last batch of one."""
    size += 1
    while size < count and count % size == 1:
        size += 1
    return size


def _check_batch_count(count, size, name, steps, described, fixes):
    """Raises if `count` examples in batches of `size` give a batch of one.

    `steps`: the most batches used (None: all), so a last batch of one that
    is never reached is not an error.
    """
    if size == 1 or count == 1:
        raise ValueError(
            f"`{name}` would be processed in batches of one example "
            f"({described}). {_BATCH_MOMENTS_HINT}: use a batch size >= 2."
        )
    batches = -(-count // size)
    if count % size == 1 and (steps is None or steps >= batches):
        raise ValueError(
            f"The last batch of `{name}` would hold one example ({described}). "
            f"{_BATCH_MOMENTS_HINT}: {fixes} (e.g. batch size "
            f"{_better_batch_size(count, size)}), or drop an example."
        )


def _torch_loader_batches(loader):
    """`(examples, batch_size, drop_last)` of a PyTorch `DataLoader`, or None.

    Read from its attributes without loading data. None when the loader
    has no fixed batch size (a custom `batch_sampler`) or its sampler no
    length (an `IterableDataset`).
    """
    batch_size = getattr(loader, "batch_size", None)
    if batch_size is None or not hasattr(loader, "sampler"):
        return None
    try:
        count = len(loader.sampler)
    except (TypeError, NotImplementedError):
        return None
    return int(count), int(batch_size), bool(getattr(loader, "drop_last", False))


def _batch_size_of(batch):
    x = _x_of(batch)
    shape = getattr(x, "shape", None)
    return int(shape[0]) if shape is not None and len(shape) else None


def _check_data_set_batches(data, name, steps):
    """The batch-of-one check for a data set, from what is cheap to know.

    - PyTorch `DataLoader`: from `batch_size`, the sampler's length and
      `drop_last` (every batch; no data is loaded);
    - `keras.utils.PyDataset` of known length: its first and last batches;
    - `tf.data.Dataset` and anything else: the first batch only (finding a
      data set's last batch would mean iterating over all of it).
    """
    if type(data).__module__.startswith("torch.utils.data"):
        info = _torch_loader_batches(data)
        if info is not None:
            count, size, drop_last = info
            if drop_last:
                count -= count % size
            if count:
                _check_batch_count(
                    count,
                    size,
                    name,
                    steps,
                    f"a DataLoader of {count} examples in batches of {size}, "
                    f"drop_last={drop_last}",
                    "pass `drop_last=True` to the DataLoader, or choose a batch "
                    "size that leaves a last batch of 2 or more",
                )
                return
    if _size_is_one(_batch_size_of(peek_batch(data))):
        raise ValueError(
            f"The first batch of `{name}` holds one example. "
            f"{_BATCH_MOMENTS_HINT}: batch the data set by 2 or more."
        )
    if _is_py_dataset(data):
        batches = data.num_batches
        if batches and batches > 1 and (steps is None or steps >= batches):
            if _size_is_one(_batch_size_of(data[batches - 1])):
                raise ValueError(
                    f"The last batch of `{name}` (batch {batches} of {batches}) "
                    f"holds one example. {_BATCH_MOMENTS_HINT}: make every "
                    "batch hold 2 or more examples."
                )


def _size_is_one(size):
    return size is not None and size == 1


def check_batch_moments_batch_size(model, data, batch_size, name, rows=None, steps=None):
    """Raises if a batch-moments encoder would see a batch of one example.

    Args:
        data: the data (arrays and PyTorch `DataLoader`s: every batch is
            known; a `PyDataset`: its first and last batches; other data
            sets: the first batch).
        batch_size: the batch size for array data (None: Keras' 32).
        rows: the number of examples used, if not all of `data` (after a
            validation split).
        steps: the most batches that will be drawn (`steps_per_epoch` times
            the epochs, or `steps`), or None for every batch: a last batch of
            one that is never reached is not an error.
    """
    if not uses_batch_moments(model):
        return
    count = num_examples(data) if rows is None else rows
    if count is None:
        if data is not None:
            _check_data_set_batches(_unwrap(data, name), name, steps)
        return
    size = 32 if batch_size is None else batch_size
    _check_batch_count(
        count,
        size,
        name,
        steps,
        f"{count} examples in batches of {size}",
        "choose a batch size that leaves a last batch of 2 or more",
    )


def check_fit_arguments(
    model,
    x,
    batch_size=None,
    epochs=1,
    validation_split=0.0,
    validation_data=None,
    **kwargs,
):
    """Checks `fit`'s arguments before Keras starts (see `check_data` too)."""
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"Call `model.compile()` before `model.fit()` ({type(model).__name__} "
            "has no optimizer yet)."
        )
    if getattr(model, "loss", None) is not None:
        # (Checked here, not in `compile`: a custom `compile` would stop Keras
        # from compiling the model when it is loaded.)
        raise ValueError(
            f"{type(model).__name__} computes its own loss (minus the ELBO); do "
            "not pass `loss` to `compile()`."
        )
    batch_size = check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    epochs = check_int(epochs, "epochs", minimum=1)
    initial_epoch = check_int(kwargs.get("initial_epoch", 0), "initial_epoch", minimum=0)
    if initial_epoch >= epochs:
        raise ValueError(
            f"`epochs` ({epochs}) must be greater than `initial_epoch` "
            f"({initial_epoch}): `epochs` is the index of the last epoch, so "
            "nothing would be trained."
        )
    split = check_float(validation_split, "validation_split", minimum=0.0, maximum=1.0)
    if split >= 1.0:
        raise ValueError(
            f"`validation_split` must be in [0, 1). Received: {validation_split!r}"
        )
    for key in ("steps_per_epoch", "validation_steps", "validation_batch_size"):
        check_int(kwargs.get(key), key, minimum=1, allow_none=True)
    freq = kwargs.get("validation_freq", 1)
    check_int(freq, "validation_freq", minimum=1)
    if split and validation_data is not None:
        raise ValueError(
            "Pass either `validation_split` or `validation_data`, not both."
        )
    rows = num_examples(x)
    if rows is not None and split:
        rows = int(math.ceil(rows * (1.0 - split)))
    steps = kwargs.get("steps_per_epoch")
    if steps is not None:
        steps *= epochs - initial_epoch
    check_batch_moments_batch_size(model, x, batch_size, "x", rows=rows, steps=steps)
    if validation_data is not None:
        check_batch_moments_batch_size(
            model,
            validation_data,
            kwargs.get("validation_batch_size") or batch_size,
            "validation_data",
            steps=kwargs.get("validation_steps"),
        )


def check_evaluate_arguments(model, x, args, kwargs):
    """Checks `evaluate`'s `batch_size` and `steps` (positional or keyword)."""
    batch_size = kwargs.get("batch_size", args[0] if args else None)
    batch_size = check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    steps = check_int(kwargs.get("steps"), "steps", minimum=1, allow_none=True)
    check_batch_moments_batch_size(model, x, batch_size, "x", steps=steps)


# ----------------------------------------------------------------------
# Decoders and evaluators
# ----------------------------------------------------------------------
def decoder_data_shape(decoder, likelihood, latent_dim, name="decoder"):
    """The shape of one example that `decoder` models, from a symbolic call.

    Raises `ValueError` if the decoder does not accept latent codes of size
    `latent_dim` or its output does not fit the likelihood. Returns None for
    a plain callable that cannot be called symbolically.
    """
    check_callable(decoder, name)
    z = keras.KerasTensor((None, int(latent_dim)))
    try:
        params = decoder(z)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        if not isinstance(decoder, keras.layers.Layer):
            return None
        raise ValueError(
            f"The {name} does not accept latent codes of size {latent_dim} "
            f"(the prior's or the initial distribution's latent size): {error}"
        ) from error
    shape = getattr(params, "shape", None)
    if shape is None or len(shape) < 2 or None in tuple(shape[1:]):
        return None
    per_entry = likelihood.params_per_entry
    if shape[-1] % per_entry:
        raise ValueError(
            f"The {name} outputs shape {tuple(shape[1:])} per example, but "
            f"{likelihood!r} needs {per_entry} values per data entry."
        )
    return tuple(shape[1:-1]) + (shape[-1] // per_entry,)


def check_evaluation_data(decoder, likelihood, latent_dim, x, name="x"):
    """Checks the data and the decoder of an evaluator (AIS, IS, quadrature).

    `x` must be a non-empty array of finite real numbers suited to the
    likelihood, whose examples have the shape the decoder models.
    Returns `x` as a NumPy array in its own dtype.
    """
    data_shape = decoder_data_shape(decoder, likelihood, latent_dim)
    if data_shape is not None and x is not None:
        shape = tuple(np.shape(x)[1:]) if hasattr(x, "shape") else None
        if shape is not None and len(np.shape(x)) >= 2 and shape != data_shape:
            raise ValueError(
                f"`{name}` has examples of shape {shape}, but the decoder "
                f"models examples of shape {data_shape} under {likelihood!r}."
            )
    return check_examples(x, name=name, data_shape=data_shape, likelihood=likelihood)


# ----------------------------------------------------------------------
# Files
# ----------------------------------------------------------------------
def check_output_path(path, name="path", directory=False):
    """Checks a path to write to; returns it as an absolute `str`.

    Args:
        directory: True if the output is a directory (a SavedModel): an
            existing file there is an error; False for a file (ONNX): an
            existing directory there, or a missing parent directory, is.
    """
    if isinstance(path, (bytes, bytearray)):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(
            f"`{name}` must be a non-empty path (str or os.PathLike). "
            f"Received: {path!r}"
        )
    path = os.path.abspath(os.fspath(path))
    if directory and os.path.isfile(path):
        raise ValueError(
            f"`{name}` ({path}) is an existing file; a SavedModel is a "
            "directory. Pass a new or existing directory path."
        )
    if not directory:
        if os.path.isdir(path):
            raise ValueError(
                f"`{name}` ({path}) is a directory; pass the file to write, "
                "e.g. 'decoder.onnx'."
            )
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise ValueError(
                f"The directory of `{name}` ({parent}) does not exist; create "
                "it first."
            )
    return path
