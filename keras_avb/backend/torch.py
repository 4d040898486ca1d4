"""PyTorch: `torch.autograd.grad`, no compilation, no TFP substrate."""

import torch

from keras_avb.backend.common import draw_per_example  # noqa: F401


#: dtype of the `(2,)` seed tensors TFP takes (no TFP substrate).
TFP_SEED_DTYPE = None

#: None: TensorFlow Probability has no PyTorch substrate.
TFP_MODULE = None


def value_and_grad(fn):
    """`z -> (fn(z), d sum(fn(z)) / dz)` for a row-wise function `fn`.

    The results are detached: no graph is kept between calls.

    Example:

    >>> values, grads = value_and_grad(lambda z: (z ** 2).sum(-1))(torch.ones(1, 2))
    >>> grads.tolist()
    [[2.0, 2.0]]
    """

    def wrapped(z):
        with torch.enable_grad():
            z = z.detach().requires_grad_(True)
            values = fn(z)
            (grads,) = torch.autograd.grad(values.sum(), z)
        return values.detach(), grads.detach()

    return wrapped


def jit(fn, xla=False):
    """`fn` run eagerly under `torch.no_grad()` (`value_and_grad` re-enables it).

    `xla` is ignored (it asks TensorFlow for XLA).

    No graph is recorded through the decoder's parameters, which PyTorch
    would otherwise do for every forward pass.

    Example:

    >>> jit(lambda a: a * 2)(torch.ones(1, requires_grad=True)).requires_grad
    False
    """

    def wrapped(*args, **kwargs):
        with torch.no_grad():
            return fn(*args, **kwargs)

    return wrapped


def players_trainer():
    """The class whose `train_step` runs the players' updates on this backend."""
    from keras_avb.trainers.torch_trainer import TorchPlayersTrainer

    return TorchPlayersTrainer
