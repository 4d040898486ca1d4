import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.models import input_checks
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def avb(encoder):
    return keras_avb.AVB(encoder, tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1))


def test_one_input_only():
    input_checks.check_one_input(np.zeros((2, 4)))
    input_checks.check_one_input([[0.0, 1.0], [1.0, 0.0]])  # nested numbers: one array
    with pytest.raises(ValueError, match=r"a tuple of 2 elements.*`model.fit\(data\)`"):
        input_checks.check_one_input((np.zeros((2, 4)), np.zeros(2)))
    with pytest.raises(ValueError, match=r"a list of 1 element.*`model.evaluate\(x\[0\]\)`"):
        input_checks.check_one_input([np.zeros((2, 4))], method="evaluate")


def test_labels_and_sizes_of_batches():
    assert input_checks.has_labels((np.zeros((2, 4)), np.zeros(2)))
    assert not input_checks.has_labels((np.zeros((2, 4)), None))
    assert input_checks.num_examples((np.zeros((5, 4)), np.zeros(5))) == 5
    assert input_checks.num_examples(iter([])) is None

    class Empty(keras.utils.PyDataset):
        def __len__(self):
            return 0

        def __getitem__(self, index):
            raise IndexError(index)

    with pytest.raises(ValueError, match="The data set is empty"):
        input_checks.peek_batch(Empty())


def test_batch_moments_need_two_examples_per_batch():
    basis = avb(tiny_basis_noise_encoder())
    black_box = avb(tiny_black_box_encoder())
    assert input_checks.uses_batch_moments(basis)
    assert not input_checks.uses_batch_moments(black_box)
    x = np.zeros((9, 4), "float32")
    # 9 examples in batches of 4: a last batch of one, and a size that avoids it.
    with pytest.raises(ValueError, match=r"last batch of `x` would hold one example.*batch size 5"):
        input_checks.check_batch_moments_batch_size(basis, x, 4, "x")
    input_checks.check_batch_moments_batch_size(basis, x, 4, "x", steps=2)  # never reached
    input_checks.check_batch_moments_batch_size(black_box, x, 4, "x")
    with pytest.raises(ValueError, match="batches of one example"):
        input_checks.check_batch_moments_batch_size(basis, x, 1, "x")
