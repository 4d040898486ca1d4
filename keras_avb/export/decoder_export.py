"""Export of a latent-variable model's decoder as a SavedModel or ONNX graph.

The route is the same from every backend: the decoder is saved as a `.keras`
file (its config and weights, which do not depend on the backend), then
reloaded under the backend the format needs and exported from there:

- SavedModel: TensorFlow, through `keras.export.ExportArchive`;
- ONNX: PyTorch, through `torch.onnx.export`, then checked with ONNX Runtime
  (when installed) against the reloaded decoder on two batch sizes.

When the active backend already is the one needed, this runs in-process;
otherwise `python -m keras_avb.export._worker` runs it in a subprocess with
`KERAS_BACKEND` set. The model's own backend never has to produce the
artifact itself, so JAX (whose SavedModels go through jax2tf) and PyTorch
(which needs torch_xla for a SavedModel) are handled like TensorFlow.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras

from keras_avb.utils import progress
from keras_avb.utils import validation

DECODE = "decode"
#: The oldest opset `torch.onnx.export` writes.
MIN_ONNX_OPSET = 7
SAMPLE = "sample"


def _model_parts(model):
    """The decoder (as a `keras.Model`), the likelihood and the latent size."""
    decoder = getattr(model, "decoder", None)
    likelihood = getattr(model, "likelihood", None)
    if decoder is None or likelihood is None:
        raise ValueError(
            "`model` must be a keras_avb latent-variable model (`AVB` or "
            f"`VAE`) with a decoder and a likelihood. Received: {model!r}"
        )
    if not model.built or model.latent_dim is None:
        raise ValueError(
            "Build or train the model before exporting its decoder: its latent "
            "size is not known yet."
        )
    latent_dim = int(model.latent_dim)
    if not isinstance(decoder, keras.Model):
        decoder = keras.Sequential([keras.Input((latent_dim,)), decoder])
    return decoder, likelihood, latent_dim


def _check_prior(model):
    from keras_avb.distributions.priors import StandardNormal

    if not isinstance(model.prior, StandardNormal):
        raise ValueError(
            "The 'sample' signature draws z from a standard normal prior, but "
            f"the model's prior is {model.prior!r}. Pass `sample=False` to "
            "export only the 'decode' signature."
        )


def _run(spec):
    """Runs an export described by `spec`, in-process or in a subprocess."""
    backend = spec["backend"]
    if keras.backend.backend() == backend:
        from keras_avb.export import _worker

        _worker.run(spec)
        return
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        result = subprocess.run(
            [sys.executable, "-m", "keras_avb.export._worker", str(spec_path)],
            env=env,
            capture_output=True,
            text=True,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"Exporting the decoder under the {backend} backend failed "
            f"(exit code {result.returncode}):\n{result.stderr[-4000:]}"
        )


_FORMAT_NAMES = {"tf_saved_model": "a TensorFlow SavedModel", "onnx": "ONNX"}


def _export(model, path, fmt, backend, verbose=1, **options):
    decoder, likelihood, latent_dim = _model_parts(model)
    path = Path(path).resolve()
    start = time.perf_counter()
    if verbose == 1:
        where = (
            "in this process"
            if keras.backend.backend() == backend
            else "in a subprocess (tens of seconds: it starts a new Python)"
        )
        progress.print_msg(
            f"Exporting the decoder as {_FORMAT_NAMES[fmt]} under the {backend} "
            f"backend {where}..."
        )
    with tempfile.TemporaryDirectory() as tmp:
        decoder_path = Path(tmp) / "decoder.keras"
        decoder.save(decoder_path)
        _run(
            {
                "backend": backend,
                "format": fmt,
                "decoder": str(decoder_path),
                "likelihood": keras.saving.serialize_keras_object(likelihood),
                "latent_dim": latent_dim,
                "output": str(path),
                **options,
            }
        )
    if verbose:
        progress.print_msg(
            f"Exported the decoder to {path} in {time.perf_counter() - start:.1f} s."
        )
    return path


def export_decoder(
    model, path, sample=True, format="tf_saved_model", verbose="auto", **kwargs
):
    """Writes the trained decoder as a TensorFlow SavedModel (or ONNX).

    The SavedModel has the serving signatures

    - `"decode"`: input `z` (float32, `(batch, latent_dim)`); outputs
      `"mean"`, the likelihood's mean (pixel probabilities
      `sigmoid(logits)` for `Bernoulli`), and `"params"`, the decoder's raw
      output (the logits);
    - `"sample"` (with `sample=True`): inputs `num_samples` (int32 scalar)
      and `seed` (int64 scalar); outputs `"z"`, drawn from the standard
      normal prior with `tf.random.stateless_normal(..., seed=[seed, 0])`,
      and its `"mean"` and `"params"`. The same seed gives the same samples.

    It loads with `tf.saved_model.load` in a TensorFlow-only process, with
    neither Keras' backend nor keras_avb needed. The decoder is rebuilt
    under TensorFlow from its config and weights (in a subprocess when the
    model was trained under JAX or PyTorch), so this works from every
    backend.

    Args:
        model: a built `keras_avb.AVB` or `keras_avb.VAE`.
        path: directory of the SavedModel (or `.onnx` file for ONNX).
        sample: whether to add the `"sample"` signature; it needs the
            model's prior to be `StandardNormal`.
        format: `"tf_saved_model"` (default) or `"onnx"`, which calls
            `export_decoder_onnx(model, path, verbose=verbose, **kwargs)`.
        verbose: `"auto"` (default) or 1 prints a line when the export
            starts (saying whether it runs in a subprocess, which takes
            tens of seconds) and one when it is done; 2 only the last; 0 nothing.
            Printed to stdout, or to absl's log after
            `keras.config.disable_interactive_logging()`.

    Returns:
        The absolute path written.

    Example:

    >>> import keras, keras_avb, tempfile, tensorflow as tf
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> path = keras_avb.export_decoder(model, tempfile.mkdtemp() + "/dec")
    >>> served = tf.saved_model.load(str(path))
    >>> out = served.signatures["sample"](num_samples=tf.constant(3),
    ...                                   seed=tf.constant(0, tf.int64))
    >>> tuple(out["z"].shape), tuple(out["mean"].shape)
    ((3, 2), (3, 4))
    """
    if format == "onnx":
        return export_decoder_onnx(model, path, verbose=verbose, **kwargs)
    if format != "tf_saved_model":
        raise ValueError(
            f"`format` must be 'tf_saved_model' or 'onnx'. Received: {format!r}"
        )
    if kwargs:
        raise TypeError(f"Unexpected arguments for a SavedModel: {sorted(kwargs)}")
    verbose = progress.resolve_verbose(verbose)
    _model_parts(model)
    path = check_output_path(path, "path", directory=True)
    if sample:
        _check_prior(model)
    return _export(
        model, path, "tf_saved_model", "tensorflow", verbose=verbose, sample=bool(sample)
    )


def export_decoder_onnx(model, path, opset_version=17, verify=True, verbose="auto"):
    """Writes the `"decode"` computation of the trained decoder as ONNX.

    The graph has one input `z` (float32, `(batch, latent_dim)`, dynamic
    batch) and two outputs, `mean` (the likelihood's mean, e.g.
    `sigmoid(logits)`) and `params` (the decoder's raw output). The decoder
    is rebuilt under PyTorch from its config and weights (in a subprocess
    unless the active backend is `torch`) and traced with
    `torch.onnx.export`; it needs the `onnx` extra (`torch`, `onnx`,
    `onnxruntime`). ONNX has no seeded Gaussian generator that matches
    across runtimes, so sampling is left to the caller: draw
    `z ~ N(0, I)` and run the graph.

    Args:
        model: a built `keras_avb.AVB` or `keras_avb.VAE`.
        path: the `.onnx` file to write.
        opset_version: the ONNX opset.
        verify: check the graph with ONNX Runtime against the rebuilt
            decoder on batches of 1 and 3 latent codes (a graph whose batch
            size was frozen by tracing fails this check); skipped when
            onnxruntime is not installed.
        verbose: `"auto"` (default) or 1 prints a line when the export
            starts (saying whether it runs in a subprocess, which takes
            tens of seconds) and one when it is done; 2 only the last; 0 nothing.

    Returns:
        The absolute path written.

    Example:

    >>> import keras, keras_avb, tempfile, numpy as np, onnxruntime
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> path = keras_avb.export_decoder_onnx(model, tempfile.mkdtemp() + "/d.onnx")
    >>> session = onnxruntime.InferenceSession(str(path))
    >>> mean, logits = session.run(["mean", "params"],
    ...                            {"z": np.zeros((5, 2), "float32")})
    >>> mean.shape
    (5, 4)
    """
    verbose = progress.resolve_verbose(verbose)
    _model_parts(model)
    path = check_output_path(path, "path", directory=False)
    opset_version = validation.check_int(
        opset_version, "opset_version", minimum=MIN_ONNX_OPSET
    )
    return _export(
        model,
        path,
        "onnx",
        "torch",
        verbose=verbose,
        opset_version=int(opset_version),
        verify=bool(verify),
    )


def check_output_path(path, name="path", directory=False):
    """Checks a path to write to; returns it as an absolute `str`.

    Args:
        directory: True if the output is a directory (a SavedModel): an
            existing file there is an error; False for a file (ONNX): an
            existing directory there, or a missing parent directory, is.
    """
    if isinstance(path, (bytes, bytearray)):
        path = os.fsdecode(path)
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(
            f"`{name}` must be a non-empty path (str or os.PathLike). "
            f"Received: {path!r}"
        )
    path = os.path.abspath(os.fspath(path))
    if directory and os.path.isfile(path):
        raise ValueError(
            f"`{name}` ({path}) is an existing file; a SavedModel is a "
            "directory. Pass a new or existing directory path."
        )
    if not directory:
        if os.path.isdir(path):
            raise ValueError(
                f"`{name}` ({path}) is a directory; pass the file to write, "
                "e.g. 'decoder.onnx'."
            )
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            raise ValueError(
                f"The directory of `{name}` ({parent}) does not exist; create "
                "it first."
            )
    return path
