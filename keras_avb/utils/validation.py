"""Argument checks that run before any training or evaluation work starts.

Every public entry point of keras_avb (the models' `fit`, `evaluate`,
`predict`, `encode`, `decode` and `sample`; `keras_avb.vi.fit_posterior`;
the evaluators; the exporters) checks its arguments first with these. Each
raises `ValueError` with a message that names the argument and the problem
(wrong values, wrong types alike, as Keras does); the library's existing
`TypeError` for unexpected keyword arguments is kept.

Data is checked beside what uses it: arrays in `keras_avb.utils.data_checks`,
the data given to `fit` and `evaluate` in `keras_avb.models.input_checks`,
an evaluator's data and decoder in `keras_avb.evaluation.data_checks`.
"""

import math
import numbers

import keras
import numpy as np


# ----------------------------------------------------------------------
# Scalars: counts, sizes, rates
# ----------------------------------------------------------------------
def is_int(value):
    """Whether `value` is an integer (a Python or NumPy one), not a bool."""
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
    if not is_int(value):
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
    if not is_int(seed) or seed < 0:
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


def call_network(network, inputs, description):
    """`network(inputs)` on symbolic inputs; a failure is a ValueError that says what.

    Models call their networks this way in `build()`, so that a network
    that does not fit the data is named before any training starts.

    Example:

    >>> import keras
    >>> dense = keras.layers.Dense(2)
    >>> tuple(call_network(dense, keras.KerasTensor((None, 3)), "Dense").shape)
    (None, 2)
    >>> call_network(dense, keras.KerasTensor((None, 4)), "Dense does not accept 4")
    Traceback (most recent call last):
    ...
    ValueError: Dense does not accept 4: ...
    """
    try:
        return network(inputs)
    except Exception as error:
        raise ValueError(f"{description}: {error}") from error
