"""One command that checks keras_avb on a machine with one NVIDIA GPU.

Runs, each part in its own subprocess with its own time limit (a part that
fails or runs out of time is recorded as such and the next one runs):

- `throughput`: `AVB.fit` against the hand-written steps of
  `_throughput_worker.py` (a jitted JAX step; plain PyTorch loops over the
  model's Keras networks and over `torch.nn` networks with fused Adam), in
  float32 and `mixed_bfloat16`, on the paper's MNIST architecture (32-dim
  latent space, 32 noise bases, 4 x 1024 adversary with linear x- and
  z-terms where `_throughput_setup.Settings` can ask for them). One worker
  process per backend; rounds rotate over every (backend, precision,
  variant) as in `train_throughput.py`; ratios are medians of per-round
  ratios.
- `ais`: `ais_throughput.py`'s worker.
- `mnist`: the 32-dim paper-architecture MNIST AVB + AC
  (`build_mnist_model("avb_ac", latent_dim=32, adversary_side_depth=0)`)
  trained for a fixed number of seconds on dynamically binarized MNIST;
  the step count is read from `model.optimizer.iterations`; then
  `model.evaluate`'s `adversarial_elbo` (an estimate that uses the
  adversary's KL, not a bound) and `iw_bound`, and an AIS estimate of
  log p(x), on the first test images.
- `tests`: a chosen subset of the test files (trainers, mixed precision,
  resuming, evaluation), one pytest process per backend, side by side.

The peak GPU memory of each process is recorded (`torch.cuda.
max_memory_allocated`; JAX's `device.memory_stats()["peak_bytes_in_use"]`).
TensorFlow is not run: it is not installed on the GPU machines, which have
PyTorch and JAX with CUDA but no Keras; bring Keras and its pure-Python
dependencies as wheels and put them and the repository on `PYTHONPATH`.

Writes `summary.json` and `summary.txt` (a short table) under `--out`,
after every part, and each part's output under `--out/logs/`.

Usage (from the repository root):

    python benchmarks/gpu_check.py --out gpu_out            # on the GPU machine, < 8 minutes
    python benchmarks/gpu_check.py --cpu --out /tmp/rehearsal   # tiny, on CPU, a few minutes

`--cpu` is the rehearsal: everything shrunk, every backend forced onto the
CPU, run end to end by `tests/gpu_check_test.py`. The data default to
`.gpu_data/` in the repository (copies of `../shared/data/*.npz`), falling
back to `../shared/data/`.

On a GPU machine without Keras (Python 3.12), prepare here, in the
repository root (`.whl/` and `.gpu_data/` are git-ignored):

    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \\
        --implementation cp --platform manylinux_2_28_x86_64 \\
        --platform manylinux_2_17_x86_64 -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
    mkdir -p .gpu_data && cp ../shared/data/mnist.npz ../shared/data/binarized_mnist.npz .gpu_data/

and run there, with `.whl` and `.gpu_data` brought along:

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    PYTHONPATH=/tmp/site:. python3 benchmarks/gpu_check.py --out OUT

The summary of the first run (one H200, 2026-12-04) is
`benchmarks/results/gpu_check_2026-12-04.json`.
"""

import argparse
import dataclasses
import datetime
import importlib.util
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(HERE)
PARTS = ("throughput", "ais", "mnist", "tests")
BACKENDS = ("jax", "torch")
POLICIES = ("float32", "mixed_bfloat16")
TENSORFLOW_MISSING = "TensorFlow is not installed on this machine: skipped"
TENSORFLOW_PRESENT = (
    "TensorFlow is installed here but not checked: the GPU machines have none, "
    "so this check runs JAX and PyTorch only"
)

#: The test files run by the `tests` part, most important first.
TEST_FILES = (
    "keras_avb/trainers/precision_test.py",
    "keras_avb/models/avb_test.py",
    "tests/resume_test.py",
    "keras_avb/evaluation/ais_test.py",
    "keras_avb/evaluation/log_likelihood_test.py",
    "keras_avb/evaluation/importance_test.py",
    "tests/reproducibility_test.py",
)

# What each mode runs. Seconds are limits; parts usually end sooner.
GPU = dict(
    budget=460,
    limits=dict(throughput=160, ais=70, mnist=150, tests=120),
    throughput=dict(steps=100, rounds=5, batch_size=128, model=dict(
        latent_dim=32, num_bases=32, adversary_units=1024, adversary_depth=4,
        log_prior_trick=False, adversary_side_depth=0)),
    ais=dict(examples=256, steps=50, chains=5, leapfrog=10, chunk_sizes="256", rounds=2),
    mnist=dict(train_seconds=45, steps_per_epoch=200, eval_examples=256, ais_steps=1000,
               ais_chains=5, ais_seconds=30, ais_calibration_steps=(5, 25), model={}),
    tests=dict(files=TEST_FILES, keyword=None, workers=4),
)
CPU = dict(
    budget=240,
    limits=dict(throughput=90, ais=60, mnist=60, tests=60),
    throughput=dict(steps=2, rounds=2, batch_size=16, model=dict(
        latent_dim=4, num_bases=2, noise_dim=4, adversary_units=16, adversary_depth=1,
        log_prior_trick=False, adversary_side_depth=0)),
    ais=dict(examples=4, steps=2, chains=2, leapfrog=2, chunk_sizes="4", rounds=1),
    mnist=dict(train_seconds=2, steps_per_epoch=5, eval_examples=16, ais_steps=3,
               ais_chains=2, ais_seconds=30, ais_calibration_steps=(1, 2), model=dict(
                   hidden_units=(16,), noise_units=(8,), num_bases=2, noise_dim=4,
                   decoder_units=(16,), adversary_units=16, adversary_depth=1)),
    tests=dict(files=("keras_avb/models/avb_test.py",),
               keyword="kl_annealing_weight_follows_the_step_counter", workers=0),
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="folder for summary.json, summary.txt, logs/")
    parser.add_argument("--cpu", action="store_true",
                        help="rehearsal: everything tiny, every backend on the CPU")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help="comma-separated, from jax,torch (default both)")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"comma-separated, from {','.join(PARTS)} (default all, in that order)")
    parser.add_argument("--mnist-backend", default="jax", choices=BACKENDS,
                        help="the backend that trains the MNIST model (default jax)")
    parser.add_argument("--train-seconds", type=float, default=None,
                        help="MNIST training time after the first step (default 45; --cpu 2)")
    parser.add_argument("--budget", type=float, default=None,
                        help="seconds for all parts together (default 460; --cpu 240)")
    parser.add_argument("--limit", action="append", default=[], metavar="PART=SECONDS",
                        help="override one part's time limit (repeatable)")
    parser.add_argument("--data", default=None,
                        help="folder with mnist.npz and binarized_mnist.npz "
                             "(default .gpu_data/, else ../shared/data/)")
    parser.add_argument("--verbose", default="auto", help='"auto" (1), 1 or 0')
    parser.add_argument("--part", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--config", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _split(text, allowed, name):
    values = [v.strip() for v in text.split(",") if v.strip()]
    unknown = [v for v in values if v not in allowed]
    if not values or unknown:
        raise ValueError(
            f"`--{name}` must be a comma-separated list from {', '.join(allowed)}; "
            f"received {text!r}" + (" (TensorFlow is not part of this check)"
                                    if "tensorflow" in unknown else "")
        )
    return [v for v in allowed if v in values]


def _data_dir(path):
    candidates = [path] if path else [os.path.join(REPO_ROOT, ".gpu_data"),
                                      os.path.join(REPO_ROOT, "..", "shared", "data")]
    for folder in candidates:
        if all(os.path.isfile(os.path.join(folder, f))
               for f in ("mnist.npz", "binarized_mnist.npz")):
            return os.path.abspath(folder)
    raise ValueError(
        "No folder with mnist.npz and binarized_mnist.npz among "
        f"{candidates}; copy them from ../shared/data/ into .gpu_data/ or pass --data."
    )


def resolve(args):
    """Checks the arguments and returns the run's configuration (no work yet)."""
    verbose = 1 if args.verbose == "auto" else int(args.verbose)
    config = json.loads(json.dumps(CPU if args.cpu else GPU))  # a deep copy
    config.update(mode="cpu" if args.cpu else "gpu", verbose=verbose,
                  backends=_split(args.backends, BACKENDS, "backends"),
                  parts=_split(args.parts, PARTS, "parts"),
                  mnist_backend=args.mnist_backend)
    if args.train_seconds is not None:
        if not args.train_seconds > 0:
            raise ValueError(f"`--train-seconds` must be positive; received {args.train_seconds}")
        config["mnist"]["train_seconds"] = args.train_seconds
    if args.budget is not None:
        if not args.budget > 0:
            raise ValueError(f"`--budget` must be positive; received {args.budget}")
        config["budget"] = args.budget
    for item in args.limit:
        part, _, seconds = item.partition("=")
        if part not in PARTS or not re.fullmatch(r"\d+(\.\d+)?", seconds):
            raise ValueError(f"`--limit` takes PART=SECONDS with PART in {PARTS}; received {item!r}")
        config["limits"][part] = float(seconds)
    # The data folder last: the argument checks above need no files.
    config["data"] = _data_dir(args.data)
    config["logs"] = os.path.abspath(os.path.join(args.out, "logs"))
    if config["mode"] == "gpu" and _gpu_info() is None:
        raise ValueError("No NVIDIA GPU found (`nvidia-smi -L` lists none); "
                         "use --cpu for the CPU rehearsal.")
    return config


def _gpu_info():
    if shutil.which("nvidia-smi") is None:
        return None
    try:
        text = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
             "--format=csv,noheader"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    rows = [r.strip() for r in text.splitlines() if r.strip()]
    return rows or None


# -- The driver ---------------------------------------------------------------


def main(argv=None):
    args = parse_args(argv)
    if args.part:
        return run_part(args.part, json.loads(args.config), args.result)
    config = resolve(args)
    os.makedirs(os.path.join(args.out, "logs"), exist_ok=True)
    summary = dict(
        schema=1, mode=config["mode"], date=datetime.datetime.now(datetime.timezone.utc)
        .isoformat(timespec="seconds"),
        command=" ".join(["python"] + [os.path.relpath(__file__, REPO_ROOT)] + sys.argv[1:]),
        python=platform.python_version(), host_cpus=os.cpu_count(),
        gpu=_gpu_info() if config["mode"] == "gpu" else None,
        tensorflow=TENSORFLOW_MISSING if importlib.util.find_spec("tensorflow") is None
        else TENSORFLOW_PRESENT,
        backends=config["backends"], budget_seconds=config["budget"], parts={},
    )
    say = print if config["verbose"] else (lambda *a, **k: None)
    say(f"gpu_check ({config['mode']}): {summary['tensorflow']}", flush=True)
    start = time.monotonic()
    for part in config["parts"]:
        remaining = config["budget"] - (time.monotonic() - start)
        limit = max(1.0, min(config["limits"][part], remaining))
        say(f"[{part}] starting (limit {limit:.0f} s)", flush=True)
        result = launch_part(part, config, args.out, limit)
        summary["parts"][part] = result
        say(f"[{part}] {result['status']} in {result['seconds']:.0f} s", flush=True)
        write_summary(summary, args.out)
    summary["total_seconds"] = round(time.monotonic() - start, 1)
    write_summary(summary, args.out)
    say("\n" + text_summary(summary), flush=True)
    return summary


def part_environment(config, backend=None):
    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_CPP_MIN_LOG_LEVEL="2",
               XLA_PYTHON_CLIENT_PREALLOCATE="false")
    env["PYTHONPATH"] = os.pathsep.join(
        [REPO_ROOT, HERE] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    if backend:
        env["KERAS_BACKEND"] = backend
    if config["mode"] == "cpu":
        env.update(JAX_PLATFORMS="cpu", CUDA_VISIBLE_DEVICES="")
    return env


def launch_part(part, config, out, limit):
    """Runs one part in a subprocess; returns its result, or why there is none."""
    with tempfile.TemporaryDirectory() as tmp:
        result_path = os.path.join(tmp, "result.json")
        # The MNIST part runs under one backend; the others start one process per backend.
        backend = config["mnist_backend"] if part == "mnist" else None
        # The tests part's pytest processes write logs/tests_<backend>.log and its own
        # few lines stay out of logs/ (at most 8 files come back from a GPU run).
        log_path = os.path.join(tmp if part == "tests" else config["logs"], f"{part}.log")
        command = [sys.executable, os.path.abspath(__file__), "--out", out, "--part", part,
                   "--config", json.dumps(dict(config, part_limit=limit)),
                   "--result", result_path]
        start = time.monotonic()
        with open(log_path, "w") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                       env=part_environment(config, backend), cwd=REPO_ROOT,
                                       start_new_session=True)
            try:
                returncode = process.wait(timeout=limit)
                status = "ok" if returncode == 0 else "error"
            except subprocess.TimeoutExpired:
                _kill_group(process)
                returncode, status = None, "timeout"
        result = {}
        if os.path.exists(result_path):  # parts write what they have as they go
            with open(result_path) as f:
                result = json.load(f)
        if status == "ok" and result.get("failed"):
            status = "failed"
        if status != "ok":
            result["log_tail"] = _tail(log_path, 1500)
    result.update(status=status, returncode=returncode, limit_seconds=round(limit),
                  seconds=round(time.monotonic() - start, 1))
    return result


def _kill_group(process):
    import signal

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait()


def _tail(path, chars):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-chars:]
    except OSError:
        return ""


def write_summary(summary, out):
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(out, "summary.txt"), "w") as f:
        f.write(text_summary(summary) + "\n")


def _gib(value):
    return "-" if value is None else f"{value / 2**30:.2f} GiB"


def text_summary(summary):
    """A short plain-text table of every part's figures."""
    lines = [f"gpu_check {summary['mode']} {summary['date']}  gpu: {summary.get('gpu')}",
             summary["tensorflow"]]
    parts = summary["parts"]
    for name, part in parts.items():
        lines.append(f"\n[{name}] {part['status']} ({part['seconds']:.0f} s of "
                     f"{part['limit_seconds']} s)")
        if name == "tests":
            for backend, r in part.get("backends", {}).items():
                lines.append(
                    f"  {backend:6s} passed {r.get('passed', 0)}  failed {r.get('failed', 0)}  "
                    f"errors {r.get('errors', 0)}  skipped {r.get('skipped', 0)}  "
                    f"deselected {r.get('deselected', 0)}  ({r.get('status')}, "
                    f"{r.get('seconds', 0):.0f} s)")
                for failure in r.get("failures", [])[:8]:
                    lines.append(f"    FAILED {failure}")
        if name == "throughput":
            lines.append("  backend precision      variant  fit ex/s   reference      ref ex/s  "
                         "fit/ref (range)       peak GPU memory")
            for row in part.get("rows", []):
                lines.append(
                    f"  {row['backend']:6s}  {row['policy']:14s} {row.get('variant', 'fit'):8s} "
                    f"{row['fit']:8.0f}   "
                    f"{row['reference']:12s} {row['reference_speed']:8.0f}  "
                    f"{row['ratio']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})  "
                    f"{_gib(row.get('peak_bytes'))}")
        if name == "ais":
            for r in part.get("backends", {}).values():
                for row in r.get("rows", []):
                    lines.append(
                        f"  {r['backend']:6s} chunk {row['chunk']:4d}  {row['seconds']:.2f} s  "
                        f"{row['throughput']:.0f} examples x distributions x chains / s  "
                        f"(peak {_gib(r.get('peak_bytes'))})")
        if name == "mnist" and "steps" in part:
            lines.append(
                f"  {part['backend']}: {part['steps']} steps (optimizer.iterations) in "
                f"{part['train_seconds']:.0f} s after the first step "
                f"({part['steps_per_second']:.1f} steps/s); peak {_gib(part.get('peak_bytes'))}")
            for key in ("adversarial_elbo", "iw_bound"):
                if key in part.get("evaluate", {}):
                    lines.append(f"  {key} on {part['eval_examples']} test images: "
                                 f"{part['evaluate'][key]:.2f}")
            if "ais" in part:
                a = part["ais"]
                lines.append(f"  AIS log p(x) on {part['eval_examples']} test images: "
                             f"{a['mean']:.2f} +- {a['standard_error']:.2f} ({a['steps']} steps x "
                             f"{a['chains']} chains, {a['seconds']:.0f} s)")
        if part.get("error"):
            lines.append(f"  error: {part['error']}")
    lines.append(f"\ntotal {summary.get('total_seconds', 0):.0f} s "
                 f"(budget {summary['budget_seconds']} s)")
    return "\n".join(lines)


# -- Parts (each runs in its own process) -------------------------------------


class Result(dict):
    """A part's result, written to disk after every change."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def save(self, **items):
        self.update(items)
        if self.path:
            with open(self.path + ".tmp", "w") as f:
                json.dump(self, f, default=float)
            os.replace(self.path + ".tmp", self.path)


def run_part(part, config, result_path):
    result = Result(None if result_path in (None, "-") else result_path)
    try:
        {"throughput": throughput_part, "ais": ais_part, "mnist": mnist_part,
         "tests": tests_part, "throughput-worker": throughput_worker,
         "ais-worker": ais_worker}[part](config, result)
    except Exception as error:  # recorded, and the driver goes on with the next part
        result.save(error=f"{type(error).__name__}: {error}")
        raise
    return result


def backend_device(gpu):
    """The active backend's device name; on the GPU, fails unless it is a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        name, on_gpu = f"{device.platform}:{device.device_kind}", device.platform == "gpu"
    else:
        import torch

        on_gpu = torch.cuda.is_available()
        name = f"cuda:{torch.cuda.get_device_name(0)}" if on_gpu else "cpu"
    if gpu and not on_gpu:
        raise RuntimeError(f"{backend} sees no GPU (device {name}).")
    return name


def peak_memory():
    """Peak accelerator bytes of this process (None on the CPU), and peak host RSS."""
    import resource

    import keras

    peak = None
    if keras.backend.backend() == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        peak = stats.get("peak_bytes_in_use")
    else:
        import torch

        if torch.cuda.is_available():
            peak = int(torch.cuda.max_memory_allocated())
    return dict(peak_bytes=peak,
                peak_host_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)


def versions():
    from importlib import metadata

    found = {}
    for name in ("keras", "jax", "jaxlib", "torch", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


# -- throughput ----------------------------------------------------------------


#: More `fit` variants of `_throughput_worker.py` to time against the same
#: references, e.g. `GPU_CHECK_FIT_VARIANTS=fit_off,fit_bare` to tell Keras'
#: own per-step cost from the TrainingMonitor's. An environment variable, so
#: that the worker processes see it too.
EXTRA_FIT_VARIANTS = [v for v in os.environ.get("GPU_CHECK_FIT_VARIANTS", "").split(",") if v]


def variants_for(backend, policy):
    """fit (and any extra fit variants) and the references that compute in `policy`."""
    fits = ["fit"] + EXTRA_FIT_VARIANTS
    if backend == "jax":
        return fits + ["ref"]
    # The torch.nn reference computes in float32 whatever the Keras policy.
    return fits + (["ref", "ref_nn_fused"] if policy == "float32" else ["ref"])


def throughput_settings(config):
    from _throughput_setup import Settings

    t = config["throughput"]
    fields = {f.name for f in dataclasses.fields(Settings)}
    # A Settings without `adversary_side_depth` benchmarks full side networks.
    model = {k: v for k, v in t["model"].items() if k in fields}
    return Settings(architecture="mlp", batch_size=t["batch_size"], steps=t["steps"],
                    data=os.path.join(config["data"], "binarized_mnist.npz"), **model)


def throughput_part(config, result):
    settings = throughput_settings(config)
    result.save(settings=dataclasses.asdict(settings), rounds=config["throughput"]["rounds"],
                note="ref: jitted JAX step / plain torch loop over the model's Keras networks; "
                     "ref_nn_fused: torch.nn networks with torch.optim.Adam(fused=True), "
                     "float32 only")
    workers = {b: ThroughputWorker(b, config) for b in config["backends"]}
    try:
        ready = {}
        for backend, worker in list(workers.items()):
            try:  # warm-ups run side by side; a backend that fails is left out
                ready[backend] = worker.wait_ready()
            except RuntimeError as error:
                ready[backend] = dict(error=str(error))
                workers.pop(backend)
                result.save(failed=True)
        result.save(warmup=ready)
        order = [(b, p, v) for b, w in workers.items() for p in POLICIES
                 for v in variants_for(b, p) if v in ready[b]["warmup_seconds"][p]]
        if len(order) < sum(len(variants_for(b, p)) for b in config["backends"]
                            for p in POLICIES):
            result.save(failed=True)
        seconds = {key: [] for key in order}
        for r in range(config["throughput"]["rounds"]):
            shift = r % len(order)
            for backend, policy, variant in order[shift:] + order[:shift]:
                seconds[(backend, policy, variant)].append(workers[backend].run(policy, variant))
            print(f"round {r + 1}: " + ", ".join(
                f"{b}/{p}/{v} {settings.examples_per_round / seconds[(b, p, v)][-1]:.0f}"
                for b, p, v in order) + " ex/s", flush=True)
            result.save(round_seconds={"/".join(k): v for k, v in seconds.items()})
    finally:
        memory = {b: w.close() for b, w in workers.items()}
    result.save(memory=memory, rows=throughput_rows(settings, seconds, memory))


def throughput_rows(settings, seconds, memory):
    rows = []
    n = settings.examples_per_round
    for (backend, policy, variant), fit in seconds.items():
        if not variant.startswith("fit"):
            continue
        for (b, p, reference), ref in seconds.items():
            if (b, p) != (backend, policy) or reference.startswith("fit"):
                continue
            ratios = [r / f for f, r in zip(fit, ref)]
            rows.append(dict(
                backend=backend, policy=policy, variant=variant, reference=reference,
                fit=statistics.median(n / t for t in fit),
                reference_speed=statistics.median(n / t for t in ref),
                ratio=statistics.median(ratios), ratio_min=min(ratios), ratio_max=max(ratios),
                peak_bytes=(memory.get(backend) or {}).get("peak_bytes")))
    return rows


class ThroughputWorker:
    """One backend's worker process (`--part throughput-worker`), driven by lines."""

    def __init__(self, backend, config):
        self.backend = backend
        command = [sys.executable, os.path.abspath(__file__), "--out", "-",
                   "--part", "throughput-worker", "--config", json.dumps(config)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env=part_environment(config, backend), cwd=REPO_ROOT)

    def wait_ready(self):
        ready = self._read("ready")
        print(f"[{self.backend}] ready: {json.dumps(ready)}", flush=True)
        return ready

    def _read(self, tag):
        for line in self.process.stdout:
            if line.startswith(f"@@{tag} "):
                return json.loads(line[len(tag) + 3:])
            print(f"[{self.backend}] {line.rstrip()}", flush=True)
        raise RuntimeError(f"The {self.backend} worker exited (code {self.process.wait()}).")

    def run(self, policy, variant):
        self.process.stdin.write(f"run {policy} {variant}\n")
        self.process.stdin.flush()
        return self._read("result")["seconds"]

    def close(self):
        if self.process.poll() is not None:
            return None
        self.process.stdin.write("quit\n")
        self.process.stdin.flush()
        memory = self._read("memory")
        self.process.wait()
        return memory


def _reply(tag, payload):
    sys.stdout.write(f"@@{tag} {json.dumps(payload)}\n")
    sys.stdout.flush()


def throughput_worker(config, result):
    """Builds and warms up every (precision, variant); then times rounds on request.

    A variant that fails to build or to run its warm-up round is reported
    (and left out of the rounds) instead of ending the worker.
    """
    import traceback

    import keras

    from _throughput_worker import Worker

    backend = keras.backend.backend()
    device = backend_device(config["mode"] == "gpu")
    if backend == "torch":
        import torch

        if config["mode"] == "cpu":
            torch.set_num_threads(1)
    settings = throughput_settings(config)
    workers, warmup, memory, errors = {}, {}, {}, {}
    for policy in POLICIES:
        if backend == "torch" and torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        warmup[policy] = {}
        keras.config.set_dtype_policy(policy)
        try:
            workers[policy] = worker = Worker(settings, [])
            for variant in variants_for(backend, policy):
                try:
                    worker.runners[variant] = worker._make(variant)
                    warmup[policy][variant] = round(worker.time_round(variant), 2)
                except Exception as error:
                    worker.runners.pop(variant, None)
                    traceback.print_exc()
                    errors[f"{policy}/{variant}"] = f"{type(error).__name__}: {error}"[:800]
        finally:
            keras.config.set_dtype_policy("float32")
        memory[policy] = peak_memory()["peak_bytes"]
    _reply("ready", dict(device=device, warmup_seconds=warmup, errors=errors,
                         versions=versions(), peak_bytes_after_warmup=memory))
    for line in sys.stdin:
        command = line.split()
        if not command or command[0] == "quit":
            break
        _, policy, variant = command
        _reply("result", {"seconds": workers[policy].time_round(variant)})
    _reply("memory", dict(peak_memory(), peak_bytes_after_warmup=memory,
                          note="peak_bytes: the whole process, both precisions' models "
                               "resident (torch resets before each precision's warm-up)"))


# -- ais -----------------------------------------------------------------------


def ais_part(config, result):
    """`ais_throughput.py`'s worker, one process per backend."""
    result.save(settings=config["ais"], backends={})
    for backend in config["backends"]:
        command = [sys.executable, os.path.abspath(__file__), "--out", "-", "--part",
                   "ais-worker", "--config", json.dumps(config), "--result", "-"]
        completed = subprocess.run(command, env=part_environment(config, backend),
                                   cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
        found = [line for line in completed.stdout.splitlines() if line.startswith("@@ais ")]
        print(completed.stdout, flush=True)
        if completed.returncode or not found:
            result["backends"][backend] = dict(backend=backend, error=f"exit {completed.returncode}")
            result.save(failed=True)
            continue
        result["backends"][backend] = json.loads(found[-1][len("@@ais "):])
        result.save()


def ais_worker(config, result):
    import keras

    import ais_throughput

    device = backend_device(config["mode"] == "gpu")
    if keras.backend.backend() == "torch" and config["mode"] == "cpu":
        import torch

        torch.set_num_threads(1)
    a = config["ais"]
    args = ais_throughput.parse_args([
        "--examples", str(a["examples"]), "--steps", str(a["steps"]), "--chains",
        str(a["chains"]), "--leapfrog", str(a["leapfrog"]), "--chunk-sizes", a["chunk_sizes"],
        "--rounds", str(a["rounds"]), "--data",
        os.path.join(config["data"], "binarized_mnist.npz")])
    found = ais_throughput.worker(args)
    _reply("ais", dict(found, device=device, **peak_memory()))


# -- mnist ---------------------------------------------------------------------


def _time_limit_callback(seconds):
    import keras

    class TimeLimit(keras.callbacks.Callback):
        """Stops `fit` `seconds` after its first step ends (compilation excluded)."""

        def on_train_batch_end(self, batch, logs=None):
            now = time.perf_counter()
            if not hasattr(self, "start"):
                self.start = now
            elif now - self.start >= seconds:
                self.model.stop_training = True
            self.elapsed = now - self.start

    return TimeLimit()


def mnist_part(config, result):
    """Trains the paper-architecture 32-dim AVB + AC for a fixed time; evaluates it."""
    import keras
    import numpy as np

    from keras_avb.architectures import build_mnist_model
    from keras_avb.datasets import load_mnist
    from keras_avb.evaluation import evaluate_log_likelihood

    m = config["mnist"]
    device = backend_device(config["mode"] == "gpu")
    if keras.backend.backend() == "torch" and config["mode"] == "cpu":
        import torch

        torch.set_num_threads(1)
    keras.utils.set_random_seed(0)
    (train, _), (x_test, _) = load_mnist(os.path.join(config["data"], "mnist.npz"),
                                         binarization="dynamic", seed=0, batch_size=128)
    options = dict(latent_dim=32, adversary_units=1024, adversary_depth=4,
                   adversary_side_depth=0, add_squared_norm=False, seed=0)
    options.update(m["model"])
    model = build_mnist_model("avb_ac", **options)
    model.kl_annealing_steps = 1500
    model.compile(optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                  adversary_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    hyper = dict(options, kind="avb_ac", data="mnist.npz, dynamic binarization (seed 0)",
                 batch_size=128, learning_rates=(1e-3, 1e-3), beta_1=0.5,
                 kl_annealing_steps=1500, updates="simultaneous")
    result.save(backend=keras.backend.backend(), device=device, model=hyper,
                versions=versions())
    timer = _time_limit_callback(m["train_seconds"])
    start = time.perf_counter()
    history = model.fit(train, epochs=10**6, steps_per_epoch=min(m["steps_per_epoch"], len(train)),
                        verbose=2, callbacks=[timer])
    steps = int(model.optimizer.iterations)
    result.save(
        steps=steps, generator_steps=int(model.player_optimizer.iterations),
        adversary_steps=int(model.adversary_optimizer.iterations),
        train_seconds=timer.elapsed, fit_seconds=time.perf_counter() - start,
        steps_per_second=(steps - 1) / max(timer.elapsed, 1e-9),
        final_train_metrics={k: float(v[-1]) for k, v in history.history.items()},
        **peak_memory())
    x_eval = x_test[: m["eval_examples"]]
    evaluation = [model.evaluate(x_eval, batch_size=min(256, len(x_eval)), verbose=0,
                                 return_dict=True) for _ in range(4)]
    result.save(eval_examples=len(x_eval), evaluate={
        k: float(np.mean([e[k] for e in evaluation])) for k in evaluation[0]},
        evaluate_note="mean of 4 passes of model.evaluate; adversarial_elbo uses the "
                      "adversary's KL estimate (an estimate, not a bound)")
    ais_steps = _affordable_ais_steps(model, x_eval, m, evaluate_log_likelihood)
    estimate, seconds = _timed_ais(model, x_eval, ais_steps, m, evaluate_log_likelihood)
    log_px = np.asarray(estimate.log_likelihood, dtype="float64")
    result.save(ais=dict(
        steps=ais_steps, chains=m["ais_chains"], leapfrog=10, seconds=seconds,
        mean=float(log_px.mean()), standard_error=float(log_px.std() / math.sqrt(len(log_px))),
        acceptance=float(np.mean(estimate.acceptance_rate)),
        note="AIS from AC's r(z|x); at most the configured steps, fewer if short "
             f"runs after a compiling one predict more than {m['ais_seconds']} s"),
        **peak_memory())


def _affordable_ais_steps(model, x, m, evaluate_log_likelihood):
    """`m["ais_steps"]`, or fewer if they would take more than `m["ais_seconds"]`.

    A first short run compiles (JAX reuses that compilation for any step
    count); two more runs fit seconds = overhead + steps * per_step.
    """
    short, longer = m["ais_calibration_steps"]
    t_compile = _timed_ais(model, x, short, m, evaluate_log_likelihood)[1]
    t_short = _timed_ais(model, x, short, m, evaluate_log_likelihood)[1]
    t_longer = _timed_ais(model, x, longer, m, evaluate_log_likelihood)[1]
    per_step = (t_longer - t_short) / (longer - short)
    if per_step <= 0:  # timing noise: charge every second to the steps
        per_step = t_longer / longer
    overhead = max(t_longer - longer * per_step, 0.0)
    affordable = int((m["ais_seconds"] - overhead) / per_step)
    print(f"AIS: {short} steps {t_compile:.1f} s (compiling), then {t_short:.1f} s; {longer} "
          f"steps {t_longer:.1f} s: {per_step:.4f} s per step + {overhead:.1f} s; "
          f"{affordable} affordable", flush=True)
    return max(longer, min(m["ais_steps"], affordable))


def _timed_ais(model, x, steps, m, evaluate_log_likelihood):
    start = time.perf_counter()
    estimate = evaluate_log_likelihood(model, x, method="ais", num_steps=steps,
                                       num_chains=m["ais_chains"], batch_size=len(x),
                                       seed=0, verbose=0)
    return estimate, time.perf_counter() - start


# -- tests ---------------------------------------------------------------------


def tests_part(config, result):
    """One pytest process per backend, side by side; counts read from the output."""
    t = config["tests"]
    result.save(files=list(t["files"]), keyword=t["keyword"], backends={})
    processes = {}
    for backend in config["backends"]:
        # `-o addopts=` drops the project's `-n auto`: the workers are chosen
        # here, and pytest-xdist may be missing from the wheels brought along.
        command = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-rfE",
                   "-o", "addopts=", *t["files"]]
        if t["keyword"]:
            command += ["-k", t["keyword"]]
        if t["workers"] and importlib.util.find_spec("xdist") is not None:
            command += ["-n", str(t["workers"])]
        log_path = os.path.join(config["logs"], f"tests_{backend}.log")
        log = open(log_path, "w")
        processes[backend] = (subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT,
            env=part_environment(config, backend), start_new_session=True),
            log, log_path, time.monotonic())
    # Stop pytest a little before the part's limit, so that its counts so far are kept.
    deadline = time.monotonic() + config.get("part_limit", 600) - 15
    for backend, (process, log, log_path, start) in processes.items():
        try:
            returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
            status = "ok" if returncode == 0 else "failed"
        except subprocess.TimeoutExpired:
            _kill_group(process)  # pytest and its xdist workers
            returncode, status = None, "timeout"
        log.close()
        counts = pytest_counts(_tail(log_path, 10**7))
        counts.update(returncode=returncode, seconds=round(time.monotonic() - start, 1),
                      status=status)
        result["backends"][backend] = counts
        if status != "ok":
            result["failed"] = True
        result.save()


def pytest_counts(text):
    """Passed/failed/... counts from pytest -v output (also a partial one)."""
    outcomes = re.findall(r"(?:^|\s)(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b", text, re.M)
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0, "deselected": 0}
    final = re.findall(r"=+ (.*?) in [\d.]+s", text)
    if final:
        for number, word in re.findall(r"(\d+) (passed|failed|errors?|skipped|deselected)",
                                       final[-1]):
            counts["errors" if word.startswith("error") else word] = int(number)
    else:  # killed before the end: count the lines seen so far
        for outcome in outcomes:
            key = {"PASSED": "passed", "FAILED": "failed", "ERROR": "errors",
                   "SKIPPED": "skipped"}.get(outcome)
            if key:
                counts[key] += 1
    counts["failures"] = sorted(set(re.findall(r"^(?:FAILED|ERROR) (\S+)", text, re.M)))
    return counts


if __name__ == "__main__":
    main()
