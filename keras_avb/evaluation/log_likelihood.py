"""log p(x) of a trained `keras_avb.AVB` or `keras_avb.VAE`, in one call."""

import numpy as np
from keras import ops

from keras_avb.evaluation import estimate as estimate_lib
from keras_avb.evaluation.ais import ais_log_likelihood
from keras_avb.evaluation.importance import importance_log_likelihood
from keras_avb.utils import validation

METHODS = ("ais", "importance")


def posterior_moments(model, x, batch_size=1000):
    """Mean and variance of a Gaussian that approximates the model's q(z|x).

    - VAE: the posterior's mean and `exp(log_variance)`.
    - AVB: the encoder's moments, which Adaptive Contrast uses (from an
      encoder that returns them, or estimated from `model.moment_samples`
      draws), plus `model.contrast_epsilon`: this is AC's r(z|x). A
      black-box encoder without Adaptive Contrast is sampled
      `model.moment_samples` times to estimate them.

    The encoder sees `batch_size` examples at a time, so its activations
    do not grow with the number of examples.

    Returns NumPy arrays of shape `(num_examples, latent_dim)`.

    Example:

    >>> import keras, keras_avb
    >>> x_in = keras.Input((4,))
    >>> encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in),
    ...                              keras.layers.Dense(2)(x_in)])
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> model = keras_avb.VAE(encoder, decoder)
    >>> mean, variance = posterior_moments(model, np.eye(4, dtype="float32"))
    >>> mean.shape, bool(np.all(variance > 0))
    ((4, 2), True)
    """
    kind = _model_kind(model)
    x = validation.check_examples(x, name="x", data_shape=model.data_shape)
    validation.check_int(batch_size, "batch_size", minimum=1)
    if x.shape[0] == 0:
        return _chunk_moments(model, kind, x)
    means, variances = [], []
    for start, stop in estimate_lib.chunks(x.shape[0], batch_size):
        mean, variance = _chunk_moments(model, kind, x[start:stop])
        means.append(mean)
        variances.append(variance)
    return np.concatenate(means), np.concatenate(variances)


def _chunk_moments(model, kind, x):
    x = ops.cast(ops.convert_to_tensor(x), model.compute_dtype)
    if kind == "vae":
        _, mean, log_variance = model.posterior(x, training=False)
        return (
            ops.convert_to_numpy(mean).astype("float32"),
            np.exp(ops.convert_to_numpy(log_variance).astype("float32")),
        )
    rows = int(x.shape[0])
    if validation.uses_batch_moments(model) and rows < model.moment_samples:
        # The encoder estimates the moments from the batch's noise draws: a
        # chunk of one example would give variance 0. Repeat the chunk so
        # that at least `moment_samples` draws enter the estimate.
        repeats = -(-model.moment_samples // rows)
        x_rep = ops.tile(x, (repeats,) + (1,) * (len(x.shape) - 1))
        _, mean, variance = model.posterior(x_rep, training=False)
        if mean is not None:
            mean, variance = mean[:rows], variance[:rows]
    else:
        _, mean, variance = model.posterior(x, training=False)
    if mean is None:
        draws = np.stack(
            [ops.convert_to_numpy(model.encode(x)) for _ in range(model.moment_samples)]
        ).astype("float32")
        mean, variance = draws.mean(axis=0), draws.var(axis=0)
    mean = np.asarray(ops.convert_to_numpy(mean), dtype="float32")
    variance = np.asarray(ops.convert_to_numpy(variance), dtype="float32")
    if variance.ndim == mean.ndim + 1:
        # A full-covariance encoder: the evaluators start from (and scale
        # their HMC steps by) a diagonal Gaussian; any proposal is valid.
        variance = np.diagonal(variance, axis1=-2, axis2=-1)
    return mean, variance + np.float32(model.contrast_epsilon)


def evaluate_log_likelihood(model, x, method="ais", use_posterior=True, **kwargs):
    """Estimates log p(x) of a trained AVB or VAE per example.

    Uses the model's decoder, likelihood and prior and, as the initial
    distribution of AIS or the importance-sampling proposal, the Gaussian of
    `posterior_moments` (AC's r(z|x) for AVB, the posterior for the VAE). With
    `method="importance"` and a VAE this is the IWAE bound.

    Args:
        model: a built `keras_avb.AVB` or `keras_avb.VAE`.
        x: data, an array of shape `(num_examples, ...)`.
        method: `"ais"` (`ais_log_likelihood`) or `"importance"`
            (`importance_log_likelihood`).
        use_posterior: False starts AIS from (or samples importance weights
            from) the prior instead.
        **kwargs: passed on, e.g. `num_steps`, `num_chains`, `num_samples`,
            `batch_size`, `seed`, `verbose` (`"auto"` by default: a progress
            bar; 0 silences it), `method` of AIS as `ais_method`.

    Returns:
        A `LogLikelihoodEstimate`; `standard_error_reliable` flags examples
        whose effective sample size is too small for their standard error
        to be trusted (with a `LowEffectiveSampleSizeWarning`).

    Example:

    >>> import keras, keras_avb
    >>> x_in = keras.Input((4,))
    >>> encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in),
    ...                              keras.layers.Dense(2)(x_in)])
    >>> decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    >>> model = keras_avb.VAE(encoder, decoder)
    >>> x = np.eye(4, dtype="float32")
    >>> est = evaluate_log_likelihood(model, x, method="importance",
    ...                               num_samples=16, seed=0)
    >>> est.log_likelihood.shape
    (4,)
    """
    validation.check_choice(method, "method", METHODS)
    _model_kind(model)
    if model.data_shape is None or model.prior is None:
        raise ValueError(
            "The model is not built: fit it or call it on data first, so that "
            "its data shape and prior are known."
        )
    validation.check_examples(
        x, name="x", data_shape=model.data_shape, likelihood=model.likelihood
    )
    moments = None
    if use_posterior:
        def moments(x_chunk):
            return posterior_moments(model, x_chunk)

    common = (model.decoder, model.likelihood, model.prior, x)
    if method == "ais":
        if "ais_method" in kwargs:
            kwargs["method"] = kwargs.pop("ais_method")
        return ais_log_likelihood(*common, initial=moments, **kwargs)
    return importance_log_likelihood(*common, proposal=moments, **kwargs)


def _model_kind(model):
    from keras_avb.models import AVB
    from keras_avb.models import VAE

    if isinstance(model, VAE):
        return "vae"
    if isinstance(model, AVB):
        return "avb"
    raise ValueError(
        f"`model` must be a keras_avb.AVB or keras_avb.VAE. Received: {type(model)}"
    )
