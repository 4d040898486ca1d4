"""The cost of an AVB training step relative to a VAE step, per backend.

Models (`keras_avb.architectures.mnist.build_mnist_model`, MLP, 8-dim
latent space, batch 128, binarized MNIST):

- `vae`: Gaussian encoder (2 x 300 softplus features, mean/log-variance
  heads) and the 300-300 softplus decoder;
- `avb`: the same features and decoder, the basis-noise encoder head (16
  bases x 64 noise entries, 3 x 128 ELU basis MLPs), `MnistAdversary`
  against the prior, no Adaptive Contrast;
- `avb_ac`: the same with Adaptive Contrast (the encoder returns its
  moments, so AC costs almost nothing);
- `avb_ac_blackbox`: the same encoder seen as a black box (only z), so AC
  estimates the moments from `moment_samples` = 16 encoder draws per
  example.

Adversaries: `quick` (2 x 256 ELU joint, x- and z-networks, log-prior
trick; what `examples/mnist.py --quick` trains) and `paper` (4 x 1024).
Simultaneous updates, Adam for every player.

The machine may be shared and its speed swing with outside load, so the
variants run side by side: one process per backend builds and warms up
every variant, then runs rounds; in each round every variant (in rotated
order) trains `--steps` steps with `keras.Model.fit` itself (no keras_avb
callbacks) and a callback that reads each step's loss (so that each step
is finished when it is timed). A variant's time in a round is the median
of its per-step times (the first step of each round excluded); a ratio is
the median over rounds of the per-round ratio to the VAE.

It also prints forward multiply-accumulates per example of each network
(from the kernel sizes), which explain the ratios.

Usage (from the repository root):

    python benchmarks/step_cost.py --quick                 # ~3-5 minutes
    python benchmarks/step_cost.py --backends jax --rounds 7
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO_ROOT, "..", "shared", "data", "binarized_mnist.npz")
VARIANTS = ("vae", "avb", "avb_ac", "avb_ac_blackbox")
ADVERSARIES = {
    "quick": dict(adversary_units=256, adversary_depth=2, add_squared_norm=True),
    "paper": dict(adversary_units=1024, adversary_depth=4, add_squared_norm=False),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--adversaries", default="quick,paper")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=12, help="steps per variant per round")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--jit-compile", default="auto",
                        help="auto, true or false (compile's jit_compile)")
    parser.add_argument("--torch-threads", type=int, default=0,
                        help="torch.set_num_threads (0: leave PyTorch's default)")
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true",
                        help="3 rounds of 8 steps, quick adversary only")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.steps, args.adversaries = 3, 8, "quick"
    return args


# ----------------------------------------------------------------------
# Worker: one backend, every variant
# ----------------------------------------------------------------------
def _macs(model, kind):
    """Forward multiply-accumulates per example of each network."""
    def kernel_macs(layer):
        total = 0
        for v in layer.trainable_variables:
            if len(v.shape) >= 2:  # Dense kernels and stacked basis kernels
                size = 1
                for d in v.shape:
                    size *= int(d)
                total += size
        return total

    out = {"encoder": kernel_macs(model.encoder), "decoder": kernel_macs(model.decoder)}
    if kind != "vae":
        out["adversary (one call)"] = kernel_macs(model.adversary)
    return out


def _blackbox(encoder):
    import keras

    x, eps = encoder.inputs
    return keras.Model([x, eps], encoder([x, eps])[0], name="blackbox_encoder")


def build(kind, adversary, jit_compile):
    import keras

    from keras_avb import AVB
    from keras_avb.architectures import build_mnist_model

    settings = dict(latent_dim=8, architecture="mlp", seed=0, **ADVERSARIES[adversary])
    base = "avb_ac" if kind == "avb_ac_blackbox" else kind
    model = build_mnist_model(base, **settings)
    if kind == "avb_ac_blackbox":
        model = AVB(_blackbox(model.encoder), model.decoder, model.adversary,
                    adaptive_contrast=True, moment_samples=16, seed=0, name=kind)
    adam = lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)  # noqa: E731
    kwargs = dict(jit_compile=jit_compile)
    if kind == "vae":
        model.compile(optimizer=adam(), **kwargs)
    else:
        model.compile(optimizer=adam(), adversary_optimizer=adam(), **kwargs)
    return model


def worker(args):
    import keras
    import numpy as np

    if keras.backend.backend() == "torch" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    jit = {"auto": "auto", "true": True, "false": False}[args.jit_compile.lower()]
    with np.load(args.data) as archive:
        x = archive["train"][: args.batch_size * (args.steps + 1)].astype("float32")
    x = x.reshape(len(x), -1)

    class StepTimer(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            float(keras.ops.convert_to_numpy(logs["loss"]))  # the step is done
            self.times.append(time.perf_counter())

    def run(model, timer):
        timer.times = []
        keras.Model.fit(model, x, batch_size=args.batch_size, epochs=1, shuffle=False,
                        verbose=0, callbacks=[timer])
        if len(timer.times) != args.steps + 1:
            raise RuntimeError(f"a round ran {len(timer.times)} steps, not "
                               f"{args.steps + 1}")
        steps = np.diff(timer.times)  # drops the first step of the round
        return float(np.median(steps))

    variants = [(a, k) for a in args.adversaries.split(",") for k in args.variants.split(",")
                if not (k == "vae" and a != args.adversaries.split(",")[0])]
    models, macs, timers = {}, {}, {}
    for adversary, kind in variants:
        key = kind if kind == "vae" else f"{kind}/{adversary}"
        start = time.perf_counter()
        models[key] = build(kind, adversary, jit)
        timers[key] = StepTimer()
        run(models[key], timers[key])  # compile / warm up
        macs[key] = _macs(models[key], kind)
        print(f"[{keras.backend.backend()}] built and warmed up {key} in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    keys = list(models)
    times = {key: [] for key in keys}
    for r in range(args.rounds):
        order = keys[r % len(keys):] + keys[: r % len(keys)]
        for key in order:
            times[key].append(run(models[key], timers[key]))
        print(f"[{keras.backend.backend()}] round {r + 1}/{args.rounds}: "
              + ", ".join(f"{k} {times[k][-1] * 1e3:.1f} ms" for k in keys),
              file=sys.stderr, flush=True)
    ratios = {key: statistics.median(t / v for t, v in zip(times[key], times["vae"]))
              for key in keys}
    return {
        "backend": keras.backend.backend(),
        "jit_compile": {k: bool(m.jit_compile) for k, m in models.items()},
        "step_ms": {k: statistics.median(v) * 1e3 for k, v in times.items()},
        "step_ms_range": {k: (min(v) * 1e3, max(v) * 1e3) for k, v in times.items()},
        "ratio": ratios,
        "macs": macs,
    }


# ----------------------------------------------------------------------
# Driver
# ----------------------------------------------------------------------
def machine():
    info = {"nproc": os.cpu_count(), "platform": platform.platform()}
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        info["cpu"] = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines()
                            if l.startswith("Model name")), "?")
    except OSError:
        info["cpu"] = "?"
    return info


def run_workers(script, backends, argv=None):
    """Runs `script --worker <backend> argv...` once per backend, in turn.

    Returns the workers' `RESULT` JSON objects and the load averages taken
    before each backend and at the end.
    """
    results, loads = [], []
    for backend in backends:
        loads.append(os.getloadavg())
        env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, os.path.abspath(script), "--worker", backend]
        command += list(argv if argv is not None else sys.argv[1:])
        out = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT)
        lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
        if out.returncode or not lines:
            print(f"{backend}: worker failed (exit {out.returncode})", file=sys.stderr)
            continue
        results.append(json.loads(lines[-1][len("RESULT "):]))
    loads.append(os.getloadavg())
    return results, loads


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return
    started = datetime.datetime.now().isoformat(timespec="seconds")
    results, loads = run_workers(__file__, args.backends.split(","), argv)
    report(args, results, started, loads)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": machine(), "started": started,
                       "loadavg": loads, "results": results}, f, indent=1)


def report(args, results, started, loads):
    m = machine()
    print(f"\nstarted {started}; {m['nproc']} CPUs ({m['cpu']}); {m['platform']}")
    print("load average (1, 5, 15 min) before each backend and at the end: "
          + "; ".join(", ".join(f"{v:.1f}" for v in l) for l in loads))
    print(f"batch {args.batch_size}, {args.rounds} rounds x {args.steps} steps, "
          f"jit_compile={args.jit_compile}\n")
    print("| backend | variant | step (ms, median) | range over rounds | x VAE step (median of per-round ratios) |")
    print("|---|---|---|---|---|")
    for res in results:
        for key, ms in res["step_ms"].items():
            lo, hi = res["step_ms_range"][key]
            print(f"| {res['backend']} | {key} | {ms:.1f} | {lo:.1f}-{hi:.1f} | "
                  f"{res['ratio'][key]:.2f} |")
    if results:
        print("\nForward multiply-accumulates per example (kernel sizes):")
        for key, macs in results[0]["macs"].items():
            print(f"- {key}: " + ", ".join(f"{n} {v / 1e6:.2f}M" for n, v in macs.items()))


if __name__ == "__main__":
    main()
