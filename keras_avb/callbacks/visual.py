"""`SampleGrid` and `LatentScatter`: figures saved during training."""

import math
import os

import keras
import numpy as np
from keras import ops


def _figure(width, height):
    # A bare Figure on the Agg canvas: no pyplot state, no display.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _path(pattern, epoch):
    path = str(pattern).format(epoch=epoch)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    return path


class _EveryNEpochs(keras.callbacks.Callback):
    def __init__(self, path_pattern, every_n_epochs):
        super().__init__()
        if int(every_n_epochs) < 1:
            raise ValueError(f"`every_n_epochs` must be >= 1. Received: {every_n_epochs}")
        self.path_pattern = str(path_pattern)
        self.every_n_epochs = int(every_n_epochs)

    def on_epoch_end(self, epoch, logs=None):
        # Epochs are numbered from 1 in file names, as in Keras' progress bar.
        if (epoch + 1) % self.every_n_epochs == 0:
            self.draw(_path(self.path_pattern, epoch + 1))

    def draw(self, path):
        raise NotImplementedError


class SampleGrid(_EveryNEpochs):
    """Saves a grid of decoded prior samples as a PNG every N epochs.

    The latent codes are drawn once, with `seed`, so successive grids show
    how the decoder's picture of the same codes changes. Each sample is the
    likelihood's mean (`model.decode(z)`, e.g. pixel probabilities),
    reshaped to `image_shape` and shown in grey (or colour with 3 channels).

    Args:
        path_pattern: file name, formatted with `epoch` (from 1), e.g.
            `"out/samples_{epoch:03d}.png"`.
        every_n_epochs: draw after every this many epochs.
        num_samples: samples in the grid.
        image_shape: `(height, width)` or `(height, width, channels)` of one
            sample; by default the model's data shape, a square image when
            it is flat with a square size.
        seed: seed of the latent codes.
        columns: columns of the grid; about `sqrt(num_samples)` by default.

    Example:

    >>> import keras_avb, keras_avb.callbacks, tempfile
    >>> from keras_avb.testing import (four_point_data,
    ...     tiny_black_box_encoder, tiny_decoder)
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> model.compile()
    >>> grid = keras_avb.callbacks.SampleGrid(
    ...     tempfile.mkdtemp() + "/samples_{epoch}.png", every_n_epochs=1,
    ...     num_samples=9, image_shape=(2, 2))
    >>> _ = model.fit(four_point_data(64), epochs=1, callbacks=[grid], verbose=0)
    """

    def __init__(
        self,
        path_pattern,
        every_n_epochs=1,
        num_samples=64,
        image_shape=None,
        seed=0,
        columns=None,
    ):
        super().__init__(path_pattern, every_n_epochs)
        if int(num_samples) < 1:
            raise ValueError(f"`num_samples` must be >= 1. Received: {num_samples}")
        self.num_samples = int(num_samples)
        self.image_shape = None if image_shape is None else tuple(int(d) for d in image_shape)
        self.seed = seed
        self.columns = None if columns is None else int(columns)
        self._z = None

    def _image_shape(self):
        if self.image_shape is not None:
            return self.image_shape
        shape = tuple(self.model.data_shape)
        size = math.prod(shape)
        if len(shape) == 1 and math.isqrt(size) ** 2 == size:
            return (math.isqrt(size),) * 2
        if len(shape) in (2, 3):
            return shape
        raise ValueError(
            f"Cannot show data of shape {shape} as images; pass `image_shape`."
        )

    def samples(self):
        """The decoded samples, shaped `(num_samples,) + image_shape`."""
        if self._z is None:
            rng = np.random.default_rng(self.seed)
            self._z = rng.standard_normal(
                (self.num_samples, self.model.latent_dim)
            ).astype("float32")
        images = ops.convert_to_numpy(self.model.decode(self._z))
        return images.reshape((self.num_samples,) + self._image_shape())

    def draw(self, path):
        images = np.clip(self.samples(), 0.0, 1.0)
        columns = self.columns or math.ceil(math.sqrt(self.num_samples))
        rows = math.ceil(self.num_samples / columns)
        figure = _figure(columns, rows)
        for index, image in enumerate(images):
            axes = figure.add_subplot(rows, columns, index + 1)
            if image.ndim == 3 and image.shape[-1] == 1:
                image = image[..., 0]
            axes.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            axes.set_axis_off()
        figure.subplots_adjust(wspace=0.05, hspace=0.05, left=0, right=1, bottom=0, top=1)
        figure.savefig(path, format="png")

    def get_config(self):
        return {
            "path_pattern": self.path_pattern,
            "every_n_epochs": self.every_n_epochs,
            "num_samples": self.num_samples,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "seed": self.seed,
            "columns": self.columns,
        }


class LatentScatter(_EveryNEpochs):
    """Saves a scatter plot of the latent codes of `x` as a PNG every N epochs.

    Each example is encoded with one posterior sample (`model.encode`). With
    a 2-dimensional latent space the codes are drawn as they are; larger
    ones are projected on their first two principal components (computed
    afresh each time).

    Args:
        x: the examples to encode (a NumPy array).
        labels: optional class of each example, used for the colours.
        path_pattern: file name, formatted with `epoch` (from 1).
        every_n_epochs: draw after every this many epochs.
        batch_size: examples encoded at a time.

    Example:

    >>> import keras_avb, keras_avb.callbacks, tempfile, numpy as np
    >>> from keras_avb.testing import (four_point_data,
    ...     tiny_black_box_encoder, tiny_decoder)
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> model.compile()
    >>> x = four_point_data(64)
    >>> scatter = keras_avb.callbacks.LatentScatter(
    ...     x, np.argmax(x, axis=1), tempfile.mkdtemp() + "/z_{epoch}.png")
    >>> _ = model.fit(x, epochs=1, callbacks=[scatter], verbose=0)
    """

    def __init__(self, x, labels=None, path_pattern="latents_{epoch}.png", every_n_epochs=1,
                 batch_size=256):
        super().__init__(path_pattern, every_n_epochs)
        self.x = np.asarray(x)
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self.labels is not None and len(self.labels) != len(self.x):
            raise ValueError(
                f"`labels` has {len(self.labels)} entries for {len(self.x)} examples."
            )
        self.batch_size = int(batch_size)

    def codes(self):
        """The 2-d points drawn: the codes, or their first two principal components."""
        z = np.concatenate(
            [
                ops.convert_to_numpy(self.model.encode(self.x[i : i + self.batch_size]))
                for i in range(0, len(self.x), self.batch_size)
            ]
        )
        if z.shape[1] <= 2:
            return z
        centred = z - z.mean(axis=0)
        _, _, components = np.linalg.svd(centred, full_matrices=False)
        return centred @ components[:2].T

    def draw(self, path):
        points = self.codes()
        figure = _figure(5, 5)
        axes = figure.add_subplot(1, 1, 1)
        y = points[:, 1] if points.shape[1] > 1 else np.zeros(len(points))
        scatter = axes.scatter(
            points[:, 0], y, c=self.labels, s=4, cmap="tab10" if self.labels is not None else None
        )
        if self.labels is not None and len(np.unique(self.labels)) <= 10:
            figure.legend(*scatter.legend_elements(), loc="upper right", fontsize="small")
        projected = self.model.latent_dim > 2
        axes.set_xlabel("PC 1" if projected else "z[0]")
        axes.set_ylabel("PC 2" if projected else "z[1]")
        figure.tight_layout()
        figure.savefig(path, format="png")

    def get_config(self):
        # The data are not part of the config; pass them again to rebuild.
        return {
            "path_pattern": self.path_pattern,
            "every_n_epochs": self.every_n_epochs,
            "batch_size": self.batch_size,
        }
