"""Training throughput of `AVB.fit` against the same step written by hand.

For each architecture (`keras_avb.architectures.mnist`, MLP and conv) and
each backend, measures examples per second of

- `fit` with its defaults (`fit`), with its `TrainingMonitor` switched
  off (`fit_off`), and `keras.Model.fit` itself without keras_avb's
  additions (`fit_bare`); `fit_nocb` (`callbacks=[]`) and `fit_logs` (a
  callback reading every step's logs) on request (`--variants`), and
- the hand-written reference: a `jax.jit` step with `stateless_call` and
  plain Adam (JAX), a plain PyTorch loop with `torch.optim.Adam` over the
  model's Keras networks and over equivalent `torch.nn` networks (torch).
  TensorFlow only has the `fit` numbers.

The machine may be shared and its speed swing with outside load, so the
variants are compared side by side: one worker process per backend builds
and warms up (compiles) all its variants, then the driver runs one round
(one shuffled epoch of `steps * batch_size` binarized-MNIST images, batch
`batch_size`) of every variant in turn, rotating the order each round, and
only one worker computes at a time. Speeds are medians over rounds; a
ratio is the median over rounds of the ratio of two variants' speeds in
the same round.

The configuration is `examples/mnist.py --quick`'s (see
`_throughput_setup.py`); `--paper` uses the paper's 4 x 1024 adversary.
The conv decoder has 8 base filters by default instead of the paper's 32
(with 32, XLA's CPU transposed convolutions make one JAX step ~40 s).
PyTorch runs with one intra-op thread by default (`--torch-threads`), in
`fit` and in the references alike: on a loaded 2-core machine two threads
made rounds vary tenfold.

Usage (from the repository root):

    python benchmarks/train_throughput.py --quick          # minutes on an idle 2-core CPU
    python benchmarks/train_throughput.py                  # 5 rounds, longer epochs
    python benchmarks/train_throughput.py --backends jax --architectures mlp \
        --variants fit fit_bare ref --rounds 7 --output results.json

No test times anything; this script is run by hand.
"""

import argparse
import dataclasses
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from _throughput_setup import Settings  # noqa: E402

VARIANTS = {
    "jax": ("fit", "fit_off", "fit_bare", "ref"),
    "torch": ("fit", "fit_off", "fit_bare", "ref", "ref_nn"),
    "tensorflow": ("fit", "fit_off", "fit_bare"),
}
OPTIONAL = {"jax": ("fit_nocb", "fit_logs", "fit_compiled"),
            "torch": ("fit_nocb", "fit_logs", "fit_compiled", "ref_nn_fused"),
            "tensorflow": ("fit_nocb", "fit_logs", "fit_compiled")}
REFERENCES = {"jax": ("ref",), "torch": ("ref", "ref_nn", "ref_nn_fused"), "tensorflow": ()}
# Steps per round: a conv step costs ~15x an MLP step on a 2-core CPU.
STEPS = {"quick": {"mlp": 20, "conv": 3}, "full": {"mlp": 50, "conv": 8}}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--architectures", nargs="+", default=["mlp", "conv"],
                   choices=("mlp", "conv"))
    p.add_argument("--backends", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--variants", nargs="+", default=None,
                   help="variants to run (default: fit fit_off fit_bare ref ref_nn; "
                        "also fit_nocb, fit_logs, ref_nn_fused; see _throughput_worker.py)")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (5; 3 with --quick)")
    p.add_argument("--steps", type=int, default=None,
                   help="steps per round (default per architecture: "
                        f"{STEPS['full']}; --quick {STEPS['quick']})")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--decoder-filters", type=int, default=8,
                   help="conv decoder base filters (default 8; the paper's 32 makes "
                        "one JAX step take ~40 s on a 2-core CPU)")
    p.add_argument("--paper", action="store_true",
                   help="the paper's 4 x 1024 adversary without the log-prior trick")
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch.set_num_threads in the torch worker (default 1: on a "
                        "shared 2-core CPU, 2 threads made rounds vary 10x); "
                        "0 keeps torch's default")
    p.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    p.add_argument("--output", default=None, help="write the raw results as JSON here")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--settings", default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def settings_for(args, architecture):
    mode = "quick" if args.quick else "full"
    filters = args.decoder_filters
    s = Settings(architecture=architecture, batch_size=args.batch_size,
                 steps=args.steps or STEPS[mode][architecture], decoder_filters=filters)
    if args.paper:
        s = dataclasses.replace(s, adversary_units=1024, adversary_depth=4,
                                log_prior_trick=False)
    return s


class WorkerProcess:
    """A worker subprocess for one backend, driven line by line."""

    def __init__(self, backend, settings, variants, torch_threads):
        env = dict(os.environ, KERAS_BACKEND=backend, PYTHONUNBUFFERED="1",
                   TF_CPP_MIN_LOG_LEVEL="2")
        command = [sys.executable, os.path.abspath(__file__), "--worker",
                   ",".join(variants), "--settings", json.dumps(dataclasses.asdict(settings))]
        if torch_threads:
            command += ["--torch-threads", str(torch_threads)]
        self.backend = backend
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True, env=env)
        self.ready = self._read("ready")

    def _read(self, tag):
        for line in self.process.stdout:
            if line.startswith(f"@@{tag} "):
                return json.loads(line[len(tag) + 3:])
        raise RuntimeError(f"The {self.backend} worker exited (code {self.process.wait()}).")

    def run(self, variant):
        self.process.stdin.write(f"run {variant}\n")
        self.process.stdin.flush()
        return self._read("result")["seconds"]

    def close(self):
        if self.process.poll() is None:
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait()


def benchmark(args, architecture):
    """Runs the rounds for one architecture; returns seconds per round per variant."""
    settings = settings_for(args, architecture)
    rounds = args.rounds or (3 if args.quick else 5)
    workers, order = {}, []
    try:
        for backend in args.backends:
            variants = [v for v in VARIANTS[backend] + OPTIONAL[backend]
                        if (v in args.variants if args.variants else v in VARIANTS[backend])]
            if not variants:
                continue
            print(f"[{architecture}] starting the {backend} worker ({', '.join(variants)})",
                  flush=True)
            workers[backend] = WorkerProcess(backend, settings, variants, args.torch_threads)
            order += [(backend, v) for v in variants]
        seconds = {key: [] for key in order}
        for r in range(rounds):
            shift = r % len(order)
            for backend, variant in order[shift:] + order[:shift]:
                seconds[(backend, variant)].append(workers[backend].run(variant))
            print(f"[{architecture}] round {r + 1}/{rounds}: " + ", ".join(
                f"{b}/{v} {settings.examples_per_round / seconds[(b, v)][-1]:.0f}"
                for b, v in order) + " ex/s", flush=True)
    finally:
        for worker in workers.values():
            worker.close()
    return settings, seconds


def summarise(settings, seconds):
    """Median ex/s per variant and median per-round ratios of fit to references."""
    n = settings.examples_per_round
    speed = {key: statistics.median(n / t for t in ts) for key, ts in seconds.items()}
    ratios = {}
    for (backend, variant), ts in seconds.items():
        for reference in REFERENCES[backend]:
            ref = seconds.get((backend, reference))
            if ref and not variant.startswith("ref"):
                ratios[(backend, variant, reference)] = statistics.median(
                    r / t for t, r in zip(ts, ref))
        if variant != "fit_bare" and (backend, "fit_bare") in seconds and variant.startswith("fit"):
            ratios[(backend, variant, "fit_bare")] = statistics.median(
                r / t for t, r in zip(ts, seconds[(backend, "fit_bare")]))
    return speed, ratios


def table(speed, ratios):
    """A Markdown table: backend, fit ex/s, reference ex/s, ratio."""
    lines = ["| backend | fit variant | fit ex/s | reference | reference ex/s | ratio |",
             "|---|---|---|---|---|---|"]
    for (backend, variant, reference), ratio in ratios.items():
        lines.append(
            f"| {backend} | {variant} | {speed[(backend, variant)]:.0f} | {reference} | "
            f"{speed[(backend, reference)]:.0f} | {ratio:.2f} |")
    for (backend, variant), value in speed.items():
        if not any(k[:2] == (backend, variant) for k in ratios) and not variant.startswith("ref"):
            lines.append(f"| {backend} | {variant} | {value:.0f} | - | - | - |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        from _throughput_worker import main as worker_main

        return worker_main(args.settings, args.worker.split(","), args.torch_threads)
    header = dict(date=datetime.date.today().isoformat(), python=platform.python_version(),
                  cpus=os.cpu_count(), load_average_start=os.getloadavg(),
                  command=" ".join([os.path.basename(sys.executable)] + sys.argv))
    print(json.dumps(header), flush=True)
    results = {}
    for architecture in args.architectures:
        settings, seconds = benchmark(args, architecture)
        speed, ratios = summarise(settings, seconds)
        print(f"\n### {architecture} ({settings.steps} steps of batch "
              f"{settings.batch_size} per round, {len(next(iter(seconds.values())))} rounds)\n")
        print(table(speed, ratios), flush=True)
        results[architecture] = dict(
            settings=dataclasses.asdict(settings),
            seconds={f"{b}/{v}": ts for (b, v), ts in seconds.items()},
            examples_per_second={f"{b}/{v}": s for (b, v), s in speed.items()},
            ratios={f"{b}/{v} : {r}": x for (b, v, r), x in ratios.items()})
    header["load_average_end"] = os.getloadavg()
    print(json.dumps({k: header[k] for k in ("load_average_start", "load_average_end")}))
    if args.output:
        with open(args.output, "w") as f:
            json.dump(dict(header, results=results), f, indent=2)
    return results


if __name__ == "__main__":
    main()
