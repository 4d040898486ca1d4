"""The synthetic 4-point experiment of the AVB paper (section 5.2, Table 1, Figure 6).

The data are the four 2x2 binary images with exactly one pixel on, drawn
uniformly; the latent space has 2 dimensions. The script trains AVB and a
Gaussian VAE on them, then prints Table 1 for both beside the paper's values:

- log-likelihood, log p(x) computed by quadrature over the latent plane
  (the best possible value is -log 4 = -1.386);
- reconstruction error, the mean per-pixel cross-entropy between x and
  its reconstruction through encoder and decoder;
- ELBO, averaged over many samples (for AVB with the adversary's KL
  estimate, as in the paper);
- KL(q(z), p(z)) between the aggregated posterior and the prior, by the
  nearest-neighbour estimator on 10,000 samples of each.

It also saves the latent codes coloured by data point (Figure 6).

Usage:

    KERAS_BACKEND=jax python examples/synthetic.py --save-dir out

With `--save-dir DIR` it writes DIR/avb.keras, DIR/vae.keras,
DIR/results.json and DIR/synthetic_latents.png.
"""

import argparse
import json
import math
import os
import time

import keras
import numpy as np

import keras_avb
from keras_avb.architectures import synthetic_adversary
from keras_avb.architectures import synthetic_avb_encoder
from keras_avb.architectures import synthetic_decoder
from keras_avb.architectures import synthetic_vae_encoder
from keras_avb.evaluation import adversary_kl_check
from keras_avb.evaluation import kl_divergence_knn
from keras_avb.evaluation import quadrature_log_likelihood
from keras_avb.models import adversary_steps_from_int
from keras_avb.training import fit_steps

PAPER = {
    "vae": {
        "log_likelihood": -1.568,
        "reconstruction_error": 88.5e-3,
        "elbo": -1.697,
        "kl_aggregated_posterior": 0.165,
    },
    "avb": {
        "log_likelihood": -1.403,
        "reconstruction_error": 5.77e-3,
        "elbo": -1.421,
        "kl_aggregated_posterior": 0.026,
    },
}
ROWS = (
    ("log_likelihood", "log-likelihood", "{:.3f}"),
    ("reconstruction_error", "reconstruction error", "{:.2e}"),
    ("elbo", "ELBO (AVB: estimate*)", "{:.3f}"),
    ("iw_bound", "IW bound (K=16)", "{:.3f}"),
    ("kl_aggregated_posterior", "KL(q(z), p(z))", "{:.3f}"),
)
OPTIMUM = -math.log(4.0)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the help text states it (None)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def preset(key, text):
    """Help text naming the `--variant` default(s) of `key`."""
    notebook, paper = DEFAULTS["notebook"][key], DEFAULTS["paper"][key]
    if notebook == paper:
        return f"{text} (default: {notebook})"
    return f"{text} (default: {notebook}; with --variant paper: {paper})"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=HelpFormatter
    )
    parser.add_argument("--variant", choices=("notebook", "paper"), default="notebook",
                        help="network sizes: the authors' notebook or the paper's text")
    parser.add_argument("--steps", type=int, default=None,
                        help=preset("steps", "AVB training steps (encoder/decoder updates)"))
    parser.add_argument("--vae-steps", type=int, default=None,
                        help=preset("vae_steps", "VAE training steps"))
    parser.add_argument("--batch-size", type=int, default=None,
                        help=preset("batch_size", "examples per batch"))
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=preset("learning_rate",
                                    "AVB encoder/decoder learning rate (Adam)"))
    parser.add_argument("--adversary-learning-rate", type=float, default=None,
                        help=preset("adversary_learning_rate", "adversary learning rate"))
    parser.add_argument("--vae-learning-rate", type=float, default=None,
                        help=preset("vae_learning_rate", "VAE learning rate"))
    parser.add_argument("--lr-schedule", choices=("constant", "cosine"), default=None,
                        help=preset("lr_schedule", "cosine: decay every learning rate "
                                    "to 0 over the training"))
    parser.add_argument("--beta-1", type=float, default=None,
                        help=preset("beta_1", "Adam beta_1 of all optimizers"))
    parser.add_argument("--adversary-steps", type=int, default=None,
                        help=preset("adversary_steps", "adversary updates per "
                                    "encoder/decoder update; 0 for simultaneous updates"))
    parser.add_argument("--adversary-units", type=int, default=None,
                        help=preset("adversary_units", "units per adversary layer"))
    parser.add_argument("--adversary-blocks", type=int, default=None,
                        help=preset("adversary_blocks", "residual blocks of the adversary"))
    parser.add_argument("--adaptive-contrast", action="store_true",
                        help="train AVB with Adaptive Contrast")
    parser.add_argument("--kl-annealing-steps", type=int, default=None,
                        help=preset("kl_annealing_steps", "scale the KL term by "
                                    "min(step / N, 1) in training"))
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help=preset("steps_per_epoch", "steps per progress-bar line"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and data")
    parser.add_argument("--eval-samples", type=int, default=10000,
                        help="samples for the ELBO, the reconstruction error and the KL")
    parser.add_argument("--kl-check-samples", type=int, default=4000,
                        help="codes per point in the check of the adversary's KL "
                             "against a kNN estimate")
    parser.add_argument("--quadrature-points", type=int, default=400,
                        help="grid points per latent axis")
    parser.add_argument("--models", default="avb,vae", help="comma-separated: avb,vae")
    parser.add_argument("--save-dir", default=None,
                        help="where the models and results.json go (default: not saved)")
    parser.add_argument("--figure", default=None,
                        help="path of the latent-code PNG (default: synthetic_latents.png, "
                             "or inside --save-dir)")
    parser.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity")
    return parser.parse_args(argv)


# Defaults per architecture variant; flags override them. The notebook
# variant's defaults are tuned to reach log p(x) >= -1.395 (the paper's
# AVB: -1.403, the optimum -1.386) with an honest ELBO estimate (at most
# log p(x)) in about a minute on one CPU core under JAX (see BENCHMARKS.md):
# a smaller residual adversary than the notebook's (64 units, 2 blocks
# instead of 256 and 5), 2 adversary updates per step, larger learning
# rates with a cosine decay, and 8000 steps instead of the notebook's
# 100,000.
DEFAULTS = {
    "notebook": dict(
        steps=8000, vae_steps=4000, batch_size=512, learning_rate=3e-3,
        adversary_learning_rate=6e-3, vae_learning_rate=3e-3, lr_schedule="cosine",
        beta_1=0.5, adversary_steps=2, adversary_units=64, adversary_blocks=2,
        kl_annealing_steps=0, steps_per_epoch=500,
    ),
    "paper": dict(
        steps=4000, vae_steps=4000, batch_size=512, learning_rate=3e-3,
        adversary_learning_rate=6e-3, vae_learning_rate=3e-3, lr_schedule="cosine",
        beta_1=0.5, adversary_steps=0, adversary_units=512, adversary_blocks=2,
        kl_annealing_steps=0, steps_per_epoch=500,
    ),
}


def resolve(args):
    for key, value in DEFAULTS[args.variant].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    return args


def four_point_data(n, rng):
    """`n` 2x2 binary images (flattened) with one pixel on, uniformly drawn."""
    labels = rng.integers(0, 4, n)
    return np.eye(4, dtype="float32")[labels], labels


def learning_rate(value, updates, args):
    """A constant learning rate, or a cosine decay to 0 over `updates` updates.

    Decaying the adversary's rate all the way to 0 matters for the ELBO
    estimate: at 5% of the peak (the earlier default) the adversary's
    weights still move enough at the end of training that its KL estimate
    was off by up to 0.06 nats, either way (BENCHMARKS.md).
    """
    if args.lr_schedule == "constant":
        return value
    return keras.optimizers.schedules.CosineDecay(value, decay_steps=updates, alpha=0.0)


def build_avb(args):
    adversary_steps = adversary_steps_from_int(args.adversary_steps)
    # Each optimizer counts its own updates: the adversary's makes
    # `adversary_steps` per training step.
    adversary_updates = args.steps * (adversary_steps or 1)
    model = keras_avb.AVB(
        synthetic_avb_encoder(args.variant),
        synthetic_decoder(args.variant),
        synthetic_adversary(
            args.variant, units=args.adversary_units, num_blocks=args.adversary_blocks
        ),
        likelihood="bernoulli",
        adaptive_contrast=args.adaptive_contrast,
        adversary_steps=adversary_steps,
        kl_annealing_steps=args.kl_annealing_steps,
        seed=args.seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate(args.learning_rate, args.steps, args), beta_1=args.beta_1
        ),
        adversary_optimizer=keras.optimizers.Adam(
            learning_rate(args.adversary_learning_rate, adversary_updates, args),
            beta_1=args.beta_1,
        ),
    )
    return model


def build_vae(args):
    model = keras_avb.VAE(
        synthetic_vae_encoder(args.variant),
        synthetic_decoder(args.variant),
        likelihood="bernoulli",
        kl_annealing_steps=args.kl_annealing_steps,
        seed=args.seed,
    )
    model.compile(
        optimizer=keras.optimizers.Adam(
            learning_rate(args.vae_learning_rate, args.vae_steps, args), beta_1=args.beta_1
        )
    )
    return model


def train(model, steps, args, rng):
    """Fits for exactly `steps` steps, one progress-bar line per
    `steps_per_epoch` steps; returns the seconds and the optimizer's count."""
    steps_per_epoch = min(args.steps_per_epoch, steps)
    x, _ = four_point_data(steps_per_epoch * args.batch_size, rng)
    start = time.time()
    # `fit_steps` raises if the optimizer's counter does not move by `steps`.
    fit_steps(
        model,
        x,
        steps=steps,
        steps_per_epoch=steps_per_epoch,
        batch_size=args.batch_size,
        shuffle=True,
        verbose=args.verbose,
    )
    seconds = time.time() - start
    return seconds, int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def evaluate(model, args, rng):
    """The Table 1 figures of a trained model, and latent codes for Figure 6."""
    x_points = np.eye(4, dtype="float32")
    log_px = keras.ops.convert_to_numpy(
        quadrature_log_likelihood(
            model.decoder, model.likelihood, model.prior, x_points,
            num_points=args.quadrature_points,
        )
    )
    n = args.eval_samples
    x, labels = four_point_data(n, rng)
    # ELBO and reconstruction error from the model's own estimators, with
    # every metric averaged over all `n` samples (one batch per 1000).
    metrics = model.evaluate(x, batch_size=1000, verbose=0, return_dict=True)
    # The aggregated posterior q(z) = sum_x p(x) q(z|x) against the prior.
    z = keras.ops.convert_to_numpy(model.encode(x))
    z_prior = rng.standard_normal(size=z.shape)
    kl = kl_divergence_knn(z, z_prior)
    if isinstance(model, keras_avb.AVB):
        # The adversary's KL estimate against an independent (kNN) one, on
        # fresh codes of the four points: 8 checks of each.
        check = adversary_kl_check(
            model, np.tile(x_points, (8, 1)), num_samples=args.kl_check_samples,
            k=1, seed=args.seed, verbose=0,
        )
        kl_check = check.summary()
    else:
        kl_check = None
    results = {
        "kl_check": kl_check,
        "log_likelihood": float(np.mean(log_px)),
        "log_likelihood_per_point": [float(v) for v in log_px],
        "reconstruction_error": float(metrics["reconstruction_error"]),
        # AVB's figure uses the adversary's KL estimate: not a bound.
        "elbo": float(metrics.get("elbo", metrics.get("adversarial_elbo"))),
        "elbo_is_bound": "elbo" in metrics,
        "iw_bound": float(metrics["iw_bound"]),
        "kl": float(metrics["kl"]),
        "kl_aggregated_posterior": kl,
    }
    return results, (z, labels)


def print_table(results):
    names = [name for name in ("vae", "avb") if name in results]
    header = f"{'':24s}" + "".join(f"{name.upper() + ' (ours)':>14s}{name.upper() + ' (paper)':>14s}"
                                   for name in names)
    print(header)
    for key, label, fmt in ROWS:
        line = f"{label:24s}"
        for name in names:
            paper = PAPER[name].get(key)
            paper = "-" if paper is None else fmt.format(paper)
            line += f"{fmt.format(results[name][key]):>14s}{paper:>14s}"
        print(line)
    print(f"{'wall time (s)':24s}" + "".join(
        f"{results[name]['train_seconds']:>14.0f}{'':>14s}" for name in names))
    print(f"Optimal log-likelihood: -log 4 = {OPTIMUM:.3f}")
    if "avb" in results:
        print("* AVB's ELBO uses the adversary's KL estimate: not a bound, it can exceed "
              "the log-likelihood. The IW bound (Gaussian proposal) and the VAE's ELBO "
              "are lower bounds.")
        avb, check = results["avb"], results["avb"]["kl_check"]
        print(
            f"AVB side by side: ELBO estimate {avb['elbo']:.4f} vs log p(x) by "
            f"quadrature {avb['log_likelihood']:.4f} (estimate - log p(x) = "
            f"{avb['elbo'] - avb['log_likelihood']:+.4f}; a true ELBO is <= 0). "
            f"Adversary's KL {check['kl_adversary']:.3f} vs kNN "
            f"{check['kl_independent']:.3f}: gap {check['kl_gap']:+.3f} +- "
            f"{check['kl_gap_standard_error']:.3f} (standard error; negative: the "
            "adversary underestimates KL)"
        )


def save_figure(latents, path):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    names = [name for name in ("vae", "avb") if name in latents]
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 5), squeeze=False)
    for ax, name in zip(axes[0], names):
        z, labels = latents[name]
        for label in range(4):
            points = z[labels == label][:2500]
            ax.scatter(points[:, 0], points[:, 1], s=2, alpha=0.4,
                       label=f"pixel {label} on")
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(-3.5, 3.5)
        ax.set_aspect("equal")
        ax.set_title(f"({'ab'[names.index(name)]}) {name.upper()}")
        ax.legend(loc="upper right", markerscale=4, fontsize=8)
    fig.suptitle("Latent codes of the four data points (cf. Figure 6)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def limit_torch_threads():
    """One intra-op thread for PyTorch: the networks are tiny, and on a shared
    CPU the thread pool's synchronisation made steps about 10x slower."""
    if keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(1)


def main(argv=None):
    args = resolve(parse_args(argv))
    limit_torch_threads()
    keras.utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    names = [name.strip() for name in args.models.split(",") if name.strip()]
    for name in names:
        if name not in ("avb", "vae"):
            raise ValueError(f"Unknown model {name!r}; use avb and/or vae.")
    print(f"Backend: {keras.backend.backend()}; settings: {vars(args)}")

    results, latents, models = {}, {}, {}
    for name in names:
        print(f"\nTraining {name.upper()}")
        if name == "avb":
            model, steps = build_avb(args), args.steps
        else:
            model, steps = build_vae(args), args.vae_steps
        seconds, trained = train(model, steps, args, rng)
        results[name], latents[name] = evaluate(model, args, rng)
        results[name]["train_seconds"] = seconds
        # Read from the optimizer's step counter (`fit_steps` checked it).
        results[name]["train_steps"] = trained
        models[name] = model
        print(f"{name.upper()}: " + ", ".join(
            f"{key}={results[name][key]:.4f}" for key, _, _ in ROWS)
            + f", trained {trained} steps in {seconds:.0f} s")

    print()
    print_table(results)

    figure = args.figure
    if args.save_dir:
        os.makedirs(args.save_dir, exist_ok=True)
        for name, model in models.items():
            model.save(os.path.join(args.save_dir, f"{name}.keras"))
        with open(os.path.join(args.save_dir, "results.json"), "w") as f:
            json.dump(
                {
                    "backend": keras.backend.backend(),
                    "settings": vars(args),
                    "results": results,
                    "paper": {name: PAPER[name] for name in names},
                    "optimal_log_likelihood": OPTIMUM,
                },
                f,
                indent=2,
            )
        figure = figure or os.path.join(args.save_dir, "synthetic_latents.png")
    figure = figure or "synthetic_latents.png"
    save_figure(latents, figure)
    print(f"Saved the latent codes to {figure}")
    if args.save_dir:
        print(f"Saved the models and results.json to {args.save_dir}")
    return results


if __name__ == "__main__":
    main()
