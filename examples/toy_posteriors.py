"""AVB on 2-dimensional unnormalised densities (Figure 1 kind).

Fits `keras_avb.vi.fit_posterior(method="avb")` to the two toy targets of
the authors' notebook,

    banana:  log p~(x) = -(x1 - 1)^2 - (x2^2 - x1)^2
    ring:    log p~(x) = -((x1^2 + x2^2) - 2)^2

and writes `toy_posteriors.png`: samples of each fitted sampler over the
contours of the true density. Run (any backend):

    KERAS_BACKEND=jax python examples/toy_posteriors.py --steps 1000 \
        --output-dir toy_out
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--learning-rate", type=float, default=1e-3,
                        help="sampler learning rate (adversary: twice it)")
    parser.add_argument("--adversary-units", type=int, default=128)
    parser.add_argument("--adversary-blocks", type=int, default=3)
    parser.add_argument("--no-adaptive-contrast", action="store_true")
    parser.add_argument("--num-samples", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output-dir", default="toy_out")
    return parser.parse_args(argv)


def true_density(name, grid_x, grid_y):
    """The normalised density on a grid, by NumPy (for the contours)."""
    if name == "banana":
        log_p = -(grid_x - 1.0) ** 2 - (grid_y**2 - grid_x) ** 2
    else:
        log_p = -((grid_x**2 + grid_y**2) - 2.0) ** 2
    p = np.exp(log_p - log_p.max())
    return p / p.sum()


def main(argv=None):
    args = parse_args(argv)
    import keras
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_avb.layers import ResidualAdversary
    from keras_avb.vi import fit_posterior

    os.makedirs(args.output_dir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    adaptive_contrast = not args.no_adaptive_contrast
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(5 * len(TARGETS), 4.5))
    grid = np.linspace(-3.0, 3.0, 200)
    grid_x, grid_y = np.meshgrid(grid, grid)
    for ax, (name, log_prob) in zip(axes, TARGETS.items()):
        start = time.perf_counter()
        fitted = fit_posterior(
            log_prob, 2, method="avb", adaptive_contrast=adaptive_contrast,
            adversary_steps=2, steps=args.steps, batch_size=args.batch_size,
            learning_rate=args.learning_rate, seed=args.seed,
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
        print(
            f"{name}: {time.perf_counter() - start:.0f} s, mean log p(samples) "
            f"= {log_p_samples.mean():.3f}, {100 * inside.mean():.1f}% of "
            f"samples in [-3, 3]^2", flush=True,
        )
    fig.tight_layout()
    path = os.path.join(args.output_dir, "toy_posteriors.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
