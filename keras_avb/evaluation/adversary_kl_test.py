"""`adversary_kl_check` against KLs known in closed form, and its input checks."""

import math

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.evaluation import AdversaryKLResult
from keras_avb.evaluation import adversary_kl
from keras_avb.evaluation import adversary_kl_check
from keras_avb.evaluation.adversary_kl import gaussian_kl_bound
from keras_avb.evaluation.adversary_kl import kl_terms
from keras_avb.evaluation.adversary_kl import knn_calibration
from keras_avb.models.avb import GENERATOR
from keras_avb.testing import fixed_gaussian_encoder
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder

# q(z|x_i) = N(W[i] + b, diag(SCALE^2)) for the one-hot x_i = e_i.
KERNEL = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.5, 0.5]], "float32")
BIAS = np.zeros(2, "float32")
SCALE = np.array([0.6, 0.9], "float32")
X = np.eye(4, dtype="float32")
NUM_SAMPLES = 1000
# The kNN estimator's spread at these sizes (2 dimensions, 1000 vs 1000
# samples, k = 3, KL <= 1) is about 0.06 nats per example (measured over
# 100 repetitions): the tolerances are 5 of those, and 0.15 for a mean of 4.
PER_EXAMPLE = 0.3
MEAN_OF_FOUR = 0.15


def exact_kl():
    """KL(q(z|x_i) || N(0, I)) for each row of X, in closed form."""
    mean = X @ KERNEL + BIAS
    return 0.5 * np.sum(
        SCALE**2 + mean**2 - 1.0 - 2.0 * np.log(SCALE), axis=-1
    ).astype("float64")


class ConstantAdversary(keras.layers.Layer):
    """T(x, z) = value for every input."""

    def __init__(self, value, **kwargs):
        super().__init__(**kwargs)
        self.value = float(value)

    def call(self, inputs):
        _, z = inputs
        return ops.sum(z * 0.0, axis=-1, keepdims=True) + self.value


class GaussianLogRatio(keras.layers.Layer):
    """The optimal adversary without AC: log q(z|x) - log N(z; 0, I)."""

    def call(self, inputs):
        x, z = inputs
        mean = ops.matmul(x, ops.convert_to_tensor(KERNEL)) + BIAS
        scale = ops.convert_to_tensor(SCALE)
        log_q = -0.5 * ops.square((z - mean) / scale) - ops.log(scale)
        return ops.sum(log_q + 0.5 * ops.square(z), axis=-1, keepdims=True)


def gaussian_model(adversary, adaptive_contrast=False, scale=SCALE):
    return keras_avb.AVB(
        fixed_gaussian_encoder(KERNEL, BIAS, scale),
        tiny_decoder(),
        adversary,
        adaptive_contrast=adaptive_contrast,
    )


def test_optimal_adversary_without_ac_matches_the_exact_kl():
    model = gaussian_model(GaussianLogRatio())
    result = adversary_kl_check(model, X, num_samples=NUM_SAMPLES, seed=1, verbose=0)
    exact = exact_kl()
    assert isinstance(result, AdversaryKLResult)
    assert not result.adaptive_contrast
    np.testing.assert_array_equal(result.gaussian_part, 0.0)
    # E_q[T*] is the exact KL up to Monte Carlo error ...
    np.testing.assert_allclose(result.kl_adversary, exact, atol=0.1)
    # ... and the kNN estimate against prior draws is within its noise.
    np.testing.assert_allclose(result.kl_independent, exact, atol=PER_EXAMPLE)
    assert abs(np.mean(result.kl_independent - exact)) < MEAN_OF_FOUR
    np.testing.assert_array_equal(result.gap, result.kl_adversary - result.kl_independent)
    assert abs(result.gap_mean) < MEAN_OF_FOUR
    # For a Gaussian q the Gaussian bound is the KL itself (up to sampling).
    np.testing.assert_allclose(result.gaussian_lower_bound, exact, atol=0.1)


def test_a_zero_adversary_shows_a_negative_gap_of_the_whole_kl():
    model = gaussian_model(ConstantAdversary(0.0))
    result = adversary_kl_check(model, X, num_samples=NUM_SAMPLES, seed=2, verbose=0)
    np.testing.assert_array_equal(result.kl_adversary, 0.0)
    np.testing.assert_allclose(result.gap, -exact_kl(), atol=PER_EXAMPLE)
    assert result.gap_mean < -0.3  # the adversary underestimates the KL
    s = result.summary()
    assert s["kl_gap"] == pytest.approx(result.gap_mean)
    expected_se = np.std(result.gap, ddof=1) / 2.0
    assert s["kl_gap_standard_error"] == pytest.approx(expected_se)


def test_with_adaptive_contrast_the_gaussian_part_carries_a_gaussian_kl():
    value = 0.25
    model = gaussian_model(ConstantAdversary(value), adaptive_contrast=True)
    result = adversary_kl_check(model, X, num_samples=NUM_SAMPLES, seed=3, verbose=0)
    exact = exact_kl()
    assert result.adaptive_contrast
    np.testing.assert_allclose(result.adversary_part, value, rtol=1e-6)
    # q is Gaussian, so r = q (moments of the 1000 codes), the closed-form
    # part is the whole KL and q~ = N(0, I): the kNN part is only noise.
    np.testing.assert_allclose(result.gaussian_part, exact, atol=0.1)
    np.testing.assert_allclose(result.knn_part, 0.0, atol=PER_EXAMPLE)
    np.testing.assert_allclose(result.kl_independent, exact, atol=PER_EXAMPLE)
    np.testing.assert_allclose(
        result.kl_adversary, result.adversary_part + result.gaussian_part
    )
    np.testing.assert_allclose(
        result.kl_independent, result.knn_part + result.gaussian_part
    )
    np.testing.assert_allclose(result.gap, result.kl_adversary - result.kl_independent)
    np.testing.assert_allclose(result.gap, value - result.knn_part)
    np.testing.assert_allclose(result.gaussian_lower_bound, exact, atol=0.1)


@pytest.mark.parametrize("adaptive_contrast", [False, True], ids=["plain", "ac"])
def test_kl_terms_are_the_kl_that_the_model_trains_with(adaptive_contrast, monkeypatch):
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        adaptive_contrast=adaptive_contrast,
    )
    rng = np.random.default_rng(0)
    x = ops.convert_to_tensor(four_point_data(8))
    z = ops.convert_to_tensor(rng.normal(size=(8, 2)).astype("float32"))
    mean = ops.convert_to_tensor(rng.normal(size=(8, 2)).astype("float32"))
    variance = ops.convert_to_tensor(rng.uniform(0.2, 2.0, (8, 2)).astype("float32"))
    # The model's loss draws z from posterior(): give it fixed codes.
    monkeypatch.setattr(model, "posterior", lambda x, training=False: (z, mean, variance))
    _, values = model.compute_losses(x, players=(GENERATOR,), training=False)
    t, gaussian, _ = kl_terms(model, x, z, mean, variance)
    per_code = ops.convert_to_numpy(t + gaussian)
    kl = float(ops.convert_to_numpy(values["kl"]))
    assert kl == pytest.approx(float(np.mean(per_code)), rel=1e-5, abs=1e-5)
    if adaptive_contrast:
        assert float(np.max(np.abs(ops.convert_to_numpy(gaussian)))) > 0.1
    else:
        np.testing.assert_array_equal(ops.convert_to_numpy(gaussian), 0.0)


@pytest.mark.parametrize("covariance", ["diagonal", "full"])
def test_encoders_that_return_their_moments(covariance):
    x_in = keras.Input((4,))
    eps = keras.Input((6,))
    h = keras.layers.Dense(8, activation="softplus")(x_in)
    outputs = keras_avb.layers.BasisNoiseEncoder(
        latent_dim=2, num_bases=3, noise_dim=2, noise_units=(8,), covariance=covariance,
        coefficient_offset=0.0,
    )([h, eps])
    model = keras_avb.AVB(
        keras.Model([x_in, eps], outputs), tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1), adaptive_contrast=True,
    )
    result = adversary_kl_check(model, X[:2], num_samples=200, seed=0, verbose=0)
    for field in ("kl_adversary", "kl_independent", "gap", "gaussian_lower_bound"):
        assert np.all(np.isfinite(getattr(result, field))), field
    if covariance == "full":
        # The encoder's covariance (a batch estimate from the codes' own
        # noise) whitens the codes: their Gaussian KL to N(0, I) is close to
        # 0 (0.01-0.03 here; it omits the sample cross-covariances of the
        # bases, and the batch pools both examples' noise).
        np.testing.assert_allclose(
            result.gaussian_lower_bound, result.gaussian_part, atol=0.1
        )


def test_same_seed_same_result_and_the_model_noise_untouched():
    model = keras_avb.AVB(
        tiny_basis_noise_encoder(), tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1), adaptive_contrast=True,
    )
    state = ops.convert_to_numpy(model.seed_generator.state).copy()
    first = adversary_kl_check(model, X, num_samples=50, seed=7, verbose=0)
    second = adversary_kl_check(model, X, num_samples=50, seed=7, verbose=0)
    other = adversary_kl_check(model, X, num_samples=50, seed=8, verbose=0)
    np.testing.assert_allclose(first.gap, second.gap, rtol=1e-6, atol=1e-6)
    assert not np.allclose(first.knn_part, other.knn_part)
    np.testing.assert_array_equal(ops.convert_to_numpy(model.seed_generator.state), state)


def test_an_encoder_that_ignores_its_noise_is_reported():
    model = gaussian_model(ConstantAdversary(0.0), scale=[0.0, 0.0])
    with pytest.raises(ValueError, match="Example 0 of `x`.*point mass"):
        adversary_kl_check(model, X, num_samples=20, seed=0, verbose=0)


def _model():
    return keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), ConstantAdversary(0.0)
    )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(x=np.ones((2, 5), "float32")), "shape \\(5,\\).*\\(4,\\)"),
        (dict(x=np.ones(4, "float32")), "batch axis"),
        (dict(x=np.full((2, 4), np.nan, "float32")), "NaN"),
        (dict(x=np.zeros((0, 4), "float32")), "empty"),
        (dict(num_samples=3, k=3), "`num_samples` must be >= k \\+ 1 = 4"),
        (dict(num_samples=100.0), "`num_samples` must be an integer"),
        (dict(num_samples=1), "`num_samples` must be an integer >= 2"),
        (dict(k=0), "`k` must be an integer >= 1"),
        (dict(k=1.5), "`k` must be an integer"),
        (dict(seed=-1), "`seed`"),
        (dict(batch_size=0), "`batch_size`"),
        (dict(verbose="yes"), "`verbose`"),
    ],
)
def test_bad_arguments_raise_before_any_work(kwargs, message, monkeypatch):
    model = _model()

    def fail(*args, **kw):
        raise AssertionError("the networks ran before the arguments were checked")

    monkeypatch.setattr(adversary_kl, "_chunk_terms", fail)
    arguments = dict(x=X, num_samples=10, k=3, verbose=0)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        adversary_kl_check(model, **arguments)


@pytest.mark.parametrize("model", ["avb.keras", None])
def test_the_model_must_be_an_avb(model):
    with pytest.raises(ValueError, match="`model` must be a keras_avb.AVB"):
        adversary_kl_check(model, X, num_samples=10, verbose=0)


def test_a_vae_is_refused():
    x_in = keras.Input((4,))
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(2)(x_in)])
    vae = keras_avb.VAE(encoder, tiny_decoder())
    with pytest.raises(ValueError, match="Received: VAE"):
        adversary_kl_check(vae, X, num_samples=10, verbose=0)


def test_verbose(capsys):
    model = _model()
    adversary_kl_check(model, X, num_samples=10, seed=0, verbose=0)
    assert capsys.readouterr().out == ""
    adversary_kl_check(model, X, num_samples=10, seed=0, verbose=2, batch_size=1)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1 and "gap" in lines[0], lines


def test_gaussian_kl_bound_and_calibration():
    rng = np.random.default_rng(0)
    samples = rng.normal(size=(20000, 2)) * [0.5, 1.0] + [1.0, 0.0]
    exact = 0.5 * (0.25 - 1.0 - math.log(0.25) + 1.0)
    assert gaussian_kl_bound(samples) == pytest.approx(exact, abs=0.03)
    assert math.isnan(gaussian_kl_bound(samples[:2]))
    rows = knn_calibration(dim=3, num_samples=500, correlations=(0.5,), seed=0)
    (rho, exact, estimate), = rows
    assert rho == 0.5 and exact == pytest.approx(0.5 * math.log(2.0))
    assert abs(estimate - exact) < 0.3
    with pytest.raises(ValueError, match="positive definite"):
        knn_calibration(dim=3, num_samples=100, correlations=(-0.6,))
