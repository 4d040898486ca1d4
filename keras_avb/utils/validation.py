"""Input checks that run before any training starts.

Each check raises `ValueError` with a message that names the problem. Data
that is an array is checked whole; for a `tf.data.Dataset`, a PyTorch
`DataLoader` or a `keras.utils.PyDataset` the first batch is checked.
"""

import numpy as np


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


def first_batch(data):
    """The `x` of the first batch of a dataset, or `None` if it can't be peeked."""
    module = type(data).__module__
    try:
        if module.startswith("tensorflow") and hasattr(data, "take"):
            batch = next(iter(data.take(1)))
        elif module.startswith("torch.utils.data"):
            batch = next(iter(data))
        elif hasattr(data, "__getitem__") and hasattr(data, "num_batches"):
            batch = data[0]  # keras.utils.PyDataset
        else:
            return None
    except StopIteration:
        raise ValueError("The data set is empty: it yields no batch.") from None
    if isinstance(batch, dict):
        return None
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    return batch


def check_data(data, *, data_shape=None, likelihood=None, name="x", whole=True):
    """Checks data for training or evaluation and returns it unchanged.

    Args:
        data: an array, an `(x,)`/`(x, y)` tuple or a data set.
        data_shape: the shape of one example the model expects, if known.
        likelihood: a `keras_avb.distributions.Likelihood` whose `validate`
            checks the values (for example binary data for Bernoulli).
        name: the argument's name, used in messages.
    """
    if data is None:
        raise ValueError(f"`{name}` is None: pass the data to train on.")
    x = data
    if isinstance(x, (tuple, list)) and len(x) and not isinstance(x[0], (int, float)):
        x = x[0]
    if not _is_array_like(x):
        batch = first_batch(x)
        if batch is None:
            return data
        x, name = batch, f"the first batch of `{name}`"
    array = _to_numpy(x)
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or array.dtype == bool
    ):
        raise ValueError(
            f"{_label(name)} must hold numbers, but has dtype {array.dtype}."
        )
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
    if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
        bad = int(np.sum(~np.isfinite(array)))
        raise ValueError(
            f"{_label(name)} contains {bad} NaN or infinite value(s); "
            "clean or impute the data before training."
        )
    if likelihood is not None:
        likelihood.validate(array, name=name)
    return data


def _label(name):
    return name if name.startswith("the ") else f"`{name}`"
