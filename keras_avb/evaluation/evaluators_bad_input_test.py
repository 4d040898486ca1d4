"""The evaluators reject bad input with a clear error before any sampling."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb import evaluation
from keras_avb.distributions import StandardNormal
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder

# Each evaluator with options that make a (wrongly) accepted call quick.
EVALUATORS = {
    "ais": lambda decoder, x, **kw: evaluation.ais_log_likelihood(
        decoder, "bernoulli", kw.pop("prior", None), x,
        **{"num_steps": 2, "num_chains": 2, "num_leapfrog_steps": 1, **kw},
    ),
    "importance": lambda decoder, x, **kw: evaluation.importance_log_likelihood(
        decoder, "bernoulli", kw.pop("prior", None), x, **{"num_samples": 2, **kw}
    ),
    "quadrature": lambda decoder, x, **kw: evaluation.quadrature_log_likelihood(
        decoder, "bernoulli", kw.pop("prior", None), x, **{"num_points": 4, **kw}
    ),
}

BAD_DATA = [
    (np.where(np.eye(4)[[0, 1, 2, 3] * 2] > 0, np.nan, 0.0), "`x` contains 8 NaN or infinite"),
    (np.where(np.eye(4)[[0, 1, 2, 3] * 2] > 0, np.inf, 0.0), "`x` contains 8 NaN or infinite"),
    (np.zeros((4, 5), "float32"), r"`x` has examples of shape \(5,\).*decoder models.*\(4,\)"),
    (np.full((4, 4), 0.5, "float32"), "`x` must be binary"),
    (np.zeros((0, 4), "float32"), "`x` is empty"),
    (np.array([["a"] * 4] * 4), "must hold numbers"),
    (np.eye(4, dtype="complex64"), "complex dtype"),
    (np.eye(4).astype(object), "(dtype object|must hold numbers)"),
    (np.zeros(4, "float32"), "batch axis"),
    (None, "None"),
]
BAD_DATA_IDS = [
    "nan", "inf", "shape", "non_binary", "empty", "strings", "complex", "object",
    "no_batch_axis", "none",
]


def decoder():
    return tiny_decoder()


@pytest.mark.parametrize("name", sorted(EVALUATORS))
@pytest.mark.parametrize("x, message", BAD_DATA, ids=BAD_DATA_IDS)
def test_evaluators_reject_bad_data(name, x, message):
    with pytest.raises(ValueError, match=message):
        EVALUATORS[name](decoder(), x)


@pytest.mark.parametrize("name", sorted(EVALUATORS))
def test_evaluators_reject_a_prior_of_another_latent_size(name):
    with pytest.raises(ValueError, match="does not accept latent codes of size 3"):
        EVALUATORS[name](decoder(), four_point_data(4), prior=StandardNormal(3))


@pytest.mark.parametrize("name", sorted(EVALUATORS))
def test_evaluators_accept_integer_data(name):
    # Integer and boolean 0/1 data are cast to float32.
    result = EVALUATORS[name](decoder(), four_point_data(4).astype("uint8"))
    values = getattr(result, "log_likelihood", result)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(values)))


@pytest.mark.parametrize(
    "name, kwargs, message",
    [
        ("ais", {"num_steps": 0}, "`num_steps` must be an integer >= 1"),
        ("ais", {"num_steps": 2.5}, r"`num_steps`.*2\.5 \(of type float\)"),
        ("ais", {"num_chains": 0}, "`num_chains` must be an integer >= 1"),
        ("ais", {"num_chains": "5"}, "`num_chains`.*of type str"),
        ("ais", {"num_leapfrog_steps": -1}, "`num_leapfrog_steps`"),
        ("ais", {"step_size": float("nan")}, "`step_size` must be a finite number > 0"),
        ("ais", {"step_size": 0.0}, "`step_size` must be a finite number > 0"),
        ("ais", {"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ("ais", {"target_accept": (0.7, 0.6)}, "`target_accept` must be"),
        ("ais", {"target_accept": 0.65}, "`target_accept` must be None or a pair"),
        ("ais", {"adaptation_factor": 0.5}, "`adaptation_factor`"),
        ("ais", {"adaptation": "both"}, "`adaptation` must be one of"),
        ("ais", {"seed": -3}, "`seed` must be None, an integer >= 0"),
        (
            "ais",
            {"initial": (np.full((4, 2), np.nan), np.ones((4, 2)))},
            "the mean of `initial` contains 8 NaN",
        ),
        (
            "ais",
            {"initial": (np.zeros((4, 2)), np.zeros((4, 2)))},
            "variances of `initial` must be positive",
        ),
        (
            "ais",
            {"initial": (np.zeros((4, 3)), np.ones((4, 3)))},
            "does not accept latent codes of size 3",
        ),
        ("importance", {"num_samples": 0}, "`num_samples` must be an integer >= 1"),
        ("importance", {"num_samples": 2.5}, "`num_samples`.*of type float"),
        ("importance", {"batch_size": -1}, "`batch_size` must be an integer >= 1"),
        ("importance", {"samples_per_batch": 0}, "`samples_per_batch`"),
        (
            "importance",
            {"proposal": (np.zeros((4, 2)), np.full((4, 2), np.inf))},
            "the variance of `proposal` contains 8 NaN",
        ),
        (
            "importance",
            {"proposal": (np.zeros((2, 2)), np.ones((2, 2)))},
            r"`proposal` must give a mean and a variance of shape \(4, 2\)",
        ),
        ("quadrature", {"num_points": 0}, "`num_points` must be an integer >= 1"),
        ("quadrature", {"num_points": 2.5}, "`num_points`"),
        ("quadrature", {"limit": 0.0}, "`limit` must be a finite number > 0"),
        ("quadrature", {"limit": float("inf")}, "`limit`"),
        ("quadrature", {"grid_batch_size": 0}, "`grid_batch_size`"),
        ("quadrature", {"data_batch_size": 0}, "`data_batch_size`"),
    ],
)
def test_evaluators_reject_bad_options(name, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EVALUATORS[name](decoder(), four_point_data(4), **kwargs)


@pytest.mark.parametrize("name", sorted(EVALUATORS))
def test_evaluators_reject_a_decoder_that_is_not_callable(name):
    with pytest.raises(ValueError, match="`decoder` must be"):
        EVALUATORS[name](None, four_point_data(4), prior=StandardNormal(2))


def tiny_avb(encoder=None, **kwargs):
    return keras_avb.AVB(
        encoder or tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        **kwargs,
    )


@pytest.mark.parametrize("x, message", BAD_DATA, ids=BAD_DATA_IDS)
def test_evaluate_log_likelihood_rejects_bad_data(x, message):
    message = message.replace("decoder models", "model expects")
    with pytest.raises(ValueError, match=message):
        evaluation.evaluate_log_likelihood(tiny_avb(), x, method="importance", num_samples=2)


@pytest.mark.parametrize(
    "x, message",
    [case for case in BAD_DATA if "binary" not in case[1]],
    ids=[i for i, case in zip(BAD_DATA_IDS, BAD_DATA) if "binary" not in case[1]],
)
def test_posterior_moments_rejects_bad_data(x, message):
    message = message.replace("decoder models", "model expects")
    with pytest.raises(ValueError, match=message):
        evaluation.posterior_moments(tiny_avb(), x)


def test_evaluate_log_likelihood_rejects_bad_model_and_method():
    with pytest.raises(ValueError, match="`model` must be a keras_avb.AVB"):
        evaluation.evaluate_log_likelihood(None, four_point_data(4))
    with pytest.raises(ValueError, match="`method` must be one of"):
        evaluation.evaluate_log_likelihood(tiny_avb(), four_point_data(4), method="quad")
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        evaluation.posterior_moments(tiny_avb(), four_point_data(4), batch_size=0)


def test_posterior_moments_of_a_single_example_are_not_degenerate():
    # The basis-noise encoder estimates the moments from the batch's noise;
    # one example alone would give variance 0 (only AC's epsilon remains).
    model = tiny_avb(tiny_basis_noise_encoder(), adaptive_contrast=True)
    x = four_point_data(1)
    _, variance = evaluation.posterior_moments(model, x)
    # The reference: the same example in a batch of `moment_samples` rows
    # (the same shape, so JAX compiles nothing new).
    rows = model.moment_samples
    _, reference = evaluation.posterior_moments(model, np.repeat(x, rows, axis=0))
    excess = variance[0] - model.contrast_epsilon
    expected = reference[0] - model.contrast_epsilon
    # Both are estimates from 16 noise draws: agree within a loose factor.
    assert np.all(excess > 0.1 * expected), (variance, reference)
    assert np.all(excess < 10.0 * expected), (variance, reference)


@pytest.mark.parametrize(
    "p, q, k, message",
    [
        (np.array([["a", "b"]] * 5), np.zeros((5, 2)), 1, "`samples_p` must hold numbers"),
        (np.zeros((5, 2)) + 1j, np.zeros((5, 2)), 1, "`samples_p` has the complex dtype"),
        (None, np.zeros((5, 2)), 1, "`samples_p` is None"),
        (np.random.default_rng(0).normal(size=(5, 2)), np.full((5, 2), np.nan), 1,
         "`samples_q` contains 10 NaN"),
        (np.zeros((5, 2)), np.zeros((5, 3)), 1, "same d"),
        (np.zeros((0, 2)), np.zeros((5, 2)), 1, "at least k \\+ 1 samples"),
        (np.zeros((5, 2)), np.zeros((5, 2)), 2.5, "`k` must be an integer >= 1"),
        (np.zeros((5, 2)), np.zeros((5, 2)), 0, "`k` must be an integer >= 1"),
    ],
)
def test_kl_divergence_knn_rejects_bad_samples(p, q, k, message):
    with pytest.raises(ValueError, match=message):
        evaluation.kl_divergence_knn(p, q, k=k)
