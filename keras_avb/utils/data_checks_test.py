import numpy as np
import pytest
from keras import ops

from keras_avb.distributions import Bernoulli
from keras_avb.utils import data_checks


def test_check_examples_returns_the_array_in_its_own_dtype():
    x = np.zeros((3, 2, 2), "uint8")
    checked = data_checks.check_examples(x, data_shape=(2, 2), likelihood=Bernoulli())
    assert checked.dtype == np.uint8 and checked.shape == (3, 2, 2)
    tensor = data_checks.check_examples(ops.ones((2, 4)))
    assert isinstance(tensor, np.ndarray) and tensor.shape == (2, 4)


@pytest.mark.parametrize(
    "x, message",
    [
        (None, "`x` is None"),
        ("data", "must be an array"),
        (np.zeros(4, "float32"), "must have a batch axis"),
        (np.zeros((0, 4), "float32"), "is empty"),
        (np.zeros((2, 4), "complex64"), "complex dtype"),
        (np.array([[1, "a"]], dtype=object), "dtype object"),
        (np.array([["a", "b"]]), "must hold numbers"),
        (np.array([[0.0, np.nan, 0, 0], [np.inf, 1.0, 0, 0]], "float32"), "contains 2 NaN or inf"),
        (np.array([[1e39, 0.0, 0.0, 0.0]], "float64"), "beyond the float32 range"),
        (np.zeros((2, 3), "float32"), r"examples of shape \(3,\), but the model expects"),
    ],
)
def test_check_examples_names_the_problem(x, message):
    with pytest.raises(ValueError, match=message):
        data_checks.check_examples(x, data_shape=(4,))


def test_bernoulli_data_must_be_binary():
    with pytest.raises(ValueError, match="binar"):
        data_checks.check_examples(np.full((2, 4), 255, "uint8"), likelihood=Bernoulli())


def test_check_values_reads_large_arrays_in_chunks():
    # More elements than one chunk; the NaN sits in the last chunk.
    rows = 2 * data_checks._CHUNK_ELEMENTS // 8 + 1
    x = np.zeros((rows, 8), "float32")
    x[-1, -1] = np.nan
    with pytest.raises(ValueError, match="contains 1 NaN"):
        data_checks.check_values(x, "x")


def test_check_gaussian_needs_positive_variances():
    data_checks.check_gaussian(np.zeros((2, 2)), np.ones((2, 2)), "initial")
    with pytest.raises(ValueError, match="variances of `initial` must be positive"):
        data_checks.check_gaussian(np.zeros((2, 2)), np.zeros((2, 2)), "initial")


def test_is_concrete_tells_values_from_symbols():
    import keras

    assert data_checks.is_concrete(np.zeros(2))
    assert data_checks.is_concrete(ops.zeros(2))
    assert not data_checks.is_concrete(keras.KerasTensor((None, 2)))
    assert not data_checks.is_concrete(None)
