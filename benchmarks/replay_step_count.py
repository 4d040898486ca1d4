"""Replays the `fit` schedules of past MNIST runs and reads the step counts.

Before `keras_avb.training.fit_steps`, `examples/mnist.py` trained with
`model.fit(data, epochs=ceil(steps / steps_per_epoch), steps_per_epoch=...)`
and reported `epochs * steps_per_epoch` steps. Keras carries the data
iterator over from one epoch to the next and ends an epoch early when the
469-batch pass over the 60,000 dynamically binarized training images runs
out, so the runs made fewer steps than they reported. How many depends on
Keras' data handling alone (not on the model, the backend or the machine),
so this script replays each schedule: the same `DynamicBinarization`
PyDataset length (60,000 examples in batches of 128: 469 batches), the same
`epochs` and `steps_per_epoch` as the example computed, with a one-pixel
VAE, and reads the optimizer's step counter. It then trains the same
request with `fit_steps` and checks that it makes exactly the steps asked.

Usage (from the repository root; about a minute per 10,000 steps under JAX
on one CPU core):

    KERAS_BACKEND=jax python benchmarks/replay_step_count.py
    KERAS_BACKEND=jax python benchmarks/replay_step_count.py --schedules quick
"""

import argparse
import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_avb  # noqa: E402
from keras_avb.datasets import DynamicBinarization  # noqa: E402
from keras_avb.training import fit_steps  # noqa: E402

TRAIN_EXAMPLES, BATCH_SIZE = 60_000, 128

# name: (requested steps, requested steps per epoch, whether the example
# capped an epoch at one pass (commit 1f46a3b on) or not (faee52e)).
SCHEDULES = {
    "quick_faee52e": (3000, 500, False),  # BENCHMARKS (A), (C)
    "quick": (3000, 375, True),  # --quick: (B), (F), (G), the current table
    "quick_2814": (2814, 469, True),  # (D), (E)
    "10k": (10_000, 400, True),
    "30k": (30_000, 400, True),
}


def old_schedule(steps, steps_per_epoch, capped, batches):
    """`(epochs, steps_per_epoch)` as examples/mnist.py computed them."""
    steps_per_epoch = min(steps_per_epoch, steps)
    if capped:
        steps_per_epoch = min(steps_per_epoch, batches)
    return math.ceil(steps / steps_per_epoch), steps_per_epoch


def tiny_vae():
    x = keras.Input((1,))
    encoder = keras.Model(x, [keras.layers.Dense(1)(x), keras.layers.Dense(1)(x)])
    decoder = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model = keras_avb.VAE(encoder, decoder, seed=0)
    model.compile(optimizer=keras.optimizers.SGD(1e-3))
    return model


def counter(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def replay(name, check_fit_steps=True):
    steps, steps_per_epoch, capped = SCHEDULES[name]
    data = DynamicBinarization(np.full((TRAIN_EXAMPLES, 1), 0.5), batch_size=BATCH_SIZE)
    epochs, epoch_steps = old_schedule(steps, steps_per_epoch, capped, len(data))
    start = time.time()
    model = tiny_vae()
    model.fit(data, epochs=epochs, steps_per_epoch=epoch_steps, verbose=0)
    row = dict(schedule=name, requested=steps, epochs=epochs,
               steps_per_epoch=epoch_steps, labelled=epochs * epoch_steps,
               trained=counter(model))
    if check_fit_steps:
        model = tiny_vae()
        data = DynamicBinarization(np.full((TRAIN_EXAMPLES, 1), 0.5), batch_size=BATCH_SIZE)
        fit_steps(model, data, steps=steps, steps_per_epoch=steps_per_epoch, verbose=0)
        row["fit_steps"] = counter(model)
    row["seconds"] = time.time() - start
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--schedules", default=",".join(SCHEDULES),
                        help="comma-separated names of " + ", ".join(SCHEDULES))
    parser.add_argument("--no-fit-steps", action="store_true",
                        help="skip the check that fit_steps makes the requested steps")
    args = parser.parse_args(argv)
    import warnings

    warnings.filterwarnings("ignore", message="Your input ran out of data")
    rows = []
    print("| schedule | requested | epochs x steps per epoch (labelled) | trained "
          "(optimizer counter) | fit_steps |")
    print("|---|---|---|---|---|")
    for name in args.schedules.split(","):
        row = replay(name.strip(), check_fit_steps=not args.no_fit_steps)
        rows.append(row)
        print(f"| {row['schedule']} | {row['requested']:,} | {row['epochs']} x "
              f"{row['steps_per_epoch']} ({row['labelled']:,}) | {row['trained']:,} | "
              f"{row.get('fit_steps', '-')} |", flush=True)
    return rows


if __name__ == "__main__":
    main()
