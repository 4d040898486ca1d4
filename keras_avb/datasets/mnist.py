"""MNIST and the statically binarized MNIST of Larochelle and Murray (2011).

Both loaders read local `.npz` archives (`np.load`, no pickle). Where no path
is given they look in `$KERAS_AVB_DATA_DIR`, then in Keras' cache
(`$KERAS_HOME/datasets` or `~/.keras/datasets`), and only then download into
that cache. Offline, a failed download raises `FileNotFoundError` naming the
`path` argument, `$KERAS_AVB_DATA_DIR` and the archive's expected format.

Binarization of grey-scale MNIST (pixel intensities as Bernoulli means):

- `"dynamic"`: fresh Bernoulli draws every epoch for the training set, via
  the `DynamicBinarization` `keras.utils.PyDataset`; the test set is
  binarized once, with the seed, so evaluations are comparable;
- `"static"`: one draw for each set, with the seed;
- `None`: the grey-scale values in [0, 1].
"""

import os
from pathlib import Path

import keras
import numpy as np

from keras_avb.utils import validation

MNIST_FILE = "mnist.npz"
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MNIST_FORMAT = (
    "`mnist.npz` with arrays `x_train` (60000, 28, 28), `y_train` (60000,), "
    "`x_test` (10000, 28, 28) and `y_test` (10000,), images uint8 in 0..255 "
    "(Keras' `keras.datasets.mnist` archive)"
)
BINARIZED_MNIST_FILE = "binarized_mnist.npz"
BINARIZED_MNIST_FORMAT = (
    "`binarized_mnist.npz` with arrays `train` (50000, 784), `valid` "
    "(10000, 784) and `test` (10000, 784) of 0s and 1s (uint8)"
)
BINARIZED_MNIST_URL = (
    "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
    "binarized_mnist_{split}.amat"
)
BINARIZATIONS = ("dynamic", "static", None)


def _keras_home():
    return os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))


def _candidates(filename):
    paths = []
    if os.environ.get("KERAS_AVB_DATA_DIR"):
        paths.append(Path(os.environ["KERAS_AVB_DATA_DIR"]) / filename)
    paths.append(Path(_keras_home()) / "datasets" / filename)
    return paths


def _find(path, filename, file_format):
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise ValueError(
                f"`path` must be a file or folder path (str or os.PathLike) or "
                f"None. Received: {path!r}"
            )
        path = Path(path)
        if path.is_dir():
            path = path / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"No such file: {path} (from `path`). Pass a {file_format}, or "
                "a folder holding one."
            )
        return path
    for candidate in _candidates(filename):
        if candidate.is_file():
            return candidate
    return None


def _load_npz(path, keys, file_format):
    """The arrays `keys` of the archive `path`; `ValueError` if it isn't one."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(
            f"{path} is not a readable .npz archive ({error}); expected a "
            f"{file_format}."
        ) from error
    if not hasattr(archive, "files"):  # a .npy array
        raise ValueError(f"{path} holds one array, not an archive; expected a {file_format}.")
    with archive:
        missing = [key for key in keys if key not in archive.files]
        if missing:
            raise ValueError(
                f"{path} has no array(s) {missing} (it holds {archive.files}); "
                f"expected a {file_format}."
            )
        return [archive[key] for key in keys]


def _download(filename, origin, archive, file_format, file_hash=None):
    """`keras.utils.get_file` into Keras' cache, with a clear error offline.

    Keras raises a bare `Exception` ("URL fetch failure on ...") when there
    is no network; this raises `FileNotFoundError` naming the ways to give
    the data locally instead.
    """
    try:
        return keras.utils.get_file(
            filename,
            origin,
            file_hash=file_hash,
            cache_dir=_keras_home(),
            cache_subdir="datasets",
        )
    except Exception as error:  # noqa: BLE001 - Keras raises a bare Exception
        places = ", ".join(str(p.parent) for p in _candidates(archive))
        if not os.environ.get("KERAS_AVB_DATA_DIR"):
            places += " ($KERAS_AVB_DATA_DIR is not set)"
        raise FileNotFoundError(
            f"{archive} was not found locally and could not be downloaded from "
            f"{origin} ({error}). Without network access, pass the data with "
            "the `path` argument (the file or its folder) or put it in the "
            f"folder named by `$KERAS_AVB_DATA_DIR`; it must be a {file_format}. "
            f"Looked for {archive} in: {places}."
        ) from error


def binarize(x, seed=None):
    """One Bernoulli draw per pixel with the intensities in [0, 1] as means.

    Args:
        x: grey-scale images, uint8 in 0..255 or floats in [0, 1].
        seed: seed of the NumPy generator.

    Returns:
        float32 array of 0s and 1s with the shape of `x`.

    Example:

    >>> x = np.array([[0, 255, 128]], dtype="uint8")
    >>> b = binarize(x, seed=0)
    >>> b.dtype, b[0, :2].tolist()
    (dtype('float32'), [0.0, 1.0])
    """
    x = _to_unit(x)
    rng = np.random.default_rng(seed)
    return (rng.random(x.shape, dtype="float32") < x).astype("float32")


def _to_unit(x):
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return x.astype("float32") / 255.0
    return x.astype("float32")


class DynamicBinarization(keras.utils.PyDataset):
    """Batches of grey-scale images binarized afresh every epoch.

    Epoch `e` uses a generator seeded with `(seed, e)`, so runs are
    reproducible, and every epoch sees new binary images. Batches are `x`
    alone (for the unsupervised models of keras_avb) or `(x, y)` with labels.

    Args:
        x: grey-scale images, uint8 in 0..255 or floats in [0, 1].
        y: optional labels.
        batch_size: examples per batch.
        shuffle: whether to reshuffle the examples every epoch.
        seed: seed of the draws and the shuffling.
        **kwargs: `workers`, `use_multiprocessing`, `max_queue_size` of
            `keras.utils.PyDataset`.

    Example:

    >>> data = DynamicBinarization(np.full((10, 4), 0.5), batch_size=4, seed=0)
    >>> len(data), data[0].shape, data[2].shape
    (3, (4, 4), (2, 4))
    >>> first = data[0].copy(); data.on_epoch_end()
    >>> bool(np.array_equal(first, data[0]))  # a new draw in the new epoch
    False
    """

    def __init__(self, x, y=None, batch_size=128, shuffle=True, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.x = _to_unit(x)
        self.y = None if y is None else np.asarray(y)
        if self.y is not None and len(self.y) != len(self.x):
            raise ValueError(
                f"`x` and `y` have {len(self.x)} and {len(self.y)} examples."
            )
        self.batch_size = validation.check_int(batch_size, "batch_size", minimum=1)
        self.shuffle = bool(shuffle)
        self.seed = 0 if seed is None else int(seed)
        self.epoch = 0
        self._new_epoch()

    def _new_epoch(self):
        rng = np.random.default_rng((self.seed, self.epoch))
        n = len(self.x)
        self.order = rng.permutation(n) if self.shuffle else np.arange(n)
        self.uniform_seed = int(rng.integers(2**31))

    @property
    def num_batches(self):
        return -(-len(self.x) // self.batch_size)

    def __len__(self):
        return self.num_batches

    def __getitem__(self, index):
        if not 0 <= index < self.num_batches:
            raise IndexError(f"Batch {index} of {self.num_batches}.")
        rows = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        # One generator per (epoch, batch): batches may be fetched in any order.
        rng = np.random.default_rng((self.seed, self.epoch, self.uniform_seed, index))
        x = self.x[rows]
        x = (rng.random(x.shape, dtype="float32") < x).astype("float32")
        if self.y is None:
            return x
        return x, self.y[rows]

    def on_epoch_end(self):
        self.epoch += 1
        self._new_epoch()


def load_mnist(
    path=None,
    binarization=None,
    flatten=True,
    seed=0,
    batch_size=128,
    shuffle=True,
):
    """Loads MNIST (LeCun et al.), optionally binarized.

    Args:
        path: a `mnist.npz` (keys `x_train`, `y_train`, `x_test`, `y_test`)
            or a folder holding one. None looks in `$KERAS_AVB_DATA_DIR` and
            Keras' cache, else downloads Keras' `mnist.npz` into that cache
            (offline: `FileNotFoundError` naming these options).
        binarization: `"dynamic"`, `"static"` or None (see the module doc).
        flatten: True gives `(N, 784)` images, False `(N, 28, 28)`.
        seed: seed of the binarization draws (and of the shuffling of the
            dynamic training set).
        batch_size, shuffle: of the dynamic training set.

    Returns:
        `((x_train, y_train), (x_test, y_test))`. Images are float32 in [0, 1]
        (0 or 1 when binarized). With `"dynamic"`, `x_train` is a
        `DynamicBinarization` data set of `x` batches (its examples are in
        the order of `y_train` when `shuffle=False`).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_mnist(binarization="static")
    >>> x_train.shape, sorted(np.unique(x_train).tolist())
    ((60000, 784), [0.0, 1.0])
    """
    validation.check_choice(binarization, "binarization", BINARIZATIONS)
    found = _find(path, MNIST_FILE, MNIST_FORMAT)
    if found is None:
        found = _download(
            MNIST_FILE, MNIST_URL, MNIST_FILE, MNIST_FORMAT, file_hash=MNIST_SHA256
        )
    x_train, y_train, x_test, y_test = _load_npz(
        found, ("x_train", "y_train", "x_test", "y_test"), MNIST_FORMAT
    )
    if flatten:
        x_train = x_train.reshape(len(x_train), -1)
        x_test = x_test.reshape(len(x_test), -1)
    # Different, fixed streams for the two sets.
    seed = 0 if seed is None else int(seed)
    if binarization is None:
        x_train, x_test = _to_unit(x_train), _to_unit(x_test)
    elif binarization == "static":
        x_train = binarize(x_train, seed=(seed, 0))
        x_test = binarize(x_test, seed=(seed, 1))
    else:
        x_train = DynamicBinarization(
            x_train, batch_size=batch_size, shuffle=shuffle, seed=seed
        )
        x_test = binarize(x_test, seed=(seed, 1))
    return (x_train, y_train), (x_test, y_test)


def load_binarized_mnist(path=None, flatten=True, dtype="float32"):
    """Loads the statically binarized MNIST (Larochelle and Murray, 2011).

    Args:
        path: a `binarized_mnist.npz` (keys `train`, `valid`, `test`, each
            `(N, 784)` uint8 of 0s and 1s) or a folder holding one. None looks
            in `$KERAS_AVB_DATA_DIR` and Keras' cache, else downloads the
            original `.amat` text files and caches them as that archive
            (offline: `FileNotFoundError` naming these options).
        flatten: True gives `(N, 784)` rows, False `(N, 28, 28)` images.
        dtype: dtype of the returned arrays.

    Returns:
        `(x_train, x_valid, x_test)` with 50000, 10000 and 10000 examples.

    Example:

    >>> x_train, x_valid, x_test = load_binarized_mnist()
    >>> x_train.shape, x_valid.shape, x_test.shape
    ((50000, 784), (10000, 784), (10000, 784))
    """
    found = _find(path, BINARIZED_MNIST_FILE, BINARIZED_MNIST_FORMAT)
    if found is None:
        found = _download_binarized_mnist()
    splits = _load_npz(found, ("train", "valid", "test"), BINARIZED_MNIST_FORMAT)
    if not flatten:
        splits = [s.reshape(len(s), 28, 28) for s in splits]
    return tuple(s.astype(dtype) for s in splits)


def _download_binarized_mnist():
    arrays = {}
    for split in ("train", "valid", "test"):
        text = _download(
            f"binarized_mnist_{split}.amat",
            BINARIZED_MNIST_URL.format(split=split),
            BINARIZED_MNIST_FILE,
            BINARIZED_MNIST_FORMAT,
        )
        arrays[split] = np.loadtxt(text, dtype="uint8")
    target = _candidates(BINARIZED_MNIST_FILE)[-1]
    target.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(target, **arrays)
    return target
