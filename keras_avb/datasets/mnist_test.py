"""Tests of the MNIST loaders on the project's local archives (no downloads)."""

import os
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_avb.datasets import DynamicBinarization
from keras_avb.datasets import binarize
from keras_avb.datasets import load_binarized_mnist
from keras_avb.datasets import load_mnist


def _data_dir():
    if os.environ.get("KERAS_AVB_DATA_DIR"):
        return Path(os.environ["KERAS_AVB_DATA_DIR"])
    # <checkout>/keras_avb/datasets/mnist_test.py -> <checkout>/../shared/data
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def _archive(name):
    path = _data_dir() / name
    if not path.is_file():
        pytest.skip(f"missing data file {path} (set KERAS_AVB_DATA_DIR)")
    return path


def test_load_mnist_grey_scale():
    (x_train, y_train), (x_test, y_test) = load_mnist(_archive("mnist.npz"))
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x_train.dtype == np.float32
    assert 0.0 <= x_train[:1000].min() and x_train[:1000].max() <= 1.0
    # Published facts about MNIST (see shared/data/README.md).
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    np.testing.assert_allclose(x_train.mean(dtype="float64"), 0.1306604762738429, rtol=1e-6)
    (images, _), _ = load_mnist(_data_dir(), flatten=False)  # a folder works too
    assert images.shape == (60000, 28, 28)
    np.testing.assert_array_equal(images[:5].reshape(5, -1), x_train[:5])


def test_static_binarization_is_fixed_by_the_seed():
    path = _archive("mnist.npz")
    (x_train, _), (x_test, _) = load_mnist(path, binarization="static", seed=1)
    (again, _), _ = load_mnist(path, binarization="static", seed=1)
    (other, _), _ = load_mnist(path, binarization="static", seed=2)
    (grey, _), _ = load_mnist(path)
    assert set(np.unique(x_train[:500])) == {0.0, 1.0}
    np.testing.assert_array_equal(x_train[:500], again[:500])
    assert not np.array_equal(x_train[:500], other[:500])
    # The draws are Bernoulli with the intensities as means.
    assert abs(x_train[:5000].mean() - grey[:5000].mean()) < 0.005
    # A one-pixel of a binary image is never a zero-intensity pixel.
    assert np.all(grey[:500][x_train[:500] == 1] > 0)
    assert x_test.shape == (10000, 784)


def test_dynamic_binarization_redraws_every_epoch():
    path = _archive("mnist.npz")
    (train, y_train), (x_test, _) = load_mnist(
        path, binarization="dynamic", batch_size=100, shuffle=False, seed=3
    )
    (grey, _), _ = load_mnist(path)
    assert isinstance(train, keras.utils.PyDataset)
    assert len(train) == 600
    first = train[0]
    assert first.shape == (100, 784) and set(np.unique(first)) == {0.0, 1.0}
    np.testing.assert_array_equal(train[0], first)  # same epoch, same draw
    assert np.all(grey[:100][first == 1] > 0)  # unshuffled: rows of x_train
    train.on_epoch_end()
    second = train[0]
    assert not np.array_equal(first, second)
    assert abs(first.mean() - second.mean()) < 0.02
    # The test set is binarized once.
    (_, _), (x_test_again, _) = load_mnist(path, binarization="dynamic", seed=3)
    np.testing.assert_array_equal(x_test[:200], x_test_again[:200])


def test_dynamic_binarization_trains_a_model_and_shuffles():
    x = np.tile(np.linspace(0.0, 1.0, 8, dtype="float32"), (40, 1))
    y = np.arange(40)
    data = DynamicBinarization(x, y, batch_size=16, seed=0)
    xb, yb = data[0]
    assert xb.shape == (16, 8) and yb.shape == (16,)
    assert not np.array_equal(yb, np.arange(16))  # shuffled
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    history = model.fit(
        DynamicBinarization(x, y.astype("float32"), batch_size=16, seed=0),
        epochs=2,
        verbose=0,
    )
    assert len(history.history["loss"]) == 2
    with pytest.raises(ValueError, match="examples"):
        DynamicBinarization(x, y[:3])


def test_binarize_and_argument_errors():
    x = np.full((200, 50), 0.3, dtype="float32")
    b = binarize(x, seed=0)
    assert abs(b.mean() - 0.3) < 0.02
    np.testing.assert_array_equal(b, binarize(x, seed=0))
    with pytest.raises(ValueError, match="binarization"):
        load_mnist(_archive("mnist.npz"), binarization="threshold")
    with pytest.raises(FileNotFoundError):
        load_mnist(_data_dir() / "no_such_file.npz")


def test_load_binarized_mnist():
    path = _archive("binarized_mnist.npz")
    x_train, x_valid, x_test = load_binarized_mnist(path)
    assert (x_train.shape, x_valid.shape, x_test.shape) == (
        (50000, 784), (10000, 784), (10000, 784)
    )
    assert x_train.dtype == np.float32
    # Counts of ones published in shared/data/README.md.
    assert int(x_valid.sum()) == 1028036
    assert int(x_test.sum()) == 1038896
    images, _, _ = load_binarized_mnist(path, flatten=False, dtype="uint8")
    assert images.shape == (50000, 28, 28) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[:3].reshape(3, -1), x_train[:3])


def test_environment_variable_locates_the_archives(monkeypatch):
    _archive("binarized_mnist.npz")
    monkeypatch.setenv("KERAS_AVB_DATA_DIR", str(_data_dir()))
    _, _, x_test = load_binarized_mnist()
    assert x_test.shape == (10000, 784)


def _offline(monkeypatch, tmp_path):
    """No network, an empty Keras cache and no `$KERAS_AVB_DATA_DIR`.

    `urllib.request.urlopen` raises what it raises without a network, so
    Keras' `get_file` fails as it does offline ("URL fetch failure on ...").
    """
    import urllib.error
    import urllib.request

    def unreachable(*args, **kwargs):
        raise urllib.error.URLError(OSError(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(urllib.request, "urlopen", unreachable)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_AVB_DATA_DIR", raising=False)


@pytest.mark.parametrize(
    "load, archive, keys",
    [
        (load_mnist, "mnist.npz", "`x_train` .60000, 28, 28."),
        (load_binarized_mnist, "binarized_mnist.npz", "`train` .50000, 784."),
    ],
    ids=["mnist", "binarized_mnist"],
)
def test_offline_without_a_path_names_the_path_argument(monkeypatch, tmp_path, load, archive, keys):
    # Before, Keras' bare `Exception("URL fetch failure ...")` came through.
    _offline(monkeypatch, tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        load()
    message = str(error.value)
    assert f"{archive} was not found locally and could not be downloaded" in message
    assert "URL fetch failure" in message  # Keras' own reason is kept
    assert "the `path` argument" in message and "`$KERAS_AVB_DATA_DIR`" in message
    assert re.search(keys, message), message
    assert str(tmp_path / "datasets") in message  # where it looked
    assert "KERAS_AVB_DATA_DIR is not set" in message
    # With the variable set (to a folder without the file) it is searched too.
    monkeypatch.setenv("KERAS_AVB_DATA_DIR", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "data"))):
        load()


def test_a_file_that_is_not_the_archive_is_named(tmp_path):
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match=r"has no array\(s\) \['x_train'.*expected a `mnist.npz`"):
        load_mnist(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"has no array\(s\) \['train'.*`binarized_mnist.npz`"):
        load_binarized_mnist(tmp_path / "other.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        load_mnist(tmp_path / "text.npz")
    np.save(tmp_path / "array.npy", np.zeros(3))
    with pytest.raises(ValueError, match="holds one array, not an archive"):
        load_mnist(tmp_path / "array.npy")
    with pytest.raises(FileNotFoundError, match=r"No such file.*\(from `path`\)"):
        load_mnist(tmp_path / "missing.npz")
    with pytest.raises(ValueError, match="`path` must be a file or folder path"):
        load_mnist(3)
