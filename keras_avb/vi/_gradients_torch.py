"""Value and gradient of a log-density under the PyTorch backend."""

import keras
import numpy as np
import torch


def value_and_grad(log_prob_fn):
    """Returns `f(z) -> (log_prob, grad)` on NumPy `(batch, d)` arrays."""

    def compute(z):
        tensor = keras.ops.convert_to_tensor(np.asarray(z, "float32"))
        tensor = tensor.detach().requires_grad_(True)
        value = log_prob_fn(tensor).reshape(-1).float()
        (grad,) = torch.autograd.grad(value.sum(), tensor)
        return (
            value.detach().cpu().numpy().astype("float64"),
            grad.detach().cpu().numpy().astype("float64"),
        )

    return compute
