"""Random search over AVB's hyperparameters on binarized MNIST.

Searches `keras_avb.tuner.AVBHyperModel`'s space (latent size, noise bases
of the basis-noise encoder, both learning rates, adversary steps per step,
Adaptive Contrast) with `keras_tuner.RandomSearch`, maximising the
validation ELBO, then prints the best trial and evaluates its model.

Usage:

    KERAS_BACKEND=jax python examples/tune.py --quick
    KERAS_BACKEND=tensorflow python examples/tune.py --max-trials 20 --epochs 10

`--quick` (a few thousand images, 2 trials of 1 epoch, small networks)
finishes in a few minutes on 2 CPU cores. The data are read from `--data`
(an `mnist.npz` with `x_train`, `y_train`, `x_test`, `y_test`), binarized
once with a fixed seed; nothing is downloaded. Trials are kept in
`--directory` (a fresh temporary one by default).
"""

import argparse
import tempfile
import time
from pathlib import Path

import keras_tuner
import numpy as np

import keras_avb.tuner

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "mnist.npz"


def load_data(path, seed=0):
    """Statically binarized MNIST, flattened to 784 entries."""
    try:
        from keras_avb.datasets import load_mnist
    except ImportError:  # a checkout without keras_avb.datasets
        load_mnist = None
    if load_mnist is not None:
        (x_train, _), (x_test, _) = load_mnist(path, binarization="static", seed=seed)
        return x_train, x_test
    with np.load(path, allow_pickle=False) as data:
        x_train, x_test = data["x_train"], data["x_test"]
    rng = np.random.default_rng(seed)

    def binarize(x):
        x = x.reshape(len(x), -1).astype("float32") / 255.0
        return (rng.random(x.shape, dtype="float32") < x).astype("float32")

    return binarize(x_train), binarize(x_test)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each flag's default, except where the help text states it (None)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="path of mnist.npz")
    parser.add_argument("--quick", action="store_true",
                        help="a small search for a smoke test: 2 trials of 1 epoch on "
                             "4000 training and 1000 validation images, small networks "
                             "(overrides --max-trials, --epochs and the sizes)")
    parser.add_argument("--max-trials", type=int, default=10, help="trials of the search")
    parser.add_argument("--epochs", type=int, default=5,
                        help="passes over the training images per trial")
    parser.add_argument("--batch-size", type=int, default=128, help="examples per batch")
    parser.add_argument("--train-size", type=int, default=None,
                        help="training images used (default: all 60,000)")
    parser.add_argument("--val-size", type=int, default=10000,
                        help="validation images (from the test split)")
    parser.add_argument("--directory", default=None,
                        help="where KerasTuner keeps its trials (default: a fresh "
                             "temporary directory)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the search and data")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)

    x_train, x_val = load_data(args.data, seed=args.seed)
    if args.quick:
        args.max_trials, args.epochs = 2, 1
        args.train_size, args.val_size = 4000, 1000
        hypermodel = keras_avb.tuner.AVBHyperModel(
            (784,),
            latent_dims=(2, 8),
            num_bases=(4, 8),
            learning_rate_range=(1e-4, 1e-3),
            adversary_learning_rate_range=(1e-4, 1e-3),
            adversary_steps=(None, 1),
            hidden_units=128,
            hidden_layers=1,
            noise_dim=8,
            noise_units=(16,),
            adversary_units=64,
            adversary_blocks=1,
            seed=args.seed,
        )
    else:
        hypermodel = keras_avb.tuner.AVBHyperModel((784,), seed=args.seed)
    if args.train_size:
        x_train = x_train[: args.train_size]
    x_val = x_val[: args.val_size]

    directory = args.directory or tempfile.mkdtemp(prefix="avb_tune_")
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective=keras_avb.tuner.OBJECTIVE,
        max_trials=args.max_trials,
        directory=directory,
        project_name="avb_mnist",
        seed=args.seed,
        overwrite=args.directory is None,
    )
    start = time.time()
    tuner.search(
        x_train,
        validation_data=(x_val,),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=0,
    )
    best_trial = tuner.oracle.get_best_trials(1)[0]
    print(f"Search of {args.max_trials} trials took {time.time() - start:.0f} s; "
          f"trials in {directory}")
    print(f"Best trial {best_trial.trial_id}: val_iw_bound = {best_trial.score:.2f} nats")
    for name, value in sorted(best_trial.hyperparameters.values.items()):
        print(f"  {name} = {value}")
    best = tuner.get_best_models(1)[0]
    logs = best.evaluate(x_val, batch_size=args.batch_size, verbose=0, return_dict=True)
    print(f"Best model on the validation set: IW bound {logs['iw_bound']:.2f}, "
          f"KL {logs['kl']:.2f}, reconstruction error {logs['reconstruction_error']:.4f}")


if __name__ == "__main__":
    main()
