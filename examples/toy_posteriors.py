"""AVB on 2-dimensional unnormalised densities (Figure 1 kind).

Fits `keras_avb.vi.fit_posterior(method="avb")` to the two toy targets of
the authors' notebook,

    banana:  log p~(x) = -(x1 - 1)^2 - (x2^2 - x1)^2
    ring:    log p~(x) = -((x1^2 + x2^2) - 2)^2

and writes `toy_posteriors.png`: samples of each fitted sampler over the
contours of the true density. It also prints the k-nearest-neighbour KL
between the sampler and exact samples of the target (drawn from a fine grid),
in both directions, beside the estimator's noise floor (exact vs exact).

Both learning rates decay to 0 along a cosine (`--lr-decay cosine`, the
default): with constant rates the ring's fit wandered as training went on
(KL(p || q) 0.25 after 1000 steps but 0.99 after 3000), while the decayed
runs improved steadily to 0.09-0.11 after 2000 steps (BENCHMARKS.md).
Run (any backend):

    KERAS_BACKEND=jax python examples/toy_posteriors.py --output-dir toy_out
"""

import argparse
import os
import time

import numpy as np


def banana_log_prob(z):
    """-(x1 - 1)^2 - (x2^2 - x1)^2 for z of shape (batch, 2)."""
    from keras import ops

    x1, x2 = z[:, 0], z[:, 1]
    return -ops.square(x1 - 1.0) - ops.square(ops.square(x2) - x1)


def ring_log_prob(z):
    """-((x1^2 + x2^2) - 2)^2 for z of shape (batch, 2)."""
    from keras import ops

    return -ops.square(ops.sum(ops.square(z), axis=-1) - 2.0)


TARGETS = {"banana": banana_log_prob, "ring": ring_log_prob}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--steps", type=int, default=2000,
                        help="training steps (sampler updates) per target")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="samples per training step")
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="sampler learning rate (adversary: twice it)")
    parser.add_argument("--lr-decay", choices=("cosine", "none"), default="cosine",
                        help="decay both learning rates to 0 over the run")
    parser.add_argument("--adversary-units", type=int, default=128,
                        help="units per residual block of the adversary")
    parser.add_argument("--adversary-blocks", type=int, default=3,
                        help="residual blocks of the adversary")
    parser.add_argument("--no-adaptive-contrast", action="store_true",
                        help="train plain AVB instead of AVB + Adaptive Contrast")
    parser.add_argument("--num-samples", type=int, default=5000,
                        help="samples drawn for the figure and the KL estimates")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights and samples")
    parser.add_argument("--output-dir", default="toy_out", help="where the PNG goes")
    return parser.parse_args(argv)


def true_density(name, grid_x, grid_y):
    """The normalised density on a grid, by NumPy (for the contours)."""
    if name == "banana":
        log_p = -(grid_x - 1.0) ** 2 - (grid_y**2 - grid_x) ** 2
    else:
        log_p = -((grid_x**2 + grid_y**2) - 2.0) ** 2
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def exact_samples(name, num_samples, rng, limit=4.0, cells=801):
    """Samples of the normalised target, drawn cell by cell from a fine grid."""
    grid = np.linspace(-limit, limit, cells)
    grid_x, grid_y = np.meshgrid(grid, grid)
    density = true_density(name, grid_x, grid_y).ravel()
    index = rng.choice(density.size, num_samples, p=density)
    width = grid[1] - grid[0]
    jitter = rng.uniform(-width / 2, width / 2, (num_samples, 2))
    return np.stack([grid_x.ravel()[index], grid_y.ravel()[index]], axis=1) + jitter


def main(argv=None):
    args = parse_args(argv)
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_avb.evaluation import kl_divergence_knn
    from keras_avb.layers import ResidualAdversary
    from keras_avb.training import check_trained_steps
    from keras_avb.vi import fit_posterior

    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    adaptive_contrast = not args.no_adaptive_contrast
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(5 * len(TARGETS), 4.5))
    grid = np.linspace(-3.0, 3.0, 200)
    grid_x, grid_y = np.meshgrid(grid, grid)
    adversary_steps = 2
    rng = np.random.default_rng(args.seed)

    def adam(rate, steps):
        if args.lr_decay == "cosine":
            rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps)
        return keras.optimizers.Adam(rate, beta_1=0.5)

    results = {}
    for ax, (name, log_prob) in zip(axes, TARGETS.items()):
        start = time.perf_counter()
        fitted = fit_posterior(
            log_prob, 2, method="avb", adaptive_contrast=adaptive_contrast,
            adversary_steps=adversary_steps, steps=args.steps, batch_size=args.batch_size,
            seed=args.seed,
            optimizer=adam(args.learning_rate, args.steps),
            adversary_optimizer=adam(2 * args.learning_rate, args.steps * adversary_steps),
            adversary=ResidualAdversary(
                args.adversary_units, args.adversary_blocks,
                add_squared_norm=not adaptive_contrast, name="adversary",
            ),
        )
        samples = fitted.sample(args.num_samples, seed=args.seed)
        density = true_density(name, grid_x, grid_y)
        ax.contour(grid_x, grid_y, density, levels=8, cmap="Greys")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, alpha=0.3, color="tab:red")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_title(f"{name}: AVB{' + AC' if adaptive_contrast else ''}, "
                     f"{args.steps} steps")
        # Mean log-density of the samples under the normalised grid density:
        # a rough check that the samples sit on the target's mass.
        cell = (grid[1] - grid[0]) ** 2
        inside = np.all(np.abs(samples) < 3.0, axis=1)
        ix = np.clip(np.searchsorted(grid, samples[inside, 0]), 0, 199)
        iy = np.clip(np.searchsorted(grid, samples[inside, 1]), 0, 199)
        log_p_samples = np.log(density[iy, ix] / cell + 1e-12)
        exact = exact_samples(name, args.num_samples, rng)
        floor = exact_samples(name, args.num_samples, rng)
        kl_pq = kl_divergence_knn(exact, samples, k=3)
        kl_qp = kl_divergence_knn(samples, exact, k=3)
        noise_floor = kl_divergence_knn(exact, floor, k=3)
        steps = check_trained_steps(fitted.model, args.steps)
        results[name] = dict(kl_target_to_sampler=kl_pq, kl_sampler_to_target=kl_qp,
                             noise_floor=noise_floor, steps=steps)
        print(
            f"{name}: {steps} steps (optimizer's counter), "
            f"{time.perf_counter() - start:.0f} s, mean log p(samples) "
            f"= {log_p_samples.mean():.3f}, {100 * inside.mean():.1f}% of "
            f"samples in [-3, 3]^2; kNN KL(p || q) = {kl_pq:.3f}, "
            f"KL(q || p) = {kl_qp:.3f} (exact vs exact: {noise_floor:.3f})", flush=True,
        )
    fig.tight_layout()
    path = os.path.join(args.output_dir, "toy_posteriors.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return results


if __name__ == "__main__":
    main()
