"""What the training-throughput benchmark's variants share: settings, data, model.

Imported by the worker processes of `train_throughput.py` (one per Keras
backend) after `KERAS_BACKEND` is set. The benchmarked configuration is the
one `examples/mnist.py --quick` trains on this CPU: AVB with Adaptive
Contrast, 8-dim latent space, the basis-noise encoder (16 bases of 64 noise
entries, 3 x 128 ELU basis MLPs), a 2 x 256 ELU `MnistAdversary` with the
log-prior trick, simultaneous updates of both players, Adam(1e-3,
beta_1=0.5) for each, KL annealing over 1500 steps, batch 128. `--paper`
switches to the paper's 4 x 1024 adversary without the log-prior trick.
"""

import dataclasses
import math
import os

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA = os.path.join(REPO_ROOT, "..", "shared", "data", "binarized_mnist.npz")
LOG_2PI = math.log(2.0 * math.pi)


@dataclasses.dataclass
class Settings:
    """One benchmarked configuration (the same for every variant)."""

    architecture: str = "mlp"
    batch_size: int = 128
    steps: int = 30  # training steps per timed round (one epoch of the subset)
    latent_dim: int = 8
    num_bases: int = 16
    noise_dim: int = 64
    decoder_filters: int = 32  # conv decoder's base filters (the paper's 32)
    adversary_units: int = 256
    adversary_depth: int = 2
    log_prior_trick: bool = True
    kl_annealing_steps: int = 1500
    learning_rate: float = 1e-3
    adversary_learning_rate: float = 1e-3
    beta_1: float = 0.5
    beta_2: float = 0.999
    epsilon: float = 1e-7  # Keras' Adam default, used by every reference too
    contrast_epsilon: float = 1e-4
    seed: int = 0
    data: str = DEFAULT_DATA

    @property
    def examples_per_round(self):
        return self.steps * self.batch_size


def load_subset(settings):
    """The first `steps * batch_size` training images (float32 0/1, `(N, 784)`).

    A round is one epoch over this subset, so no batch is partial (a
    partial last batch would make JAX compile a second step).
    """
    from keras_avb.datasets import load_binarized_mnist

    x_train, _, _ = load_binarized_mnist(settings.data)
    return np.ascontiguousarray(x_train[: settings.examples_per_round])


def build_model(settings):
    """The compiled `AVB` that `fit` trains (and the JAX reference reuses)."""
    import keras

    from keras_avb.architectures import build_mnist_model

    model = build_mnist_model(
        "avb_ac",
        latent_dim=settings.latent_dim,
        architecture=settings.architecture,
        num_bases=settings.num_bases,
        noise_dim=settings.noise_dim,
        decoder_filters=settings.decoder_filters,
        adversary_units=settings.adversary_units,
        adversary_depth=settings.adversary_depth,
        add_squared_norm=settings.log_prior_trick,
        seed=settings.seed,
    )
    model.kl_annealing_steps = settings.kl_annealing_steps
    model.compile(
        optimizer=_adam(keras, settings, settings.learning_rate),
        adversary_optimizer=_adam(keras, settings, settings.adversary_learning_rate),
    )
    return model


def _adam(keras, settings, rate):
    return keras.optimizers.Adam(
        rate, beta_1=settings.beta_1, beta_2=settings.beta_2, epsilon=settings.epsilon
    )


def batches(x, batch_size, rng):
    """One shuffled epoch of `x` in full batches (NumPy), as `fit` feeds it."""
    order = rng.permutation(len(x))
    for start in range(0, len(x) - batch_size + 1, batch_size):
        yield x[order[start : start + batch_size]]
