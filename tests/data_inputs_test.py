"""AVB trains from NumPy, tf.data, a torch DataLoader and a PyDataset."""

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


class FourPointBatches(keras.utils.PyDataset):
    def __len__(self):
        return 4

    def __getitem__(self, index):
        return (four_point_data(16, seed=index),)


def tf_dataset():
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices(four_point_data(64)).batch(16)


def torch_loader():
    import torch

    dataset = torch.utils.data.TensorDataset(torch.from_numpy(four_point_data(64)))
    return torch.utils.data.DataLoader(dataset, batch_size=16)


@pytest.mark.parametrize(
    "make_data",
    [lambda: (four_point_data(64),), FourPointBatches, tf_dataset, torch_loader],
    ids=["numpy_tuple", "py_dataset", "tf_data", "torch_dataloader"],
)
def test_fit_and_evaluate_accept_each_kind_of_data(make_data):
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        seed=0,
    )
    model.compile()
    data = make_data()
    x = data[0] if isinstance(data, tuple) else data
    batching = {"batch_size": 16} if isinstance(x, np.ndarray) else {}
    history = model.fit(x, epochs=1, verbose=0, validation_data=make_data(), **batching)
    assert int(model.optimizer.iterations) == 4
    assert np.isfinite(history.history["val_iw_bound"][0])
    assert np.isfinite(model.evaluate(x, verbose=0, return_dict=True)["iw_bound"])
