"""Unnormalised target densities: checking them and turning them into functions.

A target is a function `log_prob(z)` of a batch of flat vectors `z` of shape
`(batch, event_size)` returning `(batch,)` log-densities up to a constant,
written with `keras.ops` so that it runs on every backend. Where TensorFlow
Probability runs (TensorFlow and JAX backends), a TFP distribution (for
example a `JointDistribution`) or its bound `log_prob` method is accepted
too: the flat vector is split into the distribution's parts.
"""

import keras
import numpy as np
from keras import ops

from keras_avb import backend


def _is_tfp_distribution(obj):
    module = type(obj).__module__ or ""
    return "tensorflow_probability" in module and hasattr(obj, "log_prob")


def tfp_log_prob_fn(distribution):
    """Wraps a TFP distribution as `log_prob(z)` on flat vectors.

    Args:
        distribution: a TFP distribution (from `tensorflow_probability` under
            TensorFlow or `tensorflow_probability.substrates.jax` under JAX)
            with a scalar batch shape, for example a
            `JointDistributionSequential` or a pinned joint distribution
            (`jd.experimental_pin(...)`, whose unnormalised log-density is
            used). Its parts must be unconstrained reals; the layout of the
            flat vector follows the order of the distribution's parts.

    Returns:
        `(log_prob, event_size)`: a function of `(batch, event_size)` tensors
        and the total number of entries of one event.

    Example:

    >>> from keras_avb import backend
    >>> tfd = backend.tfp().distributions
    >>> jd = tfd.JointDistributionSequential([tfd.Normal(0.0, 1.0),
    ...     tfd.Independent(tfd.Normal([0.0, 0.0], 1.0), 1)])
    >>> log_prob, size = tfp_log_prob_fn(jd)
    >>> size
    3
    """
    # A pinned distribution samples its free parts with `sample_unpinned`.
    sample = getattr(distribution, "sample_unpinned", None) or distribution.sample
    draw = sample(seed=ops.zeros((2,), backend.TFP_SEED_DTYPE))
    leaves = keras.tree.flatten(draw)
    shapes = [tuple(int(d) for d in leaf.shape) for leaf in leaves]
    sizes = [int(np.prod(shape)) for shape in shapes]
    event_size = int(sum(sizes))
    offsets = np.cumsum([0] + sizes)
    target = getattr(distribution, "unnormalized_log_prob", distribution.log_prob)

    def log_prob(z):
        batch = ops.shape(z)[0]
        parts = [
            ops.reshape(z[:, offsets[i] : offsets[i + 1]], (batch,) + shapes[i])
            for i in range(len(shapes))
        ]
        return target(keras.tree.pack_sequence_as(draw, parts))

    return log_prob, event_size


def resolve_target(target_log_prob_fn, event_size):
    """Returns `(log_prob_fn, event_size)` from what the user passed.

    Accepts a callable on flat `(batch, event_size)` tensors, a TFP
    distribution, or a TFP distribution's bound `log_prob` method. Raises
    `ValueError` naming the problem otherwise.
    """
    target = target_log_prob_fn
    owner = getattr(target, "__self__", None)
    if owner is not None and _is_tfp_distribution(owner) and (
        getattr(target, "__name__", "") == "log_prob"
    ):
        target = owner
    if _is_tfp_distribution(target):
        if backend.TFP_MODULE is None:
            raise ValueError(
                "A TensorFlow Probability distribution cannot be the target "
                "under the torch backend (TFP has no PyTorch substrate). Write "
                "`target_log_prob_fn` with `keras.ops` instead."
            )
        log_prob, inferred = tfp_log_prob_fn(target)
        if event_size is not None and int(event_size) != inferred:
            raise ValueError(
                f"`event_size={event_size}` does not match the TFP "
                f"distribution, whose events have {inferred} entries."
            )
        return log_prob, inferred
    if not callable(target):
        raise ValueError(
            "`target_log_prob_fn` must be a callable mapping a (batch, "
            "event_size) tensor to (batch,) unnormalised log-densities, or a "
            f"TFP distribution. Received: {target!r}"
        )
    if event_size is None:
        raise ValueError(
            "Pass `event_size`, the number of entries of one sample of the "
            "target (it can only be inferred from a TFP distribution)."
        )
    if isinstance(event_size, bool) or not isinstance(event_size, (int, np.integer)):
        raise ValueError(f"`event_size` must be an integer >= 1. Received: {event_size!r}")
    if event_size < 1:
        raise ValueError(f"`event_size` must be an integer >= 1. Received: {event_size}")
    return target, int(event_size)


def check_target(log_prob_fn, event_size, batch=3):
    """Calls the target on a small standard-normal batch and checks its output.

    Raises `ValueError` if the call fails, the output does not have shape
    `(batch,)` or it holds NaN.
    """
    z = ops.convert_to_tensor(
        np.random.default_rng(0).normal(size=(batch, event_size)).astype("float32")
    )
    try:
        value = log_prob_fn(z)
    except Exception as error:  # noqa: BLE001 - re-raised with context
        raise ValueError(
            f"Calling `target_log_prob_fn` on a batch of shape {(batch, event_size)} "
            f"failed: {type(error).__name__}: {error}"
        ) from error
    value = keras.ops.convert_to_numpy(value)
    if tuple(value.shape) != (batch,):
        raise ValueError(
            "`target_log_prob_fn` must return one log-density per sample, "
            f"shape (batch,); on a batch of shape {(batch, event_size)} it "
            f"returned shape {tuple(value.shape)}."
        )
    if not np.issubdtype(value.dtype, np.floating):
        raise ValueError(
            f"`target_log_prob_fn` must return floats; it returned {value.dtype}."
        )
    if np.any(np.isnan(value)) or np.all(np.isneginf(value)):
        raise ValueError(
            "`target_log_prob_fn` returned NaN (or -inf at every one of a few "
            "standard-normal points); the samplers here work on unconstrained "
            "reals, so transform bounded parameters (e.g. log of a scale) "
            "inside the target."
        )
    if np.any(np.isposinf(value)):
        raise ValueError(
            "`target_log_prob_fn` returned +inf at standard-normal points; an "
            "unnormalised log-density must be finite where it has mass."
        )
