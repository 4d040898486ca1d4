"""log p(x) of a trained `keras_avb.AVB` or `keras_avb.VAE`, in one call."""

import functools

import numpy as np
from keras import ops

from keras_avb.evaluation import estimate as estimate_lib
from keras_avb.evaluation.ais import ais_log_likelihood
from keras_avb.evaluation.importance import importance_log_likelihood
from keras_avb.utils import data_checks
from keras_avb.utils import validation

METHODS = ("ais", "importance")


def posterior_moments(model, x, batch_size=1000):
    """Mean and variance of a Gaussian that approximates the model's q(z|x).

    Each model answers this itself (`model.posterior_moments(x)`):

    - VAE: the posterior's mean and `exp(log_variance)`.
    - AVB: the encoder's moments, which Adaptive Contrast uses (from an
      encoder that returns them, or estimated from `model.moment_samples`
      draws), plus `model.contrast_epsilon`: this is AC's r(z|x).

    The encoder sees `batch_size` examples at a time, so its activations
    do not grow with the number of examples.

    Returns NumPy arrays of shape `(num_examples, latent_dim)`.

    Example:

    >>> import keras_avb
    >>> from keras_avb.architectures import synthetic
    >>> model = keras_avb.VAE(synthetic.synthetic_vae_encoder(), synthetic.synthetic_decoder())
    >>> mean, variance = posterior_moments(model, np.eye(4, dtype="float32"))
    >>> mean.shape, bool(np.all(variance > 0))
    ((4, 2), True)
    """
    _check_model(model)
    x = data_checks.check_examples(x, name="x", data_shape=model.data_shape)
    validation.check_int(batch_size, "batch_size", minimum=1)
    if x.shape[0] == 0:
        return _chunk_moments(model, x)
    means, variances = [], []
    for start, stop in estimate_lib.chunks(x.shape[0], batch_size):
        mean, variance = _chunk_moments(model, x[start:stop])
        means.append(mean)
        variances.append(variance)
    return np.concatenate(means), np.concatenate(variances)


def _chunk_moments(model, x):
    x = ops.cast(ops.convert_to_tensor(x), model.compute_dtype)
    mean, variance = model.posterior_moments(x)
    return (
        np.asarray(ops.convert_to_numpy(mean), dtype="float32"),
        np.asarray(ops.convert_to_numpy(variance), dtype="float32"),
    )


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
            bar; 0 silences it).

    Returns:
        A `LogLikelihoodEstimate`; `standard_error_reliable` flags examples
        whose effective sample size is too small for their standard error
        to be trusted (with a `LowEffectiveSampleSizeWarning`).

    Example:

    >>> import keras_avb
    >>> from keras_avb.architectures import synthetic
    >>> model = keras_avb.VAE(synthetic.synthetic_vae_encoder(), synthetic.synthetic_decoder())
    >>> x = np.eye(4, dtype="float32")
    >>> est = evaluate_log_likelihood(model, x, method="importance",
    ...                               num_samples=16, seed=0)
    >>> est.log_likelihood.shape
    (4,)
    """
    validation.check_choice(method, "method", METHODS)
    _check_model(model)
    if model.data_shape is None or model.prior is None:
        raise ValueError(
            "The model is not built: fit it or call it on data first, so that "
            "its data shape and prior are known."
        )
    data_checks.check_examples(
        x, name="x", data_shape=model.data_shape, likelihood=model.likelihood
    )
    moments = functools.partial(posterior_moments, model) if use_posterior else None

    common = (model.decoder, model.likelihood, model.prior, x)
    if method == "ais":
        return ais_log_likelihood(*common, initial=moments, **kwargs)
    return importance_log_likelihood(*common, proposal=moments, **kwargs)


def _check_model(model):
    # Any latent-variable model that answers `posterior_moments` will do.
    from keras_avb.models.latent_variable_model import LatentVariableModel

    if not isinstance(model, LatentVariableModel):
        raise ValueError(
            "`model` must be a keras_avb.AVB or keras_avb.VAE (a "
            f"LatentVariableModel). Received: {type(model)}"
        )
