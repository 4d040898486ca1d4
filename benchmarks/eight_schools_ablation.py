"""One AVB setting on eight schools, scored against the shipped HMC reference.

Each run trains `keras_avb.vi.PosteriorSampler` with the given settings
(every flag defaults to `fit_posterior`'s default) and prints one JSON line:
the k-nearest-neighbour KL estimates (k = 1 and 3, both directions) of
10,000 sampler draws against 10,000 reference draws, the mean and standard
deviation of KL(q || truth) and KL(truth || q) over `--repeats` fresh draws
(the estimator's spread: single draws of one model differ by several
hundredths), P(tau > 0), the wall time of training and the optimizer's step
count. The reference is `examples/eight_schools_reference.npz` (a long HMC
run; see `examples/eight_schools.py --make-reference`).

Usage (one core, as BENCHMARKS.md's rows):

    KERAS_BACKEND=jax taskset -c 0 python benchmarks/eight_schools_ablation.py \\
        --covariance diagonal --tag diagonal
"""

import argparse
import json
import os
import sys
import time

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO_ROOT, "examples"))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="peak sampler rate; the adversary's is --adversary-rate-factor times it")
    parser.add_argument("--adversary-rate-factor", type=float, default=2.0)
    parser.add_argument("--schedule", choices=("cosine", "constant"), default="cosine")
    parser.add_argument("--adversary-units", type=int, default=128)
    parser.add_argument("--adversary-blocks", type=int, default=3)
    parser.add_argument("--adversary-steps", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--hidden-units", default="128,128")
    parser.add_argument("--covariance", choices=("diagonal", "full"), default="full")
    parser.add_argument("--no-adaptive-contrast", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tag", default="")
    parser.add_argument("--output", default=None, help="append the JSON line to this file")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras

    import eight_schools
    from keras_avb.evaluation import kl_divergence_knn
    from keras_avb.layers import ResidualAdversary
    from keras_avb.training import check_trained_steps
    from keras_avb.vi import fit_posterior

    with np.load(eight_schools.REFERENCE) as saved:
        truth = saved["samples"]
    reference = truth[:10000]
    adaptive_contrast = not args.no_adaptive_contrast
    start = time.perf_counter()
    fitted = fit_posterior(
        eight_schools.eight_schools_log_prob, eight_schools.EVENT_SIZE, method="avb",
        adaptive_contrast=adaptive_contrast, adversary_steps=args.adversary_steps or None,
        steps=args.steps, batch_size=args.batch_size, learning_rate=args.learning_rate,
        learning_rate_schedule=args.schedule, seed=args.seed, verbose=0,
        covariance=args.covariance,
        hidden_units=tuple(int(h) for h in args.hidden_units.split(",")),
        adversary=ResidualAdversary(
            args.adversary_units, args.adversary_blocks,
            add_squared_norm=not adaptive_contrast, name="adversary",
        ),
        **({} if args.adversary_rate_factor == 2.0 else {
            "optimizer": _adam(args.learning_rate, args.steps, args.schedule),
            "adversary_optimizer": _adam(
                args.adversary_rate_factor * args.learning_rate,
                args.steps * (args.adversary_steps or 1), args.schedule),
        }),
    )
    wall = time.perf_counter() - start
    steps = check_trained_steps(fitted.model, args.steps)
    draws = fitted.sample(10000, seed=args.seed + 99)
    repeats = []
    for index in range(args.repeats):
        fresh = fitted.sample(10000, seed=args.seed + 200 + index)
        block = truth[10000 * (index % 2): 10000 * (index % 2 + 1)]
        repeats.append((kl_divergence_knn(fresh, block, k=1),
                        kl_divergence_knn(block, fresh, k=1)))
    repeats = np.array(repeats)
    result = {
        "tag": args.tag,
        "backend": keras.backend.backend(),
        "settings": vars(args),
        "steps": steps,
        "train_seconds": round(wall, 1),
        "kl_q_truth_k1": round(kl_divergence_knn(draws, reference, k=1), 4),
        "kl_truth_q_k1": round(kl_divergence_knn(reference, draws, k=1), 4),
        "kl_q_truth_k3": round(kl_divergence_knn(draws, reference, k=3), 4),
        "kl_truth_q_k3": round(kl_divergence_knn(reference, draws, k=3), 4),
        "kl_q_truth_k1_repeats": [round(float(v), 4) for v in repeats[:, 0]],
        "kl_q_truth_k1_mean": round(float(repeats[:, 0].mean()), 4),
        "kl_q_truth_k1_sd": round(float(repeats[:, 0].std(ddof=1)), 4),
        "kl_truth_q_k1_mean": round(float(repeats[:, 1].mean()), 4),
        "p_tau_positive": round(float(np.mean(draws[:, 1] > 0)), 4),
        "date": time.strftime("%Y-%m-%d"),
    }
    line = json.dumps(result)
    print(line)
    if args.output:
        with open(args.output, "a") as handle:
            handle.write(line + "\n")
    return result


def _adam(rate, updates, schedule):
    import keras

    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=updates)
    return keras.optimizers.Adam(rate, beta_1=0.5)


if __name__ == "__main__":
    main()
