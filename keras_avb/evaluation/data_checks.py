"""Checks of an evaluator's data and decoder (AIS, importance sampling, quadrature)."""

import keras
import numpy as np

from keras_avb.utils import data_checks
from keras_avb.utils import validation


def decoder_data_shape(decoder, likelihood, latent_dim, name="decoder"):
    """The shape of one example that `decoder` models, from a symbolic call.

    Raises `ValueError` if the decoder does not accept latent codes of size
    `latent_dim` or its output does not fit the likelihood. Returns None for
    a plain callable that cannot be called symbolically.
    """
    validation.check_callable(decoder, name)
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
    return data_checks.check_examples(x, name=name, data_shape=data_shape, likelihood=likelihood)
