import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.datasets import DynamicBinarization
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_avb
from keras_avb.testing import tiny_vae
from keras_avb.testing import tiny_decoder
from keras_avb.training import fit_steps

BACKEND = keras.backend.backend()


def regression():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class CountingBatches(keras.utils.PyDataset):
    """5 batches of 2 four-pixel binary images; counts `on_epoch_end` calls."""

    def __init__(self):
        super().__init__()
        self.x = four_point_data(10)
        self.passes = 0

    @property
    def num_batches(self):
        return 5

    def __len__(self):
        return 5

    def __getitem__(self, index):
        return self.x[2 * index: 2 * index + 2]

    def on_epoch_end(self):
        self.passes += 1


class EpochLengths(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.lengths = []

    def on_epoch_begin(self, epoch, logs=None):
        self.lengths.append(0)

    def on_train_batch_end(self, batch, logs=None):
        self.lengths[-1] += 1


def test_plain_fit_makes_fewer_steps_than_epochs_times_steps_per_epoch():
    # The failure `fit_steps` exists for: Keras carries the iterator over
    # epochs and ends an epoch early when the 5 batches run out.
    model = tiny_vae()
    model.fit(CountingBatches(), epochs=4, steps_per_epoch=3, verbose=0)
    assert int(model.optimizer.iterations) < 12


@pytest.mark.parametrize("kind", ["vae", "avb_two_adversary_steps"])
def test_py_dataset_exact_steps_and_epoch_lengths(kind):
    model = tiny_vae() if kind == "vae" else tiny_avb(add_squared_norm=True, adversary_steps=2, seed=0)
    data, lengths = CountingBatches(), EpochLengths()
    history = fit_steps(model, data, steps=11, steps_per_epoch=3, callbacks=[lengths],
                        verbose=0)
    assert int(model.optimizer.iterations) == 11
    assert lengths.lengths == [3, 3, 3, 2]
    assert len(history.history["loss"]) == 4
    # 11 batches of a 5-batch data set: two full passes, each followed by a
    # call to `on_epoch_end` (at the end of a pass, not of Keras' epoch).
    assert data.passes == 2
    if kind == "avb_two_adversary_steps":
        assert int(model.adversary_optimizer.iterations) == 22


def test_arrays_default_epoch_is_one_pass():
    model, lengths = regression(), EpochLengths()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    fit_steps(model, x, x[:, :1], steps=7, batch_size=4, callbacks=[lengths], verbose=0)
    assert int(model.optimizer.iterations) == 7
    assert lengths.lengths == [3, 3, 1]  # ceil(10 / 4) = 3 batches per pass


def test_arrays_are_reshuffled_every_pass():
    from keras_avb.training import _cycled

    x = np.arange(8, dtype="float32")
    data, passes = _cycled(regression(), x, None, {"batch_size": 3})
    assert passes == 3
    batches = [next(data)[0] for _ in range(6)]
    assert [len(b) for b in batches] == [3, 3, 2] * 2
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(8))
    assert not np.array_equal(first, second)


@pytest.mark.skipif(
    BACKEND != "torch",
    reason="a torch DataLoader on the other backends needs torch, which the "
    "JAX and TensorFlow installs need not have",
)
def test_torch_data_loader():
    import torch

    loader = torch.utils.data.DataLoader(
        torch.from_numpy(four_point_data(10)), batch_size=2, shuffle=True
    )
    model, lengths = tiny_vae(), EpochLengths()
    fit_steps(model, loader, steps=8, steps_per_epoch=3, callbacks=[lengths], verbose=0)
    assert int(model.optimizer.iterations) == 8
    assert lengths.lengths == [3, 3, 2]


def test_tf_data():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices(four_point_data(10)).batch(2)
    model, lengths = tiny_vae(), EpochLengths()
    fit_steps(model, dataset, steps=8, steps_per_epoch=3, callbacks=[lengths], verbose=0)
    assert int(model.optimizer.iterations) == 8
    assert lengths.lengths == [3, 3, 2]


def test_dynamic_binarization_steps_per_epoch_larger_than_a_pass():
    data = DynamicBinarization(np.full((6, 4), 0.5), batch_size=2, seed=0)
    model = tiny_vae()
    fit_steps(model, data, steps=10, steps_per_epoch=4, verbose=0)
    assert int(model.optimizer.iterations) == 10
    assert data.epoch == 3  # 10 batches of a 3-batch data set: 3 full passes


def test_short_generator_raises():
    def three_batches():
        for _ in range(3):
            yield (four_point_data(2),)

    model = tiny_vae()
    with pytest.raises(RuntimeError, match="data ran out after 3"):
        fit_steps(model, three_batches(), steps=5, steps_per_epoch=5, verbose=0)


def test_early_stopping_is_not_an_error():
    model = regression()
    x = np.zeros((8, 4), "float32")
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=1.0)
    fit_steps(model, x, x[:, :1], steps=40, steps_per_epoch=4, callbacks=[stop], verbose=0)
    assert int(model.optimizer.iterations) == 8  # stopped after the second epoch


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"steps": 0}, "`steps` must be an integer >= 1"),
        ({"steps": 2.5}, "`steps` must be an integer"),
        ({"steps": 4, "steps_per_epoch": 0}, "`steps_per_epoch` must be an integer >= 1"),
        ({"steps": 4, "epochs": 2}, "computes `epochs`"),
        ({"steps": 4, "validation_split": 0.2}, "validation_split"),
    ],
)
def test_bad_arguments(kwargs, message):
    model = regression()
    x = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match=message):
        fit_steps(model, x, x[:, :1], **kwargs)
    assert int(model.optimizer.iterations) == 0


def test_uncompiled_model_and_array_options_with_a_data_set():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="compile"):
        fit_steps(model, np.zeros((4, 4)), steps=1)
    with pytest.raises(ValueError, match="`batch_size` apply to array data only"):
        fit_steps(tiny_vae(), CountingBatches(), steps=1, batch_size=2)


@pytest.mark.skipif(
    BACKEND == "torch", reason="Keras' PyTorch backend allows no steps_per_execution > 1"
)
def test_steps_per_execution_must_divide_the_steps():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", steps_per_execution=2)
    x = np.zeros((8, 4), "float32")
    with pytest.raises(ValueError, match="multiples of it"):
        fit_steps(model, x, x[:, :1], steps=5, steps_per_epoch=2, batch_size=2, verbose=0)
    fit_steps(model, x, x[:, :1], steps=6, steps_per_epoch=4, batch_size=2, verbose=0)
    assert int(model.optimizer.iterations) == 6


def test_progress_bar_shows_the_steps_of_the_short_last_epoch(capsys):
    model = regression()
    x = np.zeros((8, 4), "float32")
    fit_steps(model, x, x[:, :1], steps=5, steps_per_epoch=3, batch_size=2, verbose=2)
    lines = [line for line in capsys.readouterr().out.splitlines() if " - loss" in line]
    assert [line.split(" ")[0] for line in lines] == ["3/3", "2/2"], lines


# ----------------------------------------------------------------------
# The models' data checks run before the data becomes a generator
# ----------------------------------------------------------------------
def test_a_tuple_x_is_rejected_before_training():
    model = tiny_avb(add_squared_norm=True, seed=0)
    x = four_point_data(8)
    with pytest.raises(ValueError, match="tuple"):
        fit_steps(model, (x, np.zeros(8)), steps=2, verbose=0)
    assert not model.optimizer.built or int(model.optimizer.iterations) == 0


def test_a_data_loader_with_a_last_batch_of_one_is_rejected_for_batch_moments():
    # fit_steps feeds fit a generator, which Keras cannot inspect: the
    # basis-noise encoder's batch-of-one check must run on the DataLoader.
    torch = pytest.importorskip("torch")
    from keras_avb.testing import tiny_basis_noise_encoder

    model = keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        adaptive_contrast=True,
        seed=0,
    )
    model.compile()
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(four_point_data(9)))
    loader = torch.utils.data.DataLoader(dataset, batch_size=4)
    with pytest.raises(ValueError, match="last batch of `x` would hold one example"):
        fit_steps(model, loader, steps=5, verbose=0)
    assert not model.optimizer.built or int(model.optimizer.iterations) == 0
