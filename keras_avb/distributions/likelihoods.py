"""Observation models p(x | z) given the decoder's output.

A likelihood turns the decoder's output (its "parameters") into a per-example
log-density, a mean and samples, and checks that data suits it. All of it is
written with `keras.ops`, so it runs on every backend.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_avb.distributions.gaussian import normal_log_prob


def _flatten_event_axes(values):
    """Flattens all axes but the first (the batch axis)."""
    return ops.reshape(values, (ops.shape(values)[0], -1))


def _sum_event_axes(values):
    """Sums all axes but the first (the batch axis)."""
    return ops.sum(_flatten_event_axes(values), axis=-1)


class Likelihood:
    """Base class of observation models.

    Subclasses implement `log_prob(x, params)` (one value per example),
    `mean(params)` and `sample(params, seed)`, and may check data in
    `validate(x)`.
    """

    #: Number of decoder outputs per data entry (2 for a learned scale).
    params_per_entry = 1

    def log_prob(self, x, params):
        raise NotImplementedError

    def mean(self, params):
        raise NotImplementedError

    def sample(self, params, seed=None):
        raise NotImplementedError

    def validate(self, x, name="x"):
        """Raises `ValueError` if the NumPy array `x` cannot be modelled."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


@keras.saving.register_keras_serializable(package="keras_avb")
class Bernoulli(Likelihood):
    """Independent Bernoulli pixels; the decoder outputs logits.

    Data must be binary (0 or 1). Binarize grey-scale images first, for
    example with `keras_avb.datasets` or `x > 0.5`.

    Example:

    >>> likelihood = Bernoulli()
    >>> x = ops.convert_to_tensor([[1.0, 0.0]])
    >>> float(likelihood.log_prob(x, ops.zeros((1, 2)))[0])  # 2 log(1/2)
    -1.386294...
    """

    def log_prob(self, x, params):
        x = ops.cast(x, params.dtype)
        return _sum_event_axes(x * params - ops.softplus(params))

    def mean(self, params):
        return ops.sigmoid(params)

    def sample(self, params, seed=None):
        u = keras.random.uniform(ops.shape(params), seed=seed)
        return ops.cast(u < ops.sigmoid(params), params.dtype)

    def validate(self, x, name="x"):
        x = np.asarray(x)
        if x.size and not np.all((x == 0) | (x == 1)):
            bad = x[(x != 0) & (x != 1)].ravel()[:3]
            raise ValueError(
                f"`{name}` must be binary (0 or 1) for a Bernoulli "
                f"likelihood, but has values such as {bad.tolist()}. "
                "Binarize the data first (for example `x > 0.5`, or "
                "`keras_avb.datasets` with binarization) or use a "
                "`Gaussian` likelihood."
            )


@keras.saving.register_keras_serializable(package="keras_avb")
class Gaussian(Likelihood):
    """Independent Gaussian entries around the decoder's output.

    Args:
        scale: fixed standard deviation. With `scale=None` the decoder
            outputs twice as many values as the data has entries, the means
            followed by the log standard deviations along the last axis.

    Example:

    >>> likelihood = Gaussian(scale=1.0)
    >>> x = ops.zeros((1, 3))
    >>> round(float(likelihood.log_prob(x, ops.zeros((1, 3)))[0]), 4)
    -2.7568
    """

    def __init__(self, scale=1.0):
        if scale is not None and not float(scale) > 0:
            raise ValueError(f"`scale` must be positive or None. Received: {scale}")
        self.scale = None if scale is None else float(scale)

    @property
    def params_per_entry(self):
        return 2 if self.scale is None else 1

    def _split(self, params):
        if self.scale is None:
            mean, log_scale = ops.split(params, 2, axis=-1)
            return mean, log_scale
        return params, ops.full_like(params, math.log(self.scale))

    def log_prob(self, x, params):
        mean, log_scale = self._split(params)
        x = ops.cast(x, mean.dtype)
        z = (x - mean) * ops.exp(-log_scale)
        return normal_log_prob(
            _flatten_event_axes(z), _flatten_event_axes(2.0 * log_scale)
        )

    def mean(self, params):
        return self._split(params)[0]

    def sample(self, params, seed=None):
        mean, log_scale = self._split(params)
        return mean + ops.exp(log_scale) * keras.random.normal(
            ops.shape(mean), seed=seed
        )

    def get_config(self):
        return {"scale": self.scale}


def get(identifier):
    """Returns a likelihood from an instance, a name or a config dict."""
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str):
        names = {"bernoulli": Bernoulli, "gaussian": Gaussian, "normal": Gaussian}
        if identifier.lower() in names:
            return names[identifier.lower()]()
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    raise ValueError(
        "`likelihood` must be a `keras_avb.distributions.Likelihood`, "
        f"'bernoulli' or 'gaussian'. Received: {identifier!r}"
    )
