"""log p(x) of a decoder with a low-dimensional latent space, by quadrature.

For a latent space of one or two dimensions the marginal likelihood

    log p(x) = log ∫ p(x|z) p(z) dz

can be computed almost exactly on a grid of latent codes: the midpoint rule
over the box [-limit, limit]^d with `num_points` cells per axis,

    log p(x) ≈ logsumexp_j [log p(x|z_j) + log p(z_j)] + d log(cell width).

Everything is written with `keras.ops`, so it runs on every backend. Data
and grid are processed in chunks so that memory stays bounded.
"""

import keras
from keras import ops

from keras_avb.distributions import likelihoods as likelihoods_lib
from keras_avb.distributions import priors as priors_lib
from keras_avb.evaluation import data_checks
from keras_avb.utils import validation


def _latent_dim_of(decoder):
    inputs = getattr(decoder, "inputs", None)
    if inputs:
        dim = inputs[0].shape[-1]
        if dim is not None:
            return int(dim)
    return None


def latent_grid(latent_dim, num_points, limit):
    """The midpoints of a regular grid over [-limit, limit]^latent_dim.

    Returns `(points, log_cell_volume)` with `points` of shape
    `(num_points ** latent_dim, latent_dim)`.

    Example:

    >>> points, log_volume = latent_grid(2, num_points=4, limit=2.0)
    >>> tuple(points.shape), round(float(log_volume), 4)  # cells of 1 x 1
    ((16, 2), 0.0)
    """
    if latent_dim < 1:
        raise ValueError(f"`latent_dim` must be >= 1. Received: {latent_dim}")
    width = 2.0 * float(limit) / int(num_points)
    axis = -float(limit) + width * (ops.arange(int(num_points), dtype="float32") + 0.5)
    axes = ops.meshgrid(*([axis] * latent_dim), indexing="ij")
    points = ops.stack([ops.reshape(a, (-1,)) for a in axes], axis=-1)
    log_volume = latent_dim * ops.log(ops.convert_to_tensor(width, "float32"))
    return points, log_volume


def quadrature_log_likelihood(
    decoder,
    likelihood,
    prior=None,
    x=None,
    num_points=400,
    limit=6.0,
    grid_batch_size=4096,
    data_batch_size=64,
):
    """Computes log p(x) = log ∫ p(x|z) p(z) dz on a latent grid.

    Meant for latent spaces of one or two dimensions (the grid has
    `num_points ** latent_dim` points), such as the 2-dim latent space of
    the paper's synthetic experiment (Table 1), where it replaces sampling
    estimates. Prior mass outside the box is ignored: with the standard
    normal prior and `limit=6` that is below 1e-8.

    Args:
        decoder: a layer or model mapping latent codes `(n, latent_dim)` to
            the likelihood's parameters (e.g. `model.decoder`).
        likelihood: a `keras_avb.distributions.Likelihood` or its name.
        prior: a `keras_avb.distributions.Prior`; by default a standard
            normal of the decoder's input size.
        x: data, shape `(num_examples,) + data_shape`.
        num_points: grid cells per latent axis.
        limit: the grid covers `[-limit, limit]` on every axis.
        grid_batch_size: latent codes decoded at a time.
        data_batch_size: examples scored at a time; memory grows with
            `grid_batch_size * data_batch_size * data_size`.

    Returns:
        A tensor of shape `(num_examples,)`, log p(x) per example.

    Example:

    >>> import keras, numpy as np
    >>> # The decoder ignores z and gives every pixel probability 1/2, so
    >>> # log p(x) = 4 log(1/2) whatever the prior.
    >>> decoder = keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(4, kernel_initializer="zeros")])
    >>> x = np.eye(4, dtype="float32")
    >>> log_px = quadrature_log_likelihood(decoder, "bernoulli", x=x,
    ...     num_points=100)
    >>> np.round(keras.ops.convert_to_numpy(log_px), 4)
    array([-2.7726, -2.7726, -2.7726, -2.7726], dtype=float32)
    """
    if x is None:
        raise ValueError("`x` is None: pass the data whose log-likelihood to compute.")
    num_points = validation.check_int(num_points, "num_points", minimum=1)
    limit = validation.check_float(limit, "limit", minimum=0.0, exclusive=True)
    grid_batch_size = validation.check_int(grid_batch_size, "grid_batch_size", minimum=1)
    data_batch_size = validation.check_int(data_batch_size, "data_batch_size", minimum=1)
    validation.check_callable(decoder, "decoder")
    likelihood = likelihoods_lib.get(likelihood)
    if prior is None:
        latent_dim = _latent_dim_of(decoder)
        if latent_dim is None:
            raise ValueError(
                "Cannot tell the latent size from the decoder: pass `prior`."
            )
        prior = priors_lib.StandardNormal(latent_dim)
    else:
        prior = priors_lib.get(prior)
    latent_dim = prior.latent_dim
    if num_points**latent_dim > 10**8:
        raise ValueError(
            f"A grid of {num_points} points per axis in {latent_dim} dimensions "
            "is too large; quadrature is meant for 1 or 2 latent dimensions."
        )
    x = data_checks.check_evaluation_data(decoder, likelihood, latent_dim, x)

    points, log_volume = latent_grid(latent_dim, num_points, limit)
    num_grid = int(ops.shape(points)[0])
    log_weights = ops.cast(prior.log_prob(points), "float32") + log_volume
    # Every chunk gets the same shape (the last ones are padded: grid points
    # with weight -inf, repeated examples that are dropped), so that
    # backends that compile per shape compile once.
    grid_batch_size = min(grid_batch_size, num_grid)
    padding = -num_grid % grid_batch_size
    if padding:
        points = ops.concatenate([points, ops.zeros((padding, latent_dim))], axis=0)
        log_weights = ops.concatenate(
            [log_weights, ops.full((padding,), -float("inf"))], axis=0
        )
    # Decode the grid once, chunk by chunk.
    params_chunks, log_weight_chunks = [], []
    for start in range(0, num_grid + padding, grid_batch_size):
        z = points[start : start + grid_batch_size]
        params_chunks.append(ops.cast(decoder(z, training=False), "float32"))
        log_weight_chunks.append(log_weights[start : start + grid_batch_size])

    x = ops.cast(ops.convert_to_tensor(x), "float32")
    num_examples = int(ops.shape(x)[0])
    data_batch_size = min(data_batch_size, num_examples)
    padding = -num_examples % data_batch_size
    if padding:
        x = ops.concatenate([x, ops.repeat(x[:1], padding, axis=0)], axis=0)
    results = []
    for start in range(0, num_examples + padding, data_batch_size):
        x_batch = x[start : start + data_batch_size]
        total = None
        for params, log_weight in zip(params_chunks, log_weight_chunks):
            x_pairs = ops.repeat(x_batch, grid_batch_size, axis=0)
            params_pairs = ops.tile(
                params, (data_batch_size,) + (1,) * (len(params.shape) - 1)
            )
            log_px_z = ops.reshape(
                likelihood.log_prob(x_pairs, params_pairs),
                (data_batch_size, grid_batch_size),
            )
            chunk = ops.logsumexp(log_px_z + log_weight[None, :], axis=1)
            total = chunk if total is None else ops.logaddexp(total, chunk)
        results.append(total)
    return ops.concatenate(results, axis=0)[:num_examples]
