"""Binarized MNIST with AVB, AVB + Adaptive Contrast or a VAE (section 5.2, Table 2).

Trains one model with the networks of `keras_avb.architectures.mnist`, saves
a grid of prior samples, a grid of test images beside their reconstructions
and the trained model (`.keras`), then estimates on the first
`--eval-examples` test images

- the ELBO (for AVB with the adversary's KL estimate, as in the paper), and
- log p(x) by Annealed Importance Sampling with HMC
  (`keras_avb.evaluation.evaluate_log_likelihood(method="ais")`), started
  from the Gaussian r(z|x) of the encoder's moments,

and prints the Table 2 row beside the paper's values.

Data: `--data` is either MNIST (`mnist.npz`, keys `x_train`/`x_test`),
binarized dynamically (fresh Bernoulli draws every epoch; the test set once,
with the seed), or the statically binarized MNIST of Larochelle and Murray
(`binarized_mnist.npz`, keys `train`/`valid`/`test`).

The defaults are the paper's settings, sized for a GPU (batch 128, Adam
5e-5 / 1e-4 with beta_1 0.5, AIS with 1000 intermediate distributions x 5
chains on 2048 test images; the authors train 2.5 million steps, the
default here is 1 million). `--quick` shrinks everything so that a run
ends in minutes on a CPU.

Usage (from the repository root):

    KERAS_BACKEND=jax python examples/mnist.py --model avb_ac --latent-dim 8 \\
        --save-dir runs/avb_ac_8
    KERAS_BACKEND=jax python examples/mnist.py --quick --model vae
"""

import argparse
import json
import math
import os
import time

import keras
import numpy as np

from keras_avb.architectures import build_mnist_model
from keras_avb.datasets import load_binarized_mnist
from keras_avb.datasets import load_mnist
from keras_avb.evaluation import evaluate_log_likelihood
from keras_avb.models import adversary_steps_from_int
from keras_avb.training import fit_steps

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join("..", "shared", "data", "mnist.npz")

# Table 2 of the paper (nats; None where the paper gives no value).
PAPER = {
    ("avb", 8): {"elbo": -83.6, "ais": -91.2},
    ("avb_ac", 8): {"elbo": -96.3, "ais": -89.6},
    ("avb_ac", 32): {"elbo": -79.5, "ais": -80.2},
    ("vae", 8): {"elbo": -98.1, "ais": -90.9},
    ("vae", 32): {"elbo": -87.2, "ais": -81.9},
}
LABELS = {"avb": "AVB", "avb_ac": "AVB + AC", "vae": "VAE"}

# Paper-sized defaults (GPU) and the --quick ones (2 CPU cores, minutes).
DEFAULTS = dict(
    steps=1_000_000, batch_size=128, learning_rate=5e-5, adversary_learning_rate=1e-4,
    eval_examples=2048, ais_steps=1000, ais_chains=5, adversary_units=1024,
    adversary_depth=4, steps_per_epoch=400, log_prior_trick=False,
)
QUICK = dict(
    steps=3000, batch_size=128, learning_rate=1e-3, adversary_learning_rate=1e-3,
    eval_examples=256, ais_steps=100, ais_chains=5, adversary_units=256,
    adversary_depth=2, steps_per_epoch=375, log_prior_trick=True,
)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the help text states it (None)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def preset(key, text=""):
    """Help text naming the paper-sized default and the --quick one."""
    fmt = lambda v: f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else f"{v}"  # noqa: E731
    return (f"{text}{' ' if text else ''}(default: {fmt(DEFAULTS[key])}; "
            f"with --quick: {fmt(QUICK[key])})")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0].rstrip(".")
        + ". Without --quick the defaults are the paper's settings (networks, "
        "batch 128, Adam 5e-5 / 1e-4, AIS 1000 x 5 on 2048 images) and "
        "1,000,000 training steps (the paper: 2.5 million): days on a CPU. "
        "--quick learns visible digits in minutes on a CPU.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", choices=("avb", "avb_ac", "vae"), default="avb_ac",
                        help="AVB, AVB with Adaptive Contrast, or the VAE baseline")
    parser.add_argument("--latent-dim", type=int, default=8, help="latent dimensions")
    parser.add_argument("--architecture", choices=("mlp", "conv"), default="mlp",
                        help="encoder features (and decoder, unless --decoder is given)")
    parser.add_argument("--decoder", choices=("mlp", "conv"), default=None,
                        help="decoder architecture; --architecture by default")
    parser.add_argument("--steps", type=int, default=None,
                        help=preset("steps", "training steps (encoder/decoder updates, "
                                    "read back from the optimizer's counter)"))
    parser.add_argument("--batch-size", type=int, default=None, help=preset("batch_size", "examples per batch"))
    parser.add_argument("--learning-rate", type=float, default=None,
                        help=preset("learning_rate",
                                    "Adam learning rate of the encoder/decoder (the VAE's)"))
    parser.add_argument("--adversary-learning-rate", type=float, default=None,
                        help=preset("adversary_learning_rate", "Adam learning rate of the "
                                    "adversary"))
    parser.add_argument("--beta-1", type=float, default=0.5, help="Adam beta_1")
    parser.add_argument("--lr-decay", choices=("none", "cosine"), default="none",
                        help="decay both learning rates to 0 over the run (cosine)")
    parser.add_argument("--adversary-steps", type=int, default=0,
                        help="adversary updates per encoder/decoder update; "
                             "0 for simultaneous updates (adversary_steps=None)")
    parser.add_argument("--adversary-units", type=int, default=None,
                        help=preset("adversary_units", "units per adversary layer"))
    parser.add_argument("--adversary-depth", type=int, default=None,
                        help=preset("adversary_depth", "adversary hidden layers"))
    parser.add_argument("--contrast-covariance", choices=("diagonal", "full"),
                        default="diagonal",
                        help="avb_ac: normalise z by q(z|x)'s variances (the paper) or "
                             "whiten it with its full covariance")
    parser.add_argument("--log-prior-trick", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="add 0.5 * sum(z^2) to the adversary's output "
                             "(default: off, as in the paper; on with --quick)")
    parser.add_argument("--kl-annealing-steps", type=int, default=None,
                        help="scale the KL term by min(step / N, 1) in training "
                             "(default: 0; 1500 with --quick for AVB)")
    parser.add_argument("--data", default=DEFAULT_DATA,
                        help="mnist.npz (dynamic binarization) or binarized_mnist.npz; "
                             "relative paths are from the repository root")
    parser.add_argument("--save-dir", default="mnist_runs",
                        help="where the PNGs, the model and results.json go")
    parser.add_argument("--eval-examples", type=int, default=None,
                        help=preset("eval_examples", "test images for the ELBO and AIS"))
    parser.add_argument("--ais-steps", type=int, default=None,
                        help=preset("ais_steps", "AIS intermediate distributions"))
    parser.add_argument("--ais-chains", type=int, default=None,
                        help=preset("ais_chains", "AIS chains per image"))
    parser.add_argument("--ais-batch-size", type=int, default=256,
                        help="test images per AIS batch")
    parser.add_argument("--steps-per-epoch", type=int, default=None,
                        help=preset("steps_per_epoch", "steps per progress-bar epoch; "
                                    "every epoch has exactly this many, the last one "
                                    "the remainder"))
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights, the "
                        "data's binarization and shuffling, and AIS")
    parser.add_argument("--load", default=None,
                        help="a trained .keras model to evaluate instead of training one "
                             "(its kind and latent size replace --model and --latent-dim; "
                             "default: none, train one)")
    parser.add_argument("--quick", action="store_true",
                        help="small budget for a CPU (minutes): 3000 steps at learning "
                             "rate 1e-3, a 2 x 256 adversary with the log-prior trick, KL "
                             "annealing over 1500 steps (AVB only), AIS with 100 steps x "
                             "5 chains on 256 images; flags given explicitly still win")
    parser.add_argument("--verbose", type=int, default=1, help="Keras fit verbosity")
    return parser.parse_args(argv)


def resolve(args):
    for key, value in (QUICK if args.quick else DEFAULTS).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.kl_annealing_steps is None:
        # Measured with --quick (BENCHMARKS.md): annealing over 1500 steps
        # helps AVB's adversary start but costs the VAE ~5 nats of AIS log p(x).
        args.kl_annealing_steps = 1500 if args.quick and args.model != "vae" else 0
    if not os.path.isabs(args.data):
        args.data = os.path.normpath(os.path.join(REPO_ROOT, args.data))
    # The flag writes simultaneous updates as 0; the model and results.json
    # take AVB's None.
    args.adversary_steps = adversary_steps_from_int(args.adversary_steps)
    return args


def load_data(args):
    """`(train, x_test)`: train is a PyDataset (dynamic) or an array (static)."""
    with np.load(args.data, allow_pickle=False) as archive:
        keys = set(archive.files)
    if {"train", "test"} <= keys:
        x_train, _, x_test = load_binarized_mnist(args.data)
        return x_train, x_test, "static (Larochelle and Murray)"
    (train, _), (x_test, _) = load_mnist(
        args.data, binarization="dynamic", seed=args.seed, batch_size=args.batch_size
    )
    return train, x_test, "dynamic"


def make_optimizer(rate, beta_1, decay="none", steps=None):
    if decay == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps)
    return keras.optimizers.Adam(rate, beta_1=beta_1)


def mosaic(images, columns):
    """Tiles `(n, 28, 28)` images into one array with 1-pixel gaps."""
    rows = math.ceil(len(images) / columns)
    out = np.ones((rows * 29 + 1, columns * 29 + 1), "float32")
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        out[1 + r * 29:1 + r * 29 + 28, 1 + c * 29:1 + c * 29 + 28] = image
    return out


def save_grids(model, x_test, save_dir, seed):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    z = rng.standard_normal((64, model.latent_dim)).astype("float32")
    samples = keras.ops.convert_to_numpy(model.decode(z)).reshape(-1, 28, 28)
    samples_path = os.path.join(save_dir, "samples.png")
    plt.imsave(samples_path, mosaic(samples, 8), cmap="gray", vmin=0.0, vmax=1.0)
    # Test images (odd columns) beside their reconstructions (even columns).
    x = x_test[:32]
    recon = keras.ops.convert_to_numpy(model(x)).reshape(-1, 28, 28)
    pairs = np.stack([x.reshape(-1, 28, 28), recon], axis=1).reshape(-1, 28, 28)
    recon_path = os.path.join(save_dir, "reconstructions.png")
    plt.imsave(recon_path, mosaic(pairs, 16), cmap="gray", vmin=0.0, vmax=1.0)
    return samples_path, recon_path


def average_elbo(model, x, batch_size, repeats=4):
    """`(elbo, iw_bound)`: means over `x` and `repeats` passes of fresh noise.

    `elbo` is the VAE's ELBO (a bound) or AVB's `adversarial_elbo` (with the
    adversary's KL estimate: not a bound); `iw_bound` is the model's
    importance-weighted lower bound on log p(x).
    """
    key = "elbo" if "elbo" in model.METRIC_NAMES else "adversarial_elbo"
    logs = [
        model.evaluate(x, batch_size=batch_size, verbose=0, return_dict=True)
        for _ in range(repeats)
    ]
    return (float(np.mean([log[key] for log in logs])),
            float(np.mean([log["iw_bound"] for log in logs])))


def table_row(args, elbo, ais, ais_se):
    paper = PAPER.get((args.model, args.latent_dim), {})
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    label = f"{LABELS[args.model]} ({args.latent_dim}-dim)"
    header = "| model | ELBO (ours) | AIS (ours) | ELBO (paper) | AIS (paper) |\n|---|---|---|---|---|"
    row = (
        f"| {label} | {elbo:.2f} | {ais:.2f} ± {ais_se:.2f} | "
        f"{fmt(paper.get('elbo'))} | {fmt(paper.get('ais'))} |"
    )
    return header + "\n" + row


def main(argv=None):
    args = resolve(parse_args(argv))
    os.makedirs(args.save_dir, exist_ok=True)
    keras.utils.set_random_seed(args.seed)
    start = time.time()
    train, x_test, args.binarization = load_data(args)
    print(f"backend {keras.backend.backend()}; data {args.data} "
          f"({args.binarization} binarization)")

    if args.load:
        return evaluate(args, keras.saving.load_model(args.load), x_test, start)
    model = build_mnist_model(
        args.model,
        latent_dim=args.latent_dim,
        architecture=args.architecture,
        decoder_architecture=args.decoder,
        adversary_units=args.adversary_units,
        adversary_depth=args.adversary_depth,
        adversary_steps=args.adversary_steps,
        add_squared_norm=args.log_prior_trick,
        contrast_covariance=args.contrast_covariance,
        seed=args.seed,
    )
    if args.kl_annealing_steps:
        model.kl_annealing_steps = int(args.kl_annealing_steps)
    optimizer = make_optimizer(args.learning_rate, args.beta_1, args.lr_decay, args.steps)
    if args.model == "vae":
        model.compile(optimizer=optimizer)
    else:
        model.compile(
            optimizer=optimizer,
            adversary_optimizer=make_optimizer(
                args.adversary_learning_rate, args.beta_1, args.lr_decay, args.steps
            ),
        )

    fit_kwargs = dict(steps_per_epoch=args.steps_per_epoch, verbose=args.verbose)
    if isinstance(train, np.ndarray):
        fit_kwargs.update(batch_size=args.batch_size, shuffle=True)
    print(f"training {args.model} ({args.latent_dim}-dim, {args.architecture}) for "
          f"{args.steps} steps of batch {args.batch_size}")
    train_start = time.time()
    # Exactly `args.steps` steps (a plain `fit` with `epochs` would end an
    # epoch early whenever the data runs out); raises if the optimizer's
    # counter disagrees.
    history = fit_steps(model, train, steps=args.steps, **fit_kwargs)
    train_time = time.time() - train_start
    steps = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    print(f"trained {steps} steps (the optimizer's step counter) in {train_time:.0f} s")

    samples_path, recon_path = save_grids(model, x_test, args.save_dir, args.seed)
    model_path = os.path.join(
        args.save_dir, f"{args.model}_{args.latent_dim}d_{args.architecture}.keras"
    )
    model.save(model_path)
    print(f"saved {samples_path}, {recon_path}, {model_path}")

    results = evaluate(args, model, x_test, start, history)
    # `steps` is read from the optimizer's counter, not computed.
    results.update(steps=steps, steps_requested=args.steps, train_seconds=train_time)
    with open(os.path.join(args.save_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def evaluate(args, model, x_test, start, history=None):
    """ELBO and AIS on the first `args.eval_examples` test images; prints the row."""
    if args.load:
        from keras_avb import VAE

        args.model = "vae" if isinstance(model, VAE) else (
            "avb_ac" if model.adaptive_contrast else "avb")
        args.latent_dim = int(model.latent_dim)
    x_eval = x_test[: args.eval_examples]
    eval_start = time.time()
    elbo, iw_bound = average_elbo(model, x_eval, batch_size=min(256, len(x_eval)))
    elbo_kind = ("ELBO (a lower bound)" if args.model == "vae" else
                 "adversarial ELBO (with the adversary's KL estimate: not a bound)")
    print(f"On {len(x_eval)} test images: {elbo_kind} {elbo:.2f}; IW bound "
          f"(K={model.bound_samples}, a lower bound) {iw_bound:.2f}")
    estimate = evaluate_log_likelihood(
        model,
        x_eval,
        method="ais",
        num_steps=args.ais_steps,
        num_chains=args.ais_chains,
        batch_size=args.ais_batch_size,
        seed=args.seed,
        verbose=1,
    )
    log_px = estimate.log_likelihood
    np.save(os.path.join(args.save_dir, f"ais_log_px_{len(x_eval)}.npy"), log_px)
    ais = float(np.mean(log_px))
    ais_se = float(np.std(log_px) / math.sqrt(len(log_px)))
    eval_time = time.time() - eval_start
    total_time = time.time() - start

    print(table_row(args, elbo, ais, ais_se))
    print(f"AIS: {args.ais_steps} steps x {args.ais_chains} chains, mean acceptance "
          f"{float(np.mean(estimate.acceptance_rate)):.2f}; wall time: evaluation "
          f"{eval_time:.0f} s, total {total_time:.0f} s")
    results = dict(
        model=args.model, latent_dim=args.latent_dim, architecture=args.architecture,
        decoder=args.decoder or args.architecture, backend=keras.backend.backend(),
        data=os.path.basename(args.data), binarization=args.binarization,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate, adversary_learning_rate=args.adversary_learning_rate,
        lr_decay=getattr(args, "lr_decay", "none"),
        adversary_steps=args.adversary_steps, adversary_units=args.adversary_units,
        adversary_depth=args.adversary_depth, log_prior_trick=args.log_prior_trick,
        contrast_covariance=getattr(args, "contrast_covariance", "diagonal"),
        kl_annealing_steps=args.kl_annealing_steps, eval_examples=len(x_eval),
        ais_steps=args.ais_steps, ais_chains=args.ais_chains, elbo=elbo, elbo_kind=elbo_kind,
        iw_bound=iw_bound, ais=ais,
        ais_standard_error=ais_se,
        final_train_metrics=None if history is None else {
            k: float(v[-1]) for k, v in history.history.items()},
        paper=PAPER.get((args.model, args.latent_dim)), loaded=args.load,
        eval_seconds=eval_time, total_seconds=total_time,
    )
    if args.load:
        name = f"results_eval_{len(x_eval)}.json"
        with open(os.path.join(args.save_dir, name), "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
