"""The exported decoders, loaded in fresh processes that know no Keras."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from keras import ops

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder

TF_MISSING = importlib.util.find_spec("tensorflow") is None
needs_tensorflow = pytest.mark.skipif(TF_MISSING, reason="not installed: tensorflow")

SAVED_MODEL_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf

    path, inputs, outputs = sys.argv[1:4]
    served = tf.saved_model.load(path)
    z = np.load(inputs)["z"]
    decoded = served.signatures["decode"](z=tf.constant(z))
    result = {"decode_mean": decoded["mean"].numpy(),
              "decode_params": decoded["params"].numpy()}
    for seed in (0, 0, 7):
        out = served.signatures["sample"](num_samples=tf.constant(64),
                                          seed=tf.constant(seed, tf.int64))
        result.setdefault("sample_z", []).append(out["z"].numpy())
        result.setdefault("sample_mean", []).append(out["mean"].numpy())
    assert "keras_avb" not in sys.modules
    np.savez(outputs, signatures=sorted(served.signatures), **result)
    """
)

ONNX_CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import onnxruntime

    path, inputs, outputs = sys.argv[1:4]
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    z = np.load(inputs)["z"]
    mean, params = session.run(["mean", "params"], {"z": z})
    mean_one = session.run(["mean"], {"z": z[:1]})[0]
    assert "keras_avb" not in sys.modules and "keras" not in sys.modules
    np.savez(outputs, mean=mean, params=params, mean_one=mean_one)
    """
)


def run_child(script, artifact, z, tmp_path):
    """Runs `script` in a fresh interpreter with no Keras backend chosen."""
    inputs, outputs = tmp_path / "inputs.npz", tmp_path / "outputs.npz"
    np.savez(inputs, z=z)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    result = subprocess.run(
        [sys.executable, "-c", script, str(artifact), str(inputs), str(outputs)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(np.load(outputs))


def trained_avb():
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        seed=1,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(four_point_data(64), batch_size=32, epochs=2, verbose=0)
    return model


def conv_vae():
    """A VAE on 4x4 images with a reshaping, convolutional decoder and a
    Gaussian likelihood whose log-scales the decoder outputs."""
    x_in = keras.Input((4, 4, 1))
    h = keras.layers.Dense(8, activation="elu")(keras.layers.Flatten()(x_in))
    encoder = keras.Model(x_in, [keras.layers.Dense(3)(h), keras.layers.Dense(3)(h)])
    decoder = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2 * 2 * 4, activation="relu"),
            keras.layers.Reshape((2, 2, 4)),
            keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same", activation="elu"),
            keras.layers.Conv2D(2, 3, padding="same"),
        ]
    )
    model = keras_avb.VAE(
        encoder, decoder, likelihood=keras_avb.distributions.Gaussian(scale=None), seed=2
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = np.random.default_rng(0).normal(size=(32, 4, 4, 1)).astype("float32")
    model.fit(x, batch_size=16, epochs=1, verbose=0)
    return model


def latent_codes(n, dim, seed=0):
    return np.random.default_rng(seed).normal(size=(n, dim)).astype("float32")


@needs_tensorflow
def test_saved_model_decodes_and_samples_like_the_keras_decoder(tmp_path):
    model = trained_avb()
    path = keras_avb.export_decoder(model, tmp_path / "decoder")
    assert (path / "saved_model.pb").is_file()
    z = latent_codes(16, 2)
    out = run_child(SAVED_MODEL_CHILD, path, z, tmp_path)

    assert sorted(out["signatures"].tolist()) == ["decode", "sample", "serving_default"]
    expected = ops.convert_to_numpy(model.decode(z))
    np.testing.assert_allclose(out["decode_mean"], expected, rtol=1e-5, atol=1e-5)
    logits = ops.convert_to_numpy(model.decoder(z))
    np.testing.assert_allclose(out["decode_params"], logits, rtol=1e-5, atol=1e-5)
    # Bernoulli: the mean is sigmoid(logits), and probabilities.
    np.testing.assert_allclose(out["decode_mean"], 1 / (1 + np.exp(-logits)), atol=1e-6)

    sample_z, sample_mean = out["sample_z"], out["sample_mean"]
    assert sample_z.shape == (3, 64, 2) and sample_mean.shape == (3, 64, 4)
    np.testing.assert_array_equal(sample_z[0], sample_z[1])  # same seed
    assert not np.allclose(sample_z[0], sample_z[2])  # another seed
    # Draws from N(0, I): 128 draws of each coordinate.
    assert np.all(np.abs(sample_z[[0, 2]].reshape(-1, 2).mean(0)) < 0.35)
    assert np.all(np.abs(sample_z[[0, 2]].reshape(-1, 2).std(0) - 1) < 0.3)
    for draws, means in zip(sample_z, sample_mean):
        np.testing.assert_allclose(
            means, ops.convert_to_numpy(model.decode(draws)), rtol=1e-5, atol=1e-5
        )


@needs_tensorflow
def test_saved_model_of_a_convolutional_gaussian_decoder(tmp_path):
    model = conv_vae()
    path = keras_avb.export_decoder(model, tmp_path / "decoder", sample=True)
    z = latent_codes(5, 3)
    out = run_child(SAVED_MODEL_CHILD, path, z, tmp_path)
    params = ops.convert_to_numpy(model.decoder(z))
    assert out["decode_mean"].shape == (5, 4, 4, 1)
    np.testing.assert_allclose(out["decode_params"], params, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["decode_mean"], params[..., :1], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        out["decode_mean"], ops.convert_to_numpy(model.decode(z)), rtol=1e-5, atol=1e-5
    )


def test_export_rejects_what_it_cannot_export(tmp_path):
    with pytest.raises(ValueError, match="keras_avb latent-variable model"):
        keras_avb.export_decoder(tiny_decoder(), tmp_path / "a")
    with pytest.raises(ValueError, match="format"):
        keras_avb.export_decoder(trained_avb(), tmp_path / "b", format="tflite")


ONNX_MISSING = [
    name for name in ("onnx", "onnxruntime", "torch") if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(bool(ONNX_MISSING), reason=f"not installed: {ONNX_MISSING}")
@pytest.mark.parametrize("build", [trained_avb, conv_vae], ids=["avb_mlp", "vae_conv"])
def test_onnx_decodes_like_the_keras_decoder(tmp_path, build):
    model = build()
    path = keras_avb.export_decoder(model, tmp_path / "decoder.onnx", format="onnx")
    assert path.is_file()
    z = latent_codes(6, model.latent_dim)
    out = run_child(ONNX_CHILD, path, z, tmp_path)
    np.testing.assert_allclose(
        out["mean"], ops.convert_to_numpy(model.decode(z)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        out["params"], ops.convert_to_numpy(model.decoder(z)), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(out["mean_one"], out["mean"][:1], rtol=1e-5, atol=1e-6)
