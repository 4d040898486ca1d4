"""Checks of the data and arguments given to a model's `fit` and `evaluate`.

For a `tf.data.Dataset`, a PyTorch `DataLoader` or a
`keras.utils.PyDataset` the first batch is checked; arrays are checked
whole (`keras_avb.utils.data_checks`). The models are unsupervised and take
one input, the data: a tuple or list of arrays given as `x` (which Keras
reads as several inputs) is rejected, and labels (`y`, `sample_weight`, the
second element of `validation_data` or of a data set's batches) are
ignored with a `UserWarning`. Each check raises `ValueError` naming the
argument and the problem, before any training starts.
"""

import math
import numbers
import os
import sys
import warnings

from keras_avb.utils import data_checks
from keras_avb.utils import validation


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

    >>> import numpy as np
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

    >>> import numpy as np
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
    if not data_checks.is_array_like(x):
        batch = peek_batch(x)
        if has_labels(batch):
            ignored = f"The labels in the batches of `{name}` are"
        x = _x_of(batch)
        label = f"the first batch of `{name}`"
    if x is not None:
        array = data_checks.to_numpy(x)
        data_checks.check_dtype(array, label)
        data_checks.check_shape(array, label, data_shape)
        data_checks.check_values(array, label, likelihood)
    if ignored and model_name is not None:
        warn_ignored(ignored, model_name)
    return data


def num_examples(data):
    """The number of examples of array data (`x` or `(x, ...)`), else None."""
    if isinstance(data, (tuple, list)) and data:
        data = data[0]
    if data_checks.is_array_like(data) and len(data.shape):
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
    batch_size = validation.check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    epochs = validation.check_int(epochs, "epochs", minimum=1)
    initial_epoch = validation.check_int(kwargs.get("initial_epoch", 0), "initial_epoch", minimum=0)
    if initial_epoch >= epochs:
        raise ValueError(
            f"`epochs` ({epochs}) must be greater than `initial_epoch` "
            f"({initial_epoch}): `epochs` is the index of the last epoch, so "
            "nothing would be trained."
        )
    split = validation.check_float(validation_split, "validation_split", minimum=0.0, maximum=1.0)
    if split >= 1.0:
        raise ValueError(
            f"`validation_split` must be in [0, 1). Received: {validation_split!r}"
        )
    for key in ("steps_per_epoch", "validation_steps", "validation_batch_size"):
        validation.check_int(kwargs.get(key), key, minimum=1, allow_none=True)
    freq = kwargs.get("validation_freq", 1)
    validation.check_int(freq, "validation_freq", minimum=1)
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
    batch_size = validation.check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    steps = validation.check_int(kwargs.get("steps"), "steps", minimum=1, allow_none=True)
    check_batch_moments_batch_size(model, x, batch_size, "x", steps=steps)
