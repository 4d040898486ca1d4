"""Rebuilds a decoder under the export backend and writes the artifact.

Run as `python -m keras_avb.export._worker SPEC.json` with `KERAS_BACKEND`
set to the spec's backend, or called in-process through `run(spec)` when
that backend is already active. Not a public API.
"""

import json
import sys

import keras
import numpy as np


def _load(spec):
    import keras_avb  # noqa: F401  (registers keras_avb's serializable layers)

    decoder = keras.saving.load_model(spec["decoder"], compile=False)
    likelihood = keras.saving.deserialize_keras_object(spec["likelihood"])
    return decoder, likelihood, int(spec["latent_dim"])


def _write_saved_model(spec):
    import tensorflow as tf

    decoder, likelihood, latent_dim = _load(spec)

    def decode(z):
        params = keras.ops.cast(decoder(z, training=False), "float32")
        return {"mean": likelihood.mean(params), "params": params}

    def sample(num_samples, seed):
        seeds = tf.stack([seed, tf.zeros_like(seed)])
        z = tf.random.stateless_normal(tf.stack([num_samples, latent_dim]), seed=seeds)
        return {"z": z, **decode(z)}

    archive = keras.export.ExportArchive()
    archive.track(decoder)
    archive.add_endpoint(
        "decode",
        decode,
        input_signature=[tf.TensorSpec((None, latent_dim), tf.float32, name="z")],
    )
    if spec.get("sample", True):
        archive.add_endpoint(
            "sample",
            sample,
            input_signature=[
                tf.TensorSpec((), tf.int32, name="num_samples"),
                tf.TensorSpec((), tf.int64, name="seed"),
            ],
        )
    archive.write_out(spec["output"], verbose=False)


def _write_onnx(spec):
    import torch

    decoder, likelihood, latent_dim = _load(spec)

    class Decode(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.decoder = decoder

        def forward(self, z):
            params = keras.ops.cast(self.decoder(z, training=False), "float32")
            return likelihood.mean(params), params

    module = Decode().eval()
    example = torch.zeros((2, latent_dim), dtype=torch.float32)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            spec["output"],
            input_names=["z"],
            output_names=["mean", "params"],
            dynamic_axes={"z": {0: "batch"}, "mean": {0: "batch"}, "params": {0: "batch"}},
            opset_version=spec.get("opset_version", 17),
            dynamo=False,
        )
    if spec.get("verify", True):
        _verify_onnx(spec["output"], module, latent_dim)


def _verify_onnx(path, module, latent_dim):
    try:
        import onnxruntime
    except ImportError:
        return
    import torch

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        z = rng.standard_normal((batch, latent_dim)).astype("float32")
        got = session.run(["mean"], {"z": z})[0]
        with torch.no_grad():
            want = keras.ops.convert_to_numpy(module(torch.from_numpy(z))[0])
        if got.shape != want.shape or not np.allclose(got, want, rtol=1e-4, atol=1e-5):
            raise RuntimeError(
                f"The ONNX graph does not reproduce the decoder on a batch of "
                f"{batch} (shapes {got.shape} and {want.shape}, largest "
                f"difference {np.max(np.abs(got - want)) if got.shape == want.shape else 'n/a'}); "
                "tracing probably froze a shape in the decoder."
            )


def run(spec):
    backend = keras.backend.backend()
    if backend != spec["backend"]:
        raise RuntimeError(
            f"This export needs the {spec['backend']} backend; the active one is {backend}."
        )
    if spec["format"] == "tf_saved_model":
        _write_saved_model(spec)
    elif spec["format"] == "onnx":
        _write_onnx(spec)
    else:
        raise ValueError(f"Unknown export format {spec['format']!r}.")


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        run(json.load(f))
