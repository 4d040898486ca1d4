"""Shape arithmetic shared by the models and layers."""

import math


def flat_size(shape, owner="The model"):
    """The number of entries of an array of `shape`, which must be fully known.

    Pass the shape of one example (without the batch axis) to get the size
    of the example flattened. Raises `ValueError` naming `owner` if a
    dimension is None.

    Example:

    >>> flat_size((28, 28, 1))
    784
    >>> flat_size(())
    1
    >>> flat_size((None, 3), owner="The adversary")
    Traceback (most recent call last):
    ...
    ValueError: The adversary needs a fully known data shape; got (None, 3).
    """
    shape = tuple(shape)
    if None in shape:
        raise ValueError(f"{owner} needs a fully known data shape; got {shape}.")
    return math.prod(int(dim) for dim in shape)
