"""Checks an AVB adversary's KL estimate against an independent estimate.

AVB's KL term is the adversary's estimate, not a bound: the model trains
with, and reports in `kl` and `adversarial_elbo`, the per-example value

- without Adaptive Contrast: `E_q[T(x, z)]`, an estimate of
  KL(q(z|x) || p(z));
- with Adaptive Contrast (AC): `E_q[T(x, z~)] + E_q[log r(z|x) - log p(z)]`,
  where `z~ = (z - mean) / std` is the normalised code (whitened with a
  full covariance), r the Gaussian with q(z|x)'s moments, and the second
  part is computed by the model in closed form per sample. Since
  KL(q || p) = KL(q~ || N(0, I)) + E_q[log r - log p] exactly (the KL is
  invariant under the affine map z -> z~), only the first part is
  estimated by the adversary.

An adversary that has not caught up with the encoder, or is too small to
represent log q~ - log N, usually estimates too little: the reported
`adversarial_elbo` is then optimistic (it can exceed log p(x) itself).
`adversary_kl_check` measures this on held-out data by replacing the
adversary's part with a k-nearest-neighbour estimate
(`keras_avb.evaluation.kl_divergence_knn`) from the same codes, and
reports the difference per example.

The kNN estimator (Wang, Kulkarni and Verdú 2009) is consistent but has
its own finite-sample bias, usually downwards in many dimensions and for
large divergences, so a gap of a few tenths of a nat can be the
estimator's; `knn_calibration` shows its bias on Gaussians of known KL in
the same dimension and with the same sample sizes, and
`gaussian_kl_bound` gives a lower bound that needs no estimator.
"""

import math
from typing import NamedTuple

import keras
import numpy as np
from keras import ops

from keras_avb.distributions import priors as priors_lib
from keras_avb.evaluation import estimate as estimate_lib
from keras_avb.evaluation.divergences import kl_divergence_knn
from keras_avb.utils import data_checks
from keras_avb.utils import progress
from keras_avb.utils import validation

#: The default neighbour of the kNN estimator (as in
#: `benchmarks/adversary_kl_check.py`).
DEFAULT_K = 3

#: By default, examples go through the networks in chunks of at most this
#: many codes (at least one example per chunk).
CODES_PER_CALL = 8192


class AdversaryKLResult(NamedTuple):
    """Per-example KL estimates from the adversary and from kNN, in nats.

    All array fields have one entry per example. With Adaptive Contrast
    the "part" fields split each estimate into what the adversary (or kNN)
    estimates, KL(q~ || N(0, I)) of the normalised code, and the Gaussian
    part E_q[log r(z|x) - log p(z)] that the model computes in closed form
    and that both totals share; without it the Gaussian part is 0 and the
    adversary (or kNN) estimates KL(q(z|x) || p(z)) itself.

    Attributes:
        kl_adversary: the model's KL term, `adversary_part + gaussian_part`,
            averaged over the codes: what `kl` reports and the ELBO uses.
        kl_independent: `knn_part + gaussian_part`.
        gap: `kl_adversary - kl_independent` (`= adversary_part -
            knn_part`). Negative: the adversary underestimates the KL and
            `adversarial_elbo` is optimistic by about `-gap`.
        adversary_part: `E_q[T]` over the codes.
        knn_part: the kNN estimate of KL(q~ || N(0, I)) (with AC) or of
            KL(q(z|x) || p(z)) (without), against as many draws of N(0, I)
            or of the prior as there are codes.
        gaussian_part: `E_q[log r(z|x) - log p(z)]` (with AC), else 0.
        gaussian_lower_bound: `gaussian_part` plus the KL of the Gaussian
            with the codes' sample mean and covariance to N(0, I) (see
            `gaussian_kl_bound`): a lower bound on the KL up to Monte Carlo
            error, that needs no density estimator. NaN without AC when the
            prior is not `StandardNormal`, or when there are no more codes
            than latent dimensions.
        num_samples: codes drawn per example.
        k: the neighbour used by the kNN estimator.
        adaptive_contrast: whether the model uses Adaptive Contrast.

    Example:

    >>> r = AdversaryKLResult(*(np.array([v]) for v in (1.0, 1.5, -0.5, 1.0,
    ...     1.5, 0.0, 1.2)), num_samples=100, k=3, adaptive_contrast=False)
    >>> r.summary()["kl_gap"]
    -0.5
    >>> r.report()[:60]
    'KL per example (1 examples, 100 codes each, k = 3): adversar'
    """

    kl_adversary: np.ndarray
    kl_independent: np.ndarray
    gap: np.ndarray
    adversary_part: np.ndarray
    knn_part: np.ndarray
    gaussian_part: np.ndarray
    gaussian_lower_bound: np.ndarray
    num_samples: int
    k: int
    adaptive_contrast: bool

    @property
    def num_examples(self):
        """The number of examples checked."""
        return int(np.shape(self.gap)[0])

    @property
    def gap_mean(self):
        """The mean of `gap` over the examples (a float)."""
        return float(np.mean(self.gap))

    @property
    def gap_standard_error(self):
        """The standard error of `gap_mean` across the examples (a float).

        `std(gap, ddof=1) / sqrt(num_examples)`: it measures how much the
        mean gap would vary with other examples and other codes, not the
        kNN estimator's bias. NaN for a single example.
        """
        if self.num_examples < 2:
            return math.nan
        return float(np.std(self.gap, ddof=1) / math.sqrt(self.num_examples))

    def summary(self):
        """Means over the examples, as a dict of floats.

        Keys: `kl_adversary`, `kl_independent`, `kl_gap`,
        `kl_gap_standard_error`, `kl_gaussian_lower_bound`.
        """
        return {
            "kl_adversary": float(np.mean(self.kl_adversary)),
            "kl_independent": float(np.mean(self.kl_independent)),
            "kl_gap": self.gap_mean,
            "kl_gap_standard_error": self.gap_standard_error,
            "kl_gaussian_lower_bound": float(np.mean(self.gaussian_lower_bound)),
        }

    def report(self):
        """A one-line summary."""
        s = self.summary()
        return (
            f"KL per example ({self.num_examples} examples, {self.num_samples} "
            f"codes each, k = {self.k}): adversary {s['kl_adversary']:.3f}, "
            f"independent (kNN) {s['kl_independent']:.3f}, gap "
            f"{s['kl_gap']:.3f} ± {s['kl_gap_standard_error']:.3f} (standard "
            f"error), Gaussian lower bound {s['kl_gaussian_lower_bound']:.3f}"
        )


def check_arguments(model, x, num_samples, k, seed=None, batch_size=None, verbose=0):
    """Checks `adversary_kl_check`'s arguments; returns `x` as a NumPy array.

    Raises `ValueError` naming the problem (a model that is not a built
    `keras_avb.AVB`, `x` of the wrong shape or with bad values, counts out
    of range) before any work starts. `keras_avb.callbacks.AdversaryKLCheck`
    runs the same checks when training begins.

    Example:

    >>> import keras
    >>> check_arguments(keras.Sequential(), np.zeros((2, 4)), 100, k=1)
    Traceback (most recent call last):
    ...
    ValueError: `model` must be a keras_avb.AVB (the check compares its adversary's KL estimate). Received: Sequential
    """
    from keras_avb.models import AVB

    if not isinstance(model, AVB):
        raise ValueError(
            "`model` must be a keras_avb.AVB (the check compares its "
            f"adversary's KL estimate). Received: {type(model).__name__}"
        )
    if model.data_shape is None or model.prior is None:
        raise ValueError(
            "The model is not built: fit it or call it on data first, so that "
            "its data shape and prior are known."
        )
    k = validation.check_int(k, "k", minimum=1)
    num_samples = validation.check_int(num_samples, "num_samples", minimum=2)
    if num_samples < k + 1:
        raise ValueError(
            f"`num_samples` must be >= k + 1 = {k + 1} for the kNN estimator "
            f"with k = {k}. Received: {num_samples}"
        )
    validation.check_int(batch_size, "batch_size", minimum=1, allow_none=True)
    validation.check_seed(seed)
    progress.resolve_verbose(verbose)
    return data_checks.check_examples(
        x, name="x", data_shape=model.data_shape, likelihood=model.likelihood
    )


def adversary_kl_check(
    model, x, num_samples=1000, k=DEFAULT_K, seed=None, batch_size=None, verbose="auto"
):
    """Compares a trained AVB adversary's KL estimate with a kNN estimate.

    For each example `x_i`, draws `num_samples` codes `z ~ q(z|x_i)` from
    the encoder and computes, from the same codes,

    - the model's KL term, exactly as AVB trains with it: `T(x, z)` without
      Adaptive Contrast, `T(x, z~) + log r(z|x) - log p(z)` with it, both
      averaged over the codes (the model's `adversary`, `contrast` and
      `prior`, in inference mode);
    - an independent estimate: without AC, the k-nearest-neighbour estimate
      (`keras_avb.evaluation.kl_divergence_knn`) of KL(q(z|x) || p(z))
      against `num_samples` draws of the model's prior (`model.prior`);
      with AC, the same closed-form part E_q[log r - log p] plus the kNN
      estimate of KL(q~ || N(0, I)) from the normalised codes against
      `num_samples` draws of N(0, I);
    - their difference, `gap`.

    With AC, q(z|x)'s moments are the encoder's when it returns them (a
    `BasisNoiseEncoder`'s batch statistics then run over the codes of the
    examples that go through it together); for a black-box encoder they
    are the mean and variance of the example's `num_samples` codes (the
    model itself, in training, uses `moment_samples` draws).

    A negative gap means the adversary underestimates the KL, which makes
    the model's `kl` too small and its `adversarial_elbo` optimistic by
    about `-gap` nats. The kNN estimator is consistent but biased for
    finite samples (Wang, Kulkarni and Verdú 2009, "Divergence estimation
    for multidimensional densities via k-nearest-neighbor distances", IEEE
    Trans. Inf. Theory 55(5)): mostly downwards in many dimensions and for
    large divergences, so compare the gap with `knn_calibration` at the
    same sizes, and with `gaussian_lower_bound`, which needs no estimator.

    The model's own noise stream (`model.seed_generator`) and weights are
    not touched, so the check can run during training
    (`keras_avb.callbacks.AdversaryKLCheck`).

    Args:
        model: a built `keras_avb.AVB`, with or without Adaptive Contrast.
        x: held-out data, an array of shape `(num_examples,) + data_shape`.
        num_samples: codes per example (and reference draws), >= `k + 1`.
        k: the neighbour of the kNN estimator, >= 1.
        seed: None (fresh noise), an integer, or a
            `keras.random.SeedGenerator`. The same integer seed and
            `batch_size` give the same result.
        batch_size: examples per call to the networks (each with
            `num_samples` codes); by default as many as fit in
            `CODES_PER_CALL` codes, at least one.
        verbose: `"auto"` (default) or 1 shows a progress bar over the
            examples, 2 one line at the end, 0 nothing.

    Returns:
        An `AdversaryKLResult` of NumPy arrays, one entry per example, with
        `gap_mean`, `gap_standard_error` and `summary()`.

    Raises:
        ValueError: before any work, when `model` is not a built AVB, `x`
            does not match it, or a count is out of range; and when an
            example's codes repeat (an encoder that ignores its noise, for
            which the KL is infinite).

    Example:

    >>> import keras_avb
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
    ...     adaptive_contrast=True)
    >>> x = np.eye(4, dtype="float32")
    >>> result = adversary_kl_check(model, x, num_samples=64, seed=0, verbose=0)
    >>> result.gap.shape
    (4,)
    >>> bool(np.allclose(result.gap, result.kl_adversary - result.kl_independent))
    True
    >>> sorted(result.summary())[:3]
    ['kl_adversary', 'kl_gap', 'kl_gap_standard_error']
    """
    x = check_arguments(model, x, num_samples, k, seed, batch_size, verbose)
    num_samples, k = int(num_samples), int(k)
    verbose = progress.resolve_verbose(verbose)
    num_examples = x.shape[0]
    if batch_size is None:
        batch_size = max(1, CODES_PER_CALL // num_samples)
    seed = estimate_lib.new_seed(seed)
    seed_generator = keras.random.SeedGenerator(seed)
    rng = np.random.default_rng(seed)
    standard_prior = isinstance(model.prior, priors_lib.StandardNormal)
    progbar = None
    if verbose:
        progbar = keras.utils.Progbar(
            num_examples, stateful_metrics=["gap"], verbose=verbose, unit_name="example"
        )
    parts = {name: [] for name in ("adversary", "knn", "gaussian", "bound")}
    for start, stop in estimate_lib.chunks(num_examples, batch_size):
        t, gaussian, codes = _chunk_terms(model, x[start:stop], num_samples, seed_generator)
        if not model.adaptive_contrast:
            references = ops.convert_to_numpy(
                model.prior.sample((stop - start) * num_samples, seed=seed_generator)
            ).astype("float64")
            references = references.reshape(codes.shape)
        for row in range(stop - start):
            if model.adaptive_contrast:
                reference = rng.standard_normal(codes[row].shape)
            else:
                reference = references[row]
            parts["adversary"].append(float(np.mean(t[row])))
            parts["gaussian"].append(float(np.mean(gaussian[row])))
            parts["knn"].append(_knn(codes[row], reference, k, start + row))
            if model.adaptive_contrast or standard_prior:
                bound = parts["gaussian"][-1] + gaussian_kl_bound(codes[row])
            else:
                bound = math.nan
            parts["bound"].append(bound)
        if progbar is not None:
            gap = np.mean(np.subtract(parts["adversary"], parts["knn"]))
            progbar.update(stop, values=[("gap", float(gap))])
    adversary, knn, gaussian, bound = (
        np.asarray(parts[name], dtype="float64")
        for name in ("adversary", "knn", "gaussian", "bound")
    )
    kl_adversary = adversary + gaussian
    kl_independent = knn + gaussian
    return AdversaryKLResult(
        kl_adversary=kl_adversary,
        kl_independent=kl_independent,
        gap=kl_adversary - kl_independent,
        adversary_part=adversary,
        knn_part=knn,
        gaussian_part=gaussian,
        gaussian_lower_bound=bound,
        num_samples=num_samples,
        k=k,
        adaptive_contrast=bool(model.adaptive_contrast),
    )


def _chunk_terms(model, x, num_samples, seed_generator):
    """The per-code KL terms of a chunk of examples, as NumPy arrays.

    Returns `(t, gaussian, codes)` of shapes `(examples, num_samples)`,
    `(examples, num_samples)` and `(examples, num_samples, latent_dim)`:
    the adversary's output, `log r - log p` (0 without AC), and the codes
    the adversary sees (z~ with AC, z without).
    """
    size = x.shape[0]
    rows = size * num_samples
    x = ops.convert_to_tensor(np.repeat(x, num_samples, axis=0))
    x = ops.cast(x, model.compute_dtype)
    eps = keras.random.normal((rows,) + tuple(model.noise_shape), seed=seed_generator)
    outputs = model.encoder([x, eps], training=False)
    if model.encoder_returns_moments:
        z, mean, variance = outputs
    else:
        z, mean, variance = outputs, None, None
    if model.adaptive_contrast and mean is None:
        draws = ops.reshape(ops.cast(z, "float32"), (size, num_samples, -1))
        mean = ops.repeat(ops.mean(draws, axis=1), num_samples, axis=0)
        variance = ops.repeat(ops.var(draws, axis=1), num_samples, axis=0)
    t, gaussian, codes = kl_terms(model, x, z, mean, variance)
    return (
        ops.convert_to_numpy(t).astype("float64").reshape(size, num_samples),
        ops.convert_to_numpy(gaussian).astype("float64").reshape(size, num_samples),
        ops.convert_to_numpy(ops.cast(codes, "float32"))
        .astype("float64")
        .reshape(size, num_samples, -1),
    )


def kl_terms(model, x, z, mean=None, variance=None):
    """The adversary's output and the closed-form part of AVB's KL, per code.

    The model's KL term for a code `z ~ q(z|x)` is `t + gaussian`, as in
    `AVB.compute_losses`: `t = T(x, z~)` with `(z~, log r) =
    model.contrast([z, mean, variance])` and `gaussian = log r(z|x) -
    log p(z)` with Adaptive Contrast; `t = T(x, z)` and `gaussian = 0`
    without. The networks run in inference mode.

    Returns:
        `(t, gaussian, codes)`: float32 tensors of shape `(batch,)` and the
        codes the adversary sees (z~ or z).

    Example:

    >>> import keras_avb
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> t, gaussian, codes = kl_terms(model, ops.ones((3, 4)), ops.zeros((3, 2)))
    >>> tuple(t.shape), float(ops.sum(ops.abs(gaussian)))
    ((3,), 0.0)
    """
    if model.adaptive_contrast:
        codes, log_r = model.contrast([z, mean, variance])
    else:
        codes = z
    t = ops.cast(ops.reshape(model.adversary([x, codes], training=False), (-1,)), "float32")
    if model.adaptive_contrast:
        gaussian = log_r - model.prior.log_prob(ops.cast(z, "float32"))
        gaussian = ops.cast(gaussian, "float32")
    else:
        gaussian = ops.zeros_like(t)
    return t, gaussian, codes


def _knn(codes, reference, k, index):
    try:
        return kl_divergence_knn(codes, reference, k=k)
    except ValueError as error:
        raise ValueError(
            f"Example {index} of `x`: the kNN estimate failed on its codes "
            f"({error}). Repeated codes mean q(z|x) is (nearly) a point mass, "
            "whose KL to a density is infinite."
        ) from error


def gaussian_kl_bound(samples):
    """KL(N(m, C) || N(0, I)) for the sample mean m and covariance C.

    A lower bound on KL(q || N(0, I)) for the distribution q of `samples`
    (up to sampling error), since KL(q || N(0, I)) = KL(q || N(m, C)) +
    KL(N(m, C) || N(0, I)) when m and C are q's moments. For AC's
    normalised codes, diagonal moments make the variances 1 but leave the
    correlations, so the bound is large when q(z|x) lies near a subspace.
    NaN when there are no more samples than dimensions.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> round(gaussian_kl_bound(rng.normal(size=(100000, 2)) * [1.0, 2.0]), 2)
    0.81
    """
    samples = np.asarray(samples, dtype="float64")
    if samples.ndim == 1:
        samples = samples[:, None]
    num, dim = samples.shape
    if num <= dim:
        return math.nan
    mean = samples.mean(axis=0)
    covariance = np.atleast_2d(np.cov(samples, rowvar=False))
    sign, log_det = np.linalg.slogdet(covariance)
    if sign <= 0:
        return math.inf
    return float(0.5 * (np.trace(covariance) + mean @ mean - dim - log_det))


def knn_calibration(dim, num_samples, k=DEFAULT_K, correlations=(0.0, 0.3, 0.6), seed=0):
    """kNN estimates of KL(N(0, C) || N(0, I)) beside the exact values.

    `C` has unit variances and equal correlations `rho` (so p has the same
    per-dimension moments as N(0, I), as Adaptive Contrast's normalised
    codes do) and KL = -0.5 log det C. Run it with the latent dimension and
    `num_samples` of an `adversary_kl_check` to read off the kNN
    estimator's own finite-sample bias.

    Returns:
        A list of `(rho, exact, estimate)` tuples of floats.

    Example:

    >>> rows = knn_calibration(dim=2, num_samples=2000, correlations=(0.0, 0.6))
    >>> [round(exact, 3) for _, exact, _ in rows]
    [0.0, 0.223]
    >>> all(abs(estimate - exact) < 0.15 for _, exact, estimate in rows)
    True
    """
    dim = validation.check_int(dim, "dim", minimum=1)
    num_samples = validation.check_int(num_samples, "num_samples", minimum=2)
    k = validation.check_int(k, "k", minimum=1)
    rng = np.random.default_rng(seed)
    rows = []
    for rho in correlations:
        rho = float(rho)
        if not -1.0 / max(dim - 1, 1) < rho < 1.0:
            raise ValueError(
                f"A correlation of {rho} does not give a positive definite "
                f"covariance in {dim} dimensions."
            )
        cov = (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))
        exact = float(-0.5 * np.linalg.slogdet(cov)[1]) + 0.0  # no -0.0
        p = rng.multivariate_normal(np.zeros(dim), cov, size=num_samples)
        q = rng.normal(0.0, 1.0, (num_samples, dim))
        rows.append((rho, exact, kl_divergence_knn(p, q, k=k)))
    return rows
