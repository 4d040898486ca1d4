"""Eight schools (section 5.1 of the AVB paper, Figures 3 and 4).

The model: y_i ~ N(mu + tau * eta_i, sigma_i), i = 1..8, with N(0, 1) priors
on mu, tau and every eta_i (10 parameters; tau is not constrained to be
positive, so the posterior is symmetric under (tau, eta) -> (-tau, -eta) and
has two modes). The script fits

- AVB with and without Adaptive Contrast, each with
  `keras_avb.vi.fit_posterior`'s defaults (the flags' defaults are those):
  see its docstring and BENCHMARKS.md,
- Gaussian VI (ADVI) mean-field and full-rank (Adam 1e-2),

for the same number of steps, and compares them with the ground truth: by
default 20,000 draws of a long HMC run shipped beside this script
(`eight_schools_reference.npz`: 500 chains, split r-hat and effective
sample size printed; remade by `--make-reference`), or a fresh HMC run
(`--reference hmc`). It writes

- `kl_vs_iterations.png` (Figure 3): k-nearest-neighbour estimates of
  KL(HMC || q) and KL(q || HMC) from `--num-samples` samples of each, over
  training (the paper does not say which direction it plots; a method that
  misses one of the two modes pays heavily in KL(HMC || q)). The final
  table also gives both at k = 3, and P(tau > 0) (0.5 exactly);
- `marginals.png` (Figure 4): KDE contours of the (mu, tau) and (tau, eta_1)
  marginals of every method;
- `results.json`: the KL curves and the final table, which is also printed.

Run (any backend):

    KERAS_BACKEND=jax python examples/eight_schools.py --output-dir eight_schools_out

Remake the shipped ground truth (TensorFlow or JAX, for TFP's HMC; about a
minute):

    KERAS_BACKEND=jax python examples/eight_schools.py --make-reference
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
REFERENCE = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                         "eight_schools_reference.npz")
# The shipped reference's HMC run: long chains, so that split r-hat is
# near 1 although single chains cross between the two modes rarely.
REFERENCE_RUN = dict(num_chains=500, num_burnin_steps=2000, num_results=500,
                     thinning=20, seed=20261204)
REFERENCE_DRAWS = 20000


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
    # The AVB defaults below are fit_posterior's (a test checks they agree).
    parser.add_argument("--steps", type=int, default=20000,
                        help="training steps of every variational method")
    parser.add_argument("--eval-every", type=int, default=2000,
                        help="steps between KL evaluations (Figure 3)")
    parser.add_argument("--num-samples", type=int, default=10000,
                        help="samples per method for the KL estimate")
    parser.add_argument("--knn-k", type=int, default=1,
                        help="neighbour index of the KL estimator in the figure "
                             "(the table also gives k=3)")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="samples per training step")
    parser.add_argument("--avb-learning-rate", type=float, default=1e-3,
                        help="AVB's peak sampler learning rate (adversary: twice "
                             "it), decayed along a cosine")
    parser.add_argument("--advi-learning-rate", type=float, default=1e-2,
                        help="ADVI learning rate")
    parser.add_argument("--reference", default=REFERENCE,
                        help="ground truth: a .npz made by --make-reference, or "
                             "'hmc' to run HMC now with the --hmc-* settings")
    parser.add_argument("--make-reference", action="store_true",
                        help="run the long HMC of the shipped reference, save it to "
                             "--reference and stop")
    parser.add_argument("--hmc-chains", type=int, default=200,
                        help="HMC chains of the reference posterior (--reference hmc)")
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
    if args.make_reference:
        return make_reference(args.reference, backend)
    pool, truth_info = load_reference(args, backend)
    if len(pool) < args.num_samples:
        raise SystemExit(
            f"The reference has {len(pool)} distinct samples; need {args.num_samples}. "
            "Raise --hmc-chains or --hmc-results, or lower --num-samples."
        )
    reference = pool[: args.num_samples]
    held_out = pool[args.num_samples: 2 * args.num_samples]
    noise_floor = (
        kl_divergence_knn(reference, held_out, k=args.knn_k)
        if len(held_out) == args.num_samples else None
    )
    print(
        f"[{backend}] ground truth: {truth_info['source']}; {len(pool)} distinct "
        f"draws from {truth_info['num_chains']} chains; split r-hat <= "
        f"{truth_info['max_rhat']:.4f}, effective sample size >= "
        f"{truth_info['min_ess']:.0f}; P(tau > 0) = {np.mean(pool[:, 1] > 0):.3f}",
        flush=True,
    )
    if noise_floor is not None:
        print(f"KL(HMC || independent HMC samples) = {noise_floor:.3f} (noise floor)")

    # ---------------- variational methods ----------------
    steps, eval_every = args.steps, args.eval_every
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
            eight_schools_log_prob, EVENT_SIZE, method=method, steps=steps,
            batch_size=args.batch_size, learning_rate=learning_rate,
            seed=args.seed, callback=record,
            callback_every=eval_every, **extra,
        )
        curves[key], fitted_by_method[key], walls[key] = curve, fitted, fitted.wall_time
        steps_by_method[key] = check_trained_steps(fitted.model, steps)
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
    table = {}
    for key, curve in curves.items():
        draws = samples[key]
        table[METHOD_SETTINGS[key][0]] = {
            f"kl_hmc_q_k{args.knn_k}": round(curve[-1][1], 4),
            f"kl_q_hmc_k{args.knn_k}": round(curve[-1][2], 4),
            # The same model, fresh draws, at k = 3 as well.
            "kl_hmc_q_k3": round(kl_divergence_knn(reference, draws, k=3), 4),
            "kl_q_hmc_k3": round(kl_divergence_knn(draws, reference, k=3), 4),
            "p_tau_positive": round(float(np.mean(draws[:, 1] > 0)), 4),
            "neg_elbo_estimate": round(curve[-1][3], 4),
        }
    results = {
        "backend": backend,
        "args": vars(args),
        "kl_final": table,
        "kl_curves": {key: curve for key, curve in curves.items()},
        "noise_floor": noise_floor,
        "ground_truth": truth_info,
        "hmc_p_tau_positive": float(np.mean(reference[:, 1] > 0)),
        "training_seconds": walls,
        # Read from each method's optimizer (checked against --steps).
        "training_steps": steps_by_method,
        "steps": steps,
        "total_seconds": total,
    }
    with open(os.path.join(args.output_dir, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print()
    k = args.knn_k
    print(f"kNN KL estimates, {args.num_samples} samples each, after {steps} steps "
          f"[{backend}]")
    print(f"| method | KL(HMC \\|\\| q) k={k} | KL(q \\|\\| HMC) k={k} "
          "| KL(HMC \\|\\| q) k=3 | KL(q \\|\\| HMC) k=3 | -ELBO (training loss) "
          "| P(tau > 0) | training time (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in curves:
        row = table[METHOD_SETTINGS[key][0]]
        print(
            f"| {METHOD_SETTINGS[key][0]} | {row[f'kl_hmc_q_k{k}']:.3f} "
            f"| {row[f'kl_q_hmc_k{k}']:.3f} | {row['kl_hmc_q_k3']:.3f} "
            f"| {row['kl_q_hmc_k3']:.3f} | {row['neg_elbo_estimate']:.3f} "
            f"| {row['p_tau_positive']:.2f} | {walls[key]:.0f} |"
        )
    if noise_floor is not None:
        print(f"| HMC vs independent HMC samples | {noise_floor:.3f} | | | | | "
              f"{np.mean(reference[:, 1] > 0):.2f} | |")
    print(f"total wall time {total:.0f} s; figures in {args.output_dir}")
    return results


def distinct_shuffled(samples, seed):
    """The distinct rows of `samples` in random order: a rejected HMC proposal
    repeats a point, and the kNN estimator needs distinct ones."""
    _, first = np.unique(samples, axis=0, return_index=True)
    samples = samples[np.sort(first)]
    return samples[np.random.default_rng(seed).permutation(len(samples))]


def make_reference(path, backend):
    """Runs the long HMC of the shipped reference and saves 20,000 draws."""
    from keras_avb.vi import run_hmc

    start = time.perf_counter()
    samples, info = run_hmc(eight_schools_log_prob, EVENT_SIZE, **REFERENCE_RUN)
    draws = distinct_shuffled(samples, REFERENCE_RUN["seed"])[:REFERENCE_DRAWS]
    np.savez_compressed(
        path, samples=draws.astype("float32"), max_rhat=info["max_rhat"],
        min_ess=info["min_ess"], acceptance_rate=info["acceptance_rate"],
        backend=backend, implementation=info["implementation"],
        date=time.strftime("%Y-%m-%d"), **REFERENCE_RUN,
    )
    print(
        f"[{backend}] {REFERENCE_RUN['num_chains']} chains x "
        f"({REFERENCE_RUN['num_burnin_steps']} burn-in + {REFERENCE_RUN['num_results']} "
        f"kept, thinning {REFERENCE_RUN['thinning']}), {info['implementation']} HMC, "
        f"acceptance {info['acceptance_rate']:.2f}, {time.perf_counter() - start:.0f} s: "
        f"split r-hat <= {info['max_rhat']:.4f}, effective sample size >= "
        f"{info['min_ess']:.0f}; saved {len(draws)} draws to {path}"
    )
    return {"reference": path, **info}


def load_reference(args, backend):
    """`(distinct draws in random order, their run's diagnostics)`."""
    if args.reference != "hmc":
        with np.load(args.reference) as saved:
            info = {key: saved[key].item() for key in saved.files if key != "samples"}
            samples = saved["samples"]
        info["source"] = (
            f"{args.reference} ({info['implementation']} HMC on {info['backend']}, "
            f"{info['date']})"
        )
        return samples, info
    from keras_avb.vi import fit_posterior

    hmc = fit_posterior(
        eight_schools_log_prob, EVENT_SIZE, method="hmc", steps=args.hmc_results,
        num_chains=args.hmc_chains, num_burnin_steps=args.hmc_burnin,
        thinning=args.hmc_thinning, seed=args.seed,
    )
    info = dict(hmc.info, num_chains=args.hmc_chains)
    info["source"] = (
        f"HMC run now ({info['implementation']}, acceptance "
        f"{info['acceptance_rate']:.2f}, step {info['step_size']:.3f}, "
        f"{hmc.wall_time:.1f} s)"
    )
    return distinct_shuffled(hmc.all_samples, args.seed), info


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
