import numpy as np
import pytest

from keras_avb.utils.shapes import flat_size


@pytest.mark.parametrize(
    "shape, size",
    [((784,), 784), ((28, 28, 1), 784), ((), 1), ((3, 0), 0), ([2, 3], 6)],
)
def test_flat_size(shape, size):
    assert flat_size(shape) == size
    assert type(flat_size(shape)) is int


def test_flat_size_of_numpy_dimensions_is_a_python_int():
    size = flat_size(np.zeros((4, 5, 6)).shape[1:])
    assert size == 30 and type(size) is int
    assert flat_size((np.int64(2), np.int32(3))) == 6


def test_flat_size_names_its_owner_when_a_dimension_is_unknown():
    with pytest.raises(ValueError, match=r"^The adversary needs a fully known data shape; got \(2, None\)\.$"):
        flat_size((2, None), owner="The adversary")
