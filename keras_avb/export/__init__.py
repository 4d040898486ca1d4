"""Exporting a trained decoder for serving, independently of the backend.

- `export_decoder(model, path)`: a TensorFlow SavedModel with the serving
  signatures `"decode"` (z -> the likelihood's mean) and `"sample"`
  (number of samples and a seed -> z ~ N(0, I) and its decoding).
- `export_decoder_onnx(model, path)`: an ONNX graph of the `"decode"`
  computation, for ONNX Runtime.

Both rebuild the decoder from its Keras config and weights under the
backend the format needs (TensorFlow for a SavedModel, PyTorch for ONNX), in
this process when it already runs that backend and in a subprocess
otherwise, so a model trained under any backend can be exported.
"""

from keras_avb.export.decoder_export import export_decoder
from keras_avb.export.decoder_export import export_decoder_onnx
