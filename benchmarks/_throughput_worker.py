"""One backend's side of `train_throughput.py`: runs timed rounds on request.

Started by the driver with `KERAS_BACKEND` set. It builds every variant it
is asked for, runs one untimed warm-up round of each (compilation), prints
`@@ready`, then answers each stdin line `run VARIANT` with
`@@result {"variant": ..., "seconds": ...}` after one round: one shuffled
epoch of `steps * batch_size` examples. While it waits for a line it uses
no CPU, so the driver can alternate variants of several backends side by
side on a busy machine. `quit` ends it.

Variants:

- `fit`: `model.fit(x, epochs=1)` with fit's default callbacks;
- `fit_nocb`: the same with `callbacks=[]` (`fit` still adds its default
  `TrainingMonitor` to an empty list);
- `fit_off`: `callbacks=[TrainingMonitor(enabled=False)]`, the documented
  way to switch the monitor off;
- `fit_bare`: `keras.Model.fit` itself with `callbacks=[]`, skipping what
  `LatentVariableModel.fit` adds (data checks, the monitor): the cost of
  the training step and of Keras' loop alone;
- `fit_logs`: `keras.Model.fit` with `callbacks=[ReadLogsEveryStep()]`, a
  callback that turns every step's logs into Python floats (what any
  per-step health check has to do at least);
- `fit_compiled`: `fit` of a second, identically built model compiled with
  `jit_compile=True` (torch.compile under PyTorch, where Keras' "auto"
  stays eager; XLA under TensorFlow and JAX, which "auto" already picks);
- `ref`: the hand-written step (JAX: jitted `stateless_call` step; torch:
  a plain loop over the model's Keras networks);
- `ref_nn`: (torch) a plain loop over equivalent `torch.nn` networks;
- `ref_nn_fused`: (torch) the same with `torch.optim.Adam(fused=True)`.
"""

import functools
import json
import sys
import time

from _throughput_setup import Settings
from _throughput_setup import build_model
from _throughput_setup import load_subset

FIT_VARIANTS = ("fit", "fit_nocb", "fit_off", "fit_bare", "fit_logs", "fit_compiled")


def read_logs_callback():
    import keras

    class ReadLogsEveryStep(keras.callbacks.Callback):
        """Reads every log value as a Python float after every step."""

        def on_train_batch_end(self, batch, logs=None):
            for value in (logs or {}).values():
                float(value)

    return ReadLogsEveryStep()


def _monitor_off():
    """`[TrainingMonitor(enabled=False)]`, or `[]` if there is no monitor."""
    try:
        from keras_avb.callbacks import TrainingMonitor
    except ImportError:
        return []
    return [TrainingMonitor(enabled=False)]


class Worker:
    """Holds the variants of one backend and times one round of any of them."""

    def __init__(self, settings, variants):
        import keras

        self.settings = settings
        self.backend = keras.backend.backend()
        keras.utils.set_random_seed(settings.seed)
        self.x = load_subset(settings)
        self.runners = {name: self._make(name) for name in variants}

    def _make(self, name):
        s = self.settings
        if name == "fit_compiled":
            self.compiled_model = build_model(s)
            self.compiled_model.jit_compile = True
            compiled_fit = self.compiled_model.fit

            def run_compiled():
                compiled_fit(self.x, batch_size=s.batch_size, epochs=1, shuffle=True,
                             verbose=0)

            return run_compiled
        if name in FIT_VARIANTS:
            if not hasattr(self, "model"):
                self.model = build_model(s)
            import keras

            fit = self.model.fit
            if name in ("fit_bare", "fit_logs"):
                fit = functools.partial(keras.Model.fit, self.model)
            callbacks = {"fit": None, "fit_nocb": [], "fit_off": _monitor_off(),
                         "fit_bare": [], "fit_logs": [read_logs_callback()]}[name]

            def run():
                fit(self.x, batch_size=s.batch_size, epochs=1, shuffle=True,
                    verbose=0, callbacks=callbacks)

            return run
        if name == "ref" and self.backend == "jax":
            from _reference_jax import JAXReference

            reference = JAXReference(build_model(s), s)
        elif name == "ref" and self.backend == "torch":
            from _reference_torch import TorchKerasReference

            reference = TorchKerasReference(build_model(s), s)
        elif name in ("ref_nn", "ref_nn_fused") and self.backend == "torch":
            from _reference_torch import TorchNNReference

            reference = TorchNNReference(s, fused=(name == "ref_nn_fused") or None)
        else:
            raise ValueError(f"No variant {name!r} on {self.backend}.")
        return lambda: reference.run_epoch(self.x)

    def time_round(self, name):
        before = self._optimizer_steps(name)
        start = time.perf_counter()
        self.runners[name]()
        seconds = time.perf_counter() - start
        if before is not None:
            # A round's rate is what ran: `fit` over one epoch of exactly
            # `steps` batches; check it on the optimizer's counter.
            made = self._optimizer_steps(name) - before
            if made != self.settings.steps:
                raise RuntimeError(
                    f"{name}: a round should make {self.settings.steps} steps; "
                    f"the optimizer's counter moved by {made}."
                )
        return seconds

    def _optimizer_steps(self, name):
        """The Keras model's optimizer counter (None for hand-written steps)."""
        model = self.compiled_model if name == "fit_compiled" else getattr(self, "model", None)
        if name not in FIT_VARIANTS or model is None:
            return None
        import keras

        return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def _reply(tag, payload):
    sys.stdout.write(f"@@{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


def main(settings_json, variants, torch_threads=None, warmup_rounds=1):
    if torch_threads:
        import torch

        torch.set_num_threads(int(torch_threads))
    settings = Settings(**json.loads(settings_json))
    worker = Worker(settings, variants)
    warmup = {}
    for name in variants:
        warmup[name] = [worker.time_round(name) for _ in range(warmup_rounds)]
    _reply("ready", {"backend": worker.backend, "warmup_seconds": warmup})
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        name = command[1]
        _reply("result", {"variant": name, "seconds": worker.time_round(name)})
