"""Eight schools (section 5.1 of the AVB paper, Figures 3 and 4).

The model: y_i ~ N(mu + tau * eta_i, sigma_i), i = 1..8, with N(0, 1) priors
on mu, tau and every eta_i (10 parameters; tau is not constrained to be
positive, so the posterior is symmetric under (tau, eta) -> (-tau, -eta) and
has two modes). The script fits

- AVB with and without Adaptive Contrast (sampler eps(10) -> 2 ELU layers of
  128 -> 10; adversary of 5 residual blocks of 256 units; 2 adversary steps
  per sampler step; batch 512; AC with batch moments),
- Gaussian VI (ADVI) mean-field and full-rank,
- HMC for the ground truth,

and writes

- `kl_vs_iterations.png` (Figure 3): k-nearest-neighbour estimates of
  KL(HMC || q) and KL(q || HMC) from `--num-samples` samples of each, over
  training (the paper does not say which direction it plots; a method that
  misses one of the two modes pays heavily in KL(HMC || q));
- `marginals.png` (Figure 4): KDE contours of the (mu, tau) and (tau, eta_1)
  marginals of every method;
- `results.json`: the KL curves and the final table, which is also printed.

Run (any backend):

    KERAS_BACKEND=jax python examples/eight_schools.py --steps 1500 \
        --output-dir eight_schools_out
"""

import argparse
import json
import os
import time

import numpy as np

Y = np.array([2.8, 0.8, -0.3, 0.7, -0.1, 0.1, 1.8, 1.2], dtype="float32")
SIGMA = np.array([0.8, 0.5, 0.8, 0.6, 0.5, 0.6, 0.5, 0.4], dtype="float32")
EVENT_SIZE = 10
NAMES = ["mu", "tau"] + [f"eta_{i}" for i in range(1, 9)]


def eight_schools_log_prob(z):
    """Unnormalised log posterior of z = [mu, tau, eta_1..eta_8], shape (batch, 10)."""
    from keras import ops

    y = ops.convert_to_tensor(Y)
    sigma = ops.convert_to_tensor(SIGMA)
    mu, tau, eta = z[:, 0:1], z[:, 1:2], z[:, 2:]
    log_prior = -0.5 * ops.sum(ops.square(z), axis=-1)
    residual = (y - (mu + tau * eta)) / sigma
    return log_prior - 0.5 * ops.sum(ops.square(residual), axis=-1)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=1500,
                        help="training steps of every variational method")
    parser.add_argument("--eval-every", type=int, default=250,
                        help="steps between KL evaluations (Figure 3)")
    parser.add_argument("--num-samples", type=int, default=10000,
                        help="samples per method for the KL estimate")
    parser.add_argument("--knn-k", type=int, default=3,
                        help="neighbour index of the KL estimator (ITE default 3)")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="samples per training step")
    parser.add_argument("--avb-learning-rate", type=float, default=5e-4,
                        help="sampler learning rate (adversary: twice it)")
    parser.add_argument("--advi-learning-rate", type=float, default=1e-2,
                        help="ADVI learning rate")
    parser.add_argument("--hmc-chains", type=int, default=200,
                        help="HMC chains of the reference posterior")
    parser.add_argument("--hmc-burnin", type=int, default=1000,
                        help="HMC burn-in transitions per chain")
    parser.add_argument("--hmc-results", type=int, default=110,
                        help="kept samples per chain (2 * num-samples in all is "
                             "enough for the reference and a noise floor)")
    parser.add_argument("--hmc-thinning", type=int, default=5,
                        help="HMC transitions per kept sample")
    parser.add_argument("--methods", default="avb_ac,avb,advi_fullrank,advi_meanfield",
                        help="comma-separated methods to compare")
    parser.add_argument("--seed", type=int, default=0, help="seed of every method")
    parser.add_argument("--output-dir", default="eight_schools_out",
                        help="where the PNGs and results.json go")
    return parser.parse_args(argv)


METHOD_SETTINGS = {
    "avb_ac": ("AVB + AC", "avb", {"adaptive_contrast": True}),
    "avb": ("AVB (no AC)", "avb", {"adaptive_contrast": False}),
    "advi_fullrank": ("ADVI full-rank", "advi_fullrank", {}),
    "advi_meanfield": ("ADVI mean-field", "advi_meanfield", {}),
}


def main(argv=None):
    args = parse_args(argv)
    import keras
    import matplotlib

    matplotlib.use("Agg")

    from keras_avb.evaluation import kl_divergence_knn
    from keras_avb.training import check_trained_steps
    from keras_avb.vi import fit_posterior

    os.makedirs(args.output_dir, exist_ok=True)
    backend = keras.backend.backend()
    keras.utils.set_random_seed(args.seed)
    total_start = time.perf_counter()

    # ---------------- ground truth ----------------
    hmc = fit_posterior(
        eight_schools_log_prob, EVENT_SIZE, method="hmc", steps=args.hmc_results,
        num_chains=args.hmc_chains, num_burnin_steps=args.hmc_burnin,
        thinning=args.hmc_thinning, seed=args.seed,
    )
    pool = hmc.all_samples
    # A rejected proposal repeats a point; the kNN estimator needs distinct ones.
    _, first = np.unique(pool, axis=0, return_index=True)
    pool = pool[np.sort(first)]
    rng = np.random.default_rng(args.seed)
    pool = pool[rng.permutation(len(pool))]
    if len(pool) < args.num_samples:
        raise SystemExit(
            f"HMC gave {len(pool)} distinct samples; need {args.num_samples}. "
            "Raise --hmc-chains or --hmc-results."
        )
    reference = pool[: args.num_samples]
    held_out = pool[args.num_samples: 2 * args.num_samples]
    noise_floor = (
        kl_divergence_knn(reference, held_out, k=args.knn_k)
        if len(held_out) == args.num_samples else None
    )
    print(f"[{backend}] HMC done", flush=True)
    print(
        f"[{backend}] HMC: {len(pool)} distinct samples from {args.hmc_chains} chains, "
        f"acceptance {hmc.info['acceptance_rate']:.2f}, step {hmc.info['step_size']:.3f} "
        f"({hmc.info['implementation']}), {hmc.wall_time:.1f} s; "
        f"P(tau > 0) = {np.mean(reference[:, 1] > 0):.3f}"
    )
    if noise_floor is not None:
        print(f"KL(HMC || independent HMC samples) = {noise_floor:.3f} (noise floor)")

    # ---------------- variational methods ----------------
    curves, fitted_by_method, walls, steps_by_method = {}, {}, {}, {}
    for key in [m.strip() for m in args.methods.split(",") if m.strip()]:
        label, method, extra = METHOD_SETTINGS[key]
        curve = []

        def record(fitted, step, curve=curve):
            samples = fitted.sample(args.num_samples, seed=args.seed + step)
            curve.append((
                step,
                kl_divergence_knn(reference, samples, k=args.knn_k),
                kl_divergence_knn(samples, reference, k=args.knn_k),
                float(fitted.history["loss"][-1]),  # mean over the last eval_every steps
            ))

        learning_rate = (
            args.avb_learning_rate if method == "avb" else args.advi_learning_rate
        )
        fitted = fit_posterior(
            eight_schools_log_prob, EVENT_SIZE, method=method, steps=args.steps,
            batch_size=args.batch_size, learning_rate=learning_rate,
            seed=args.seed, callback=record, callback_every=args.eval_every, **extra,
        )
        curves[key], fitted_by_method[key], walls[key] = curve, fitted, fitted.wall_time
        steps_by_method[key] = check_trained_steps(fitted.model, args.steps)
        print(
            f"{label:16s} KL(HMC||q) = {curve[-1][1]:.3f}, KL(q||HMC) = "
            f"{curve[-1][2]:.3f}, -ELBO estimate {curve[-1][3]:.3f} after "
            f"{steps_by_method[key]} steps (optimizer's counter; "
            f"{fitted.wall_time:.0f} s training)", flush=True,
        )

    # ---------------- figures ----------------
    plot_kl_curves(curves, noise_floor, os.path.join(args.output_dir, "kl_vs_iterations.png"))
    samples = {key: f.sample(args.num_samples, seed=args.seed + 1)
               for key, f in fitted_by_method.items()}
    samples["hmc"] = reference
    plot_marginals(samples, os.path.join(args.output_dir, "marginals.png"))

    total = time.perf_counter() - total_start
    table = {
        METHOD_SETTINGS[key][0]: {
            "kl_hmc_q": round(curve[-1][1], 4),
            "kl_q_hmc": round(curve[-1][2], 4),
            "neg_elbo_estimate": round(curve[-1][3], 4),
        }
        for key, curve in curves.items()
    }
    results = {
        "backend": backend,
        "args": vars(args),
        "kl_final": table,
        "kl_curves": {key: curve for key, curve in curves.items()},
        "noise_floor": noise_floor,
        "hmc": {k: v for k, v in hmc.info.items()},
        "hmc_p_tau_positive": float(np.mean(reference[:, 1] > 0)),
        "training_seconds": walls,
        # Read from each method's optimizer (checked against --steps).
        "training_steps": steps_by_method,
        "total_seconds": total,
    }
    with open(os.path.join(args.output_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print()
    print(f"kNN KL estimates (k={args.knn_k}), {args.num_samples} samples each, "
          f"after {args.steps} steps [{backend}]")
    print("| method | KL(HMC \\|\\| q) | KL(q \\|\\| HMC) | -ELBO (training loss) "
          "| P(tau > 0) | training time (s) |")
    print("|---|---|---|---|---|---|")
    for key, curve in curves.items():
        print(
            f"| {METHOD_SETTINGS[key][0]} | {curve[-1][1]:.3f} | {curve[-1][2]:.3f} "
            f"| {curve[-1][3]:.3f} | {np.mean(samples[key][:, 1] > 0):.2f} "
            f"| {walls[key]:.0f} |"
        )
    if noise_floor is not None:
        print(f"| HMC vs independent HMC samples | {noise_floor:.3f} | | | "
              f"{np.mean(reference[:, 1] > 0):.2f} | {hmc.wall_time:.0f} (HMC) |")
    print(f"total wall time {total:.0f} s; figures in {args.output_dir}")
    return results


def plot_kl_curves(curves, noise_floor, path):
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for column, title in ((1, "KL(HMC || q)"), (2, "KL(q || HMC)")):
        ax = axes[column - 1]
        for key, curve in curves.items():
            steps = [c[0] for c in curve]
            kls = [c[column] for c in curve]
            ax.plot(steps, kls, marker="o", markersize=3, label=METHOD_SETTINGS[key][0])
        if noise_floor is not None and column == 1:
            ax.axhline(noise_floor, color="gray", linestyle="--", label="HMC vs HMC")
        ax.set_xlabel("iterations")
        ax.set_ylabel(f"{title} (kNN estimate, nats)")
        ax.set_title(f"Eight schools: {title}")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_marginals(samples, path):
    import matplotlib.pyplot as plt
    from scipy.stats import gaussian_kde

    pairs = [(0, 1), (1, 2)]  # (mu, tau), (tau, eta_1)
    order = [k for k in ("avb_ac", "avb", "advi_fullrank", "advi_meanfield") if k in samples]
    order.append("hmc")
    reference = samples["hmc"]
    fig, axes = plt.subplots(len(order), 2, figsize=(6, 2.6 * len(order)), squeeze=False)
    for col, (i, j) in enumerate(pairs):
        lo = np.percentile(reference[:, [i, j]], 0.5, axis=0)
        hi = np.percentile(reference[:, [i, j]], 99.5, axis=0)
        pad = 0.25 * (hi - lo)
        lo, hi = lo - pad, hi + pad
        grid_x, grid_y = np.meshgrid(np.linspace(lo[0], hi[0], 100),
                                     np.linspace(lo[1], hi[1], 100))
        for row, key in enumerate(order):
            ax = axes[row, col]
            points = samples[key][:5000, [i, j]].T.astype("float64")
            density = gaussian_kde(points)(np.vstack([grid_x.ravel(), grid_y.ravel()]))
            ax.contourf(grid_x, grid_y, density.reshape(grid_x.shape), levels=12,
                        cmap="viridis")
            ax.set_xlim(lo[0], hi[0])
            ax.set_ylim(lo[1], hi[1])
            if row == 0:
                ax.set_title(f"({NAMES[i]}, {NAMES[j]})")
            if col == 0:
                label = "HMC" if key == "hmc" else METHOD_SETTINGS[key][0]
                ax.set_ylabel(f"{label}\n{NAMES[j]}")
            else:
                ax.set_ylabel(NAMES[j])
            ax.set_xlabel(NAMES[i])
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
