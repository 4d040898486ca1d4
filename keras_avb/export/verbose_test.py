"""The exporters say what they do by default: from JAX or PyTorch it takes tens of seconds."""

import keras
import pytest

import keras_avb
from keras_avb.export import decoder_export
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


@pytest.fixture
def ran(monkeypatch):
    """Records the export specs instead of writing anything (fast everywhere)."""
    specs = []
    monkeypatch.setattr(decoder_export, "_run", specs.append)
    return specs


def built_avb():
    return keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )


@pytest.mark.parametrize(
    "fmt, backend", [("tf_saved_model", "tensorflow"), ("onnx", "torch")]
)
def test_export_prints_progress_by_default(fmt, backend, ran, tmp_path, capsys):
    name = "decoder" if fmt == "tf_saved_model" else "decoder.onnx"
    path = keras_avb.export_decoder(built_avb(), tmp_path / name, format=fmt)
    assert len(ran) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("Exporting the decoder as ")
    assert f"under the {backend} backend" in lines[0]
    if keras.backend.backend() == backend:
        assert "in this process" in lines[0]
    else:
        assert "in a subprocess (tens of seconds" in lines[0]
    assert lines[1].startswith(f"Exported the decoder to {path} in ")


def test_export_verbose_zero_prints_nothing(ran, tmp_path, capsys):
    keras_avb.export_decoder(built_avb(), tmp_path / "decoder", verbose=0)
    keras_avb.export_decoder_onnx(built_avb(), tmp_path / "decoder.onnx", verbose=0)
    assert len(ran) == 2
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("fmt", ["tf_saved_model", "onnx"])
def test_export_rejects_a_bad_verbose_before_any_work(fmt, ran, tmp_path):
    with pytest.raises(ValueError, match="`verbose` must be 'auto', 0"):
        keras_avb.export_decoder(
            built_avb(), tmp_path / "decoder", format=fmt, verbose="loud"
        )
    assert ran == []
