"""The figure callbacks and TensorBoard logging during AVB training."""

import glob
import os

import keras
import numpy as np
import pytest

import keras_avb
import keras_avb.callbacks
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def tiny_avb(latent_dim=2):
    model = keras_avb.AVB(
        tiny_black_box_encoder(latent_dim=latent_dim),
        tiny_decoder(latent_dim=latent_dim),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        seed=0,
    )
    model.compile()
    return model


def read_png(path):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    import matplotlib.image

    return matplotlib.image.imread(path)


@pytest.mark.parametrize("latent_dim", [2, 3])
def test_sample_grid_and_latent_scatter_write_pngs(tmp_path, latent_dim):
    x = four_point_data(64)
    grid = keras_avb.callbacks.SampleGrid(
        str(tmp_path / "grid" / "samples_{epoch:02d}.png"),
        every_n_epochs=2,
        num_samples=9,
        image_shape=(2, 2),
    )
    scatter = keras_avb.callbacks.LatentScatter(
        x, np.argmax(x, axis=1), str(tmp_path / "z_{epoch}.png"), every_n_epochs=1
    )
    model = tiny_avb(latent_dim)
    model.fit(x, batch_size=32, epochs=3, callbacks=[grid, scatter], verbose=0)

    assert sorted(os.listdir(tmp_path / "grid")) == ["samples_02.png"]
    assert sorted(p.name for p in tmp_path.glob("z_*.png")) == [
        "z_1.png",
        "z_2.png",
        "z_3.png",
    ]
    image = read_png(tmp_path / "grid" / "samples_02.png")
    assert image.ndim == 3 and image.shape[0] > 50 and image.shape[1] > 50
    assert read_png(tmp_path / "z_3.png").std() > 0  # something was drawn

    samples = grid.samples()
    assert samples.shape == (9, 2, 2)
    assert np.all((samples >= 0) & (samples <= 1))
    points = scatter.codes()
    assert points.shape == (64, 2) and np.all(np.isfinite(points))
    if latent_dim > 2:  # principal components: uncorrelated, decreasing variance
        covariance = np.cov(points.T)
        assert abs(covariance[0, 1]) < 1e-4 * covariance[0, 0]
        assert covariance[0, 0] >= covariance[1, 1]


def test_callbacks_check_their_arguments():
    with pytest.raises(ValueError, match="every_n_epochs"):
        keras_avb.callbacks.SampleGrid("a_{epoch}.png", every_n_epochs=0)
    with pytest.raises(ValueError, match="labels"):
        keras_avb.callbacks.LatentScatter(np.zeros((4, 4)), np.zeros(3), "a.png")
    config = keras_avb.callbacks.SampleGrid("a_{epoch}.png", 2, 4, (2, 2)).get_config()
    assert keras_avb.callbacks.SampleGrid(**config).get_config() == config
    grid = keras_avb.callbacks.SampleGrid("a_{epoch}.png", image_shape=None)
    grid.set_model(tiny_avb())
    with pytest.raises(ValueError, match="image_shape"):
        # 4 entries make a 2x2 image; a 3-entry model would not.
        grid.model.data_shape = (3,)
        grid._image_shape()


def test_tensorboard_logs_avb_metrics(tmp_path):
    # Keras' TensorBoard callback writes through tf.summary on every backend.
    tf = pytest.importorskip("tensorflow")

    x = four_point_data(64)
    model = tiny_avb()
    model.fit(
        x,
        validation_data=(x,),
        batch_size=32,
        epochs=2,
        verbose=0,
        callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path))],
    )
    tags = {}
    for split in ("train", "validation"):
        files = glob.glob(str(tmp_path / split / "events.out.tfevents.*"))
        assert files, f"no event file for {split}"
        tags[split] = {}
        for path in files:
            for event in tf.compat.v1.train.summary_iterator(path):
                for value in event.summary.value:
                    tags[split].setdefault(value.tag, []).append(event.step)
    for name in ("adversarial_elbo", "kl", "adversary_loss", "reconstruction_error"):
        assert sorted(tags["train"][f"epoch_{name}"]) == [0, 1], tags["train"].keys()
        assert sorted(tags["validation"][f"epoch_{name}"]) == [0, 1]
