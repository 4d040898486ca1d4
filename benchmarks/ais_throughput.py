"""AIS throughput on the 32-dim MNIST model, per backend and chunk size.

Throughput = examples x intermediate distributions x chains per second of
`keras_avb.evaluation.ais_log_likelihood` (HMC transitions with
`--leapfrog` leapfrog steps each, the default pilot step-size adaptation,
which runs one pilot chain beside every estimating chain, so the work is
twice what the count says), for the decoder of
`build_mnist_model("avb_ac", latent_dim=32)` (MLP, 300-300 softplus,
784 Bernoulli logits), randomly initialised: the cost does not depend on
the weights. AIS starts from the encoder's r(z|x) (`posterior_moments`,
computed once, outside the timing).

The chains run in `keras.ops`: one compiled loop on JAX and TensorFlow,
eager on PyTorch.

Side by side: one process per backend compiles every chunk size on one
chunk, then runs rounds, each variant in turn (rotated
order) on the same `--examples` test images; medians over rounds.

Usage (from the repository root):

    python benchmarks/ais_throughput.py --quick            # ~3-5 minutes
    python benchmarks/ais_throughput.py --steps 100 --rounds 3
"""

import argparse
import datetime
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from step_cost import machine  # noqa: E402
from step_cost import run_workers  # noqa: E402

REPO_ROOT = os.path.dirname(HERE)
DEFAULT_DATA = os.path.join(REPO_ROOT, "..", "shared", "data", "binarized_mnist.npz")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax,torch")
    parser.add_argument("--chunk-sizes", default="16,64", help="AIS batch_size values")
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50, help="intermediate distributions")
    parser.add_argument("--chains", type=int, default=5)
    parser.add_argument("--leapfrog", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--torch-threads", type=int, default=0)
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--quick", action="store_true", help="20 steps, 2 rounds")
    parser.add_argument("--json", default=None)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.rounds = 20, 2
    return args


def worker(args):
    import keras
    import numpy as np

    from keras_avb.architectures import build_mnist_model
    from keras_avb.evaluation import ais_log_likelihood
    from keras_avb.evaluation.log_likelihood import posterior_moments

    backend = keras.backend.backend()
    if backend == "torch" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    with np.load(args.data) as archive:
        x = archive["test"][: args.examples].astype("float32").reshape(args.examples, -1)
    model = build_mnist_model("avb_ac", latent_dim=32, adversary_units=64,
                              adversary_depth=1, seed=0)
    mean, variance = posterior_moments(model, x)

    def run(chunk, n):
        start = time.perf_counter()
        estimate = ais_log_likelihood(
            model.decoder, model.likelihood, model.prior, x[:n], initial=(mean[:n], variance[:n]),
            num_steps=args.steps, num_chains=args.chains, num_leapfrog_steps=args.leapfrog,
            batch_size=chunk, seed=0, verbose=0,
        )
        elapsed = time.perf_counter() - start
        assert np.all(np.isfinite(np.asarray(estimate.log_likelihood)))
        return elapsed

    variants = [int(c) for c in args.chunk_sizes.split(",")]
    for chunk in variants:
        start = time.perf_counter()
        run(chunk, min(chunk, args.examples))  # compile / warm up
        print(f"[{backend}] warmed up chunk {chunk} in {time.perf_counter() - start:.1f} s",
              file=sys.stderr, flush=True)
    times = {v: [] for v in variants}
    for r in range(args.rounds):
        order = variants[r % len(variants):] + variants[: r % len(variants)]
        for v in order:
            times[v].append(run(v, args.examples))
        print(f"[{backend}] round {r + 1}: " + ", ".join(
            f"chunk {c} {times[c][-1]:.1f} s" for c in variants), file=sys.stderr, flush=True)
    work = args.examples * args.steps * args.chains
    return {
        "backend": backend,
        "rows": [
            {"chunk": c, "seconds": statistics.median(times[c]),
             "seconds_range": (min(times[c]), max(times[c])),
             "throughput": work / statistics.median(times[c])}
            for c in variants
        ],
    }


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(args)), flush=True)
        return
    started = datetime.datetime.now().isoformat(timespec="seconds")
    results, loads = run_workers(__file__, args.backends.split(","), argv)
    m = machine()
    print(f"\nstarted {started}; {m['nproc']} CPUs ({m['cpu']}); {m['platform']}")
    print("load average (1, 5, 15 min) before each backend and at the end: "
          + "; ".join(", ".join(f"{v:.1f}" for v in l) for l in loads))
    print(f"{args.examples} examples x {args.steps} intermediate distributions x "
          f"{args.chains} chains (+ {args.chains} pilot chains), {args.leapfrog} leapfrog "
          f"steps per transition, {args.rounds} rounds\n")
    print("| backend | chunk (examples) | seconds (median) | range | "
          "examples x distributions x chains / s |")
    print("|---|---|---|---|---|")
    for res in results:
        for row in res["rows"]:
            lo, hi = row["seconds_range"]
            print(f"| {res['backend']} | {row['chunk']} | "
                  f"{row['seconds']:.1f} | {lo:.1f}-{hi:.1f} | {row['throughput']:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "machine": m, "started": started,
                       "loadavg": loads, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
