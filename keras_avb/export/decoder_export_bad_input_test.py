"""The exporters reject bad arguments before they save or spawn anything."""

import keras
import pytest

import keras_avb
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def built_avb():
    return keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )


@pytest.mark.parametrize("path", [None, 3, ""])
@pytest.mark.parametrize("fmt", ["tf_saved_model", "onnx"])
def test_export_rejects_paths_that_are_not_paths(path, fmt):
    with pytest.raises(ValueError, match="`path` must be a non-empty path"):
        keras_avb.export_decoder(built_avb(), path, format=fmt)


def test_export_rejects_paths_of_the_wrong_kind(tmp_path):
    model = built_avb()
    existing_file = tmp_path / "file"
    existing_file.write_text("x")
    with pytest.raises(ValueError, match="is an existing file; a SavedModel is a directory"):
        keras_avb.export_decoder(model, existing_file)
    with pytest.raises(ValueError, match="is a directory; pass the file to write"):
        keras_avb.export_decoder_onnx(model, tmp_path)
    with pytest.raises(ValueError, match="does not exist; create it first"):
        keras_avb.export_decoder_onnx(model, tmp_path / "missing" / "decoder.onnx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


@pytest.mark.parametrize("opset_version", [0, 6, "17", 17.0])
def test_export_onnx_rejects_bad_opsets(tmp_path, opset_version):
    with pytest.raises(ValueError, match="`opset_version` must be an integer >= 7"):
        keras_avb.export_decoder_onnx(
            built_avb(), tmp_path / "d.onnx", opset_version=opset_version
        )


def test_export_rejects_bad_models_formats_and_options(tmp_path):
    with pytest.raises(ValueError, match="keras_avb latent-variable model"):
        keras_avb.export_decoder(None, tmp_path / "a")
    with pytest.raises(ValueError, match="`format` must be 'tf_saved_model' or 'onnx'"):
        keras_avb.export_decoder(built_avb(), tmp_path / "a", format="tflite")
    with pytest.raises(TypeError, match=r"Unexpected arguments.*opset_version"):
        keras_avb.export_decoder(built_avb(), tmp_path / "a", opset_version=17)

    class OtherPrior(keras_avb.distributions.Prior):
        def sample(self, batch_size, seed=None):
            return keras.random.normal((batch_size, self.latent_dim), seed=seed)

        def log_prob(self, z):
            return -0.5 * keras.ops.sum(keras.ops.square(z), axis=-1)

    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(8, 1),
        prior=OtherPrior(2),
    )
    with pytest.raises(ValueError, match="Pass `sample=False`"):
        keras_avb.export_decoder(model, tmp_path / "a")
