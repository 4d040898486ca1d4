import functools

import torch
from keras import ops
from keras.src.backend.torch.optimizers import torch_adam

from keras_avb.trainers.stateful_trainer import StatefulPlayersTrainer

# A step count at which the fused kernel's bias corrections are exactly 1:
# beta ** 1e9 underflows to 0 in float32 for any beta < 1.
_NO_BIAS_CORRECTION = 1e9


class TorchPlayersTrainer(StatefulPlayersTrainer):
    """Takes each player's gradients with `torch.autograd.grad`.

    The players' `keras.optimizers.Adam` optimizers update their variables
    with PyTorch's fused Adam kernel (`fuse_adam`).
    """

    def train_step(self, data):
        for _, optimizer in self.players().values():
            fuse_adam(optimizer)
        return super().train_step(data)

    def player_gradients(self, x, phase, players):
        losses, values = self.compute_losses(x, phase, training=True)
        losses = self.scale_losses(losses)
        grads = {}
        for index, name in enumerate(phase):
            tensors = [v.value for v in players[name][0]]
            player_grads = torch.autograd.grad(
                losses[name],
                tensors,
                retain_graph=index < len(phase) - 1,
                allow_unused=True,
            )
            grads[name] = [
                torch.zeros_like(t) if g is None else g
                for g, t in zip(player_grads, tensors)
            ]
        values = {k: v.detach() for k, v in values.items()}
        return values, grads


def fuse_adam(optimizer):
    """Makes a Keras `Adam` update its variables with one fused kernel.

    Keras' PyTorch Adam runs about ten `torch._foreach_*` passes over the
    variables per update, five of them into new temporaries; PyTorch's
    fused kernel (`torch._fused_adam_`, as `torch.optim.Adam(fused=True)`)
    runs one. On the paper's MNIST architecture (6.4 M variables, one CPU
    core) an update takes 38-48 ms the Keras way and 3.2 ms fused
    (BENCHMARKS.md). The math is Keras' Adam, not PyTorch's: Keras adds
    `epsilon` to `sqrt(v)` before the bias correction, PyTorch after it, so
    the kernel gets step counts at which its own bias corrections are 1
    and the learning rate already corrected the Keras way (a tensor, so
    nothing leaves the device). Only the update step is replaced: learning
    rate schedules, clipping, weight decay, gradient accumulation, EMA,
    the iteration counter and the saved state are Keras' own.

    Applies to plain `keras.optimizers.Adam` without `amsgrad` (others are
    left as they are); calling it again is a no-op. Under `torch.compile`
    (`compile(jit_compile=True)`) the Keras update runs.

    Example:

    >>> import keras
    >>> v = keras.Variable([1.0, 2.0])
    >>> optimizer = keras.optimizers.Adam(0.1)
    >>> fuse_adam(optimizer)
    True
    >>> optimizer.apply([ops.convert_to_tensor([1.0, -1.0])], [v])
    >>> [round(float(x), 4) for x in v.numpy()]
    [0.9, 2.1]
    """
    if getattr(optimizer, "_keras_avb_fused", False):
        return True
    if type(optimizer) is not torch_adam.Adam or optimizer.amsgrad:
        return False
    optimizer._parallel_update_step = functools.partial(_fused_update_step, optimizer)
    optimizer._keras_avb_fused = True
    return True


def _fused_update_step(optimizer, grads, variables, learning_rate):
    params = [v.value for v in variables]
    if torch.compiler.is_compiling() or len({(p.dtype, p.device) for p in params}) > 1:
        # Under `jit_compile=True` (torch.compile, which fuses the Keras
        # update itself) the kernel has no tracing rule, and it wants one
        # dtype and device per call.
        return torch_adam.Adam._parallel_update_step(optimizer, grads, variables, learning_rate)
    indices = [optimizer._get_variable_index(v) for v in variables]
    dtype = params[0].dtype
    # Keras' bias-corrected learning rate, exactly as `torch_adam.Adam`.
    local_step = ops.cast(optimizer.iterations + 1, dtype)
    beta_1_power = ops.power(ops.cast(optimizer.beta_1, dtype), local_step)
    beta_2_power = ops.power(ops.cast(optimizer.beta_2, dtype), local_step)
    alpha = ops.cast(learning_rate, dtype) * ops.sqrt(1 - beta_2_power) / (1 - beta_1_power)
    steps = getattr(optimizer, "_keras_avb_steps", None)
    if steps is None or len(steps) != len(params):
        steps = [torch.full((), _NO_BIAS_CORRECTION, device=params[0].device) for _ in params]
        optimizer._keras_avb_steps = steps
    torch._fused_adam_(
        params,
        [ops.cast(g, dtype) for g in grads],
        [optimizer._momentums[i].value for i in indices],
        [optimizer._velocities[i].value for i in indices],
        [],
        steps,
        lr=alpha,
        beta1=float(optimizer.beta_1),
        beta2=float(optimizer.beta_2),
        weight_decay=0.0,
        eps=float(optimizer.epsilon),
        amsgrad=False,
        maximize=False,
    )
