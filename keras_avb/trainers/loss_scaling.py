"""Dynamic loss scaling for the players' steps under `mixed_float16`.

Under the `"mixed_float16"` dtype policy `keras.Model.compile` wraps
`model.optimizer` in a `keras.optimizers.LossScaleOptimizer`. Keras' own
training step scales the loss by it and lets it unscale and check the
gradients; the players' steps here apply each player's gradients with that
player's own optimizer, which would bypass the wrapper (AVB's players live
inside a `MultiOptimizer`, whose `apply` wants every variable's gradient at
once). So the steps use the wrapper's state themselves, with Keras'
semantics: each player's loss is multiplied by `dynamic_scale`, the
gradients are divided by it, a phase whose gradients are not all finite is
skipped and halves the scale, and `dynamic_growth_steps` finite phases in a
row double it.
"""

import keras
from keras import ops


def loss_scaler(model):
    """`model.optimizer` if it is a `LossScaleOptimizer`, else None."""
    optimizer = getattr(model, "optimizer", None)
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer
    return None


def unwrap(optimizer, scaler):
    """The optimizer that applies unscaled gradients (the wrapper's inner one)."""
    return scaler.inner_optimizer if optimizer is scaler else optimizer


def next_scale(finite, scale, step_counter, growth_steps):
    """The loss scale and step counter after a phase (keras.ops, no state).

    A phase whose gradients are not all finite halves the scale and resets
    the counter; a finite one counts, and the `growth_steps`-th finite phase
    in a row doubles the scale and resets the counter. Both the stateful
    steps (`apply_scaled_phase`) and JAX's stateless step use this.

    Args:
        finite: a boolean scalar, whether the phase's gradients are finite.
        scale: the current `dynamic_scale`.
        step_counter: the current `step_counter`.
        growth_steps: the scaler's `dynamic_growth_steps`.

    Returns:
        `(scale, step_counter)`, in the dtypes of the arguments.

    Example:

    >>> scale, count = next_scale(True, ops.convert_to_tensor(8.0),
    ...                           ops.convert_to_tensor(1), growth_steps=2)
    >>> float(scale), int(count)
    (16.0, 0)
    >>> scale, count = next_scale(False, ops.convert_to_tensor(8.0),
    ...                           ops.convert_to_tensor(1), growth_steps=2)
    >>> float(scale), int(count)
    (4.0, 0)
    """
    scale = ops.convert_to_tensor(scale)
    step_counter = ops.convert_to_tensor(step_counter)
    grow = ops.equal(step_counter, growth_steps - 1)
    new_scale = ops.where(
        finite, ops.where(grow, ops.multiply(scale, 2.0), scale), ops.divide(scale, 2.0)
    )
    new_counter = ops.where(
        finite, ops.where(grow, ops.zeros_like(step_counter), step_counter + 1), 0
    )
    return ops.cast(new_scale, scale.dtype), ops.cast(new_counter, step_counter.dtype)


def apply_scaled_phase(phase, grads, players, scaler):
    """Unscales and applies a phase's gradients, or skips the phase (stateful).

    Args:
        phase: the names of the players updated together.
        grads: `grads[name]`, gradients of the scaled losses.
        players: `model.players()`.
        scaler: the model's `LossScaleOptimizer`.
    """
    scale = ops.convert_to_tensor(scaler.dynamic_scale)
    finite = scaler.check_finite([g for name in phase for g in grads[name]])

    def apply():
        for name in phase:
            variables, optimizer = players[name]
            unscaled = [ops.divide(g, ops.cast(scale, g.dtype)) for g in grads[name]]
            unwrap(optimizer, scaler).apply(unscaled, variables)

    ops.cond(finite, apply, lambda: None)
    scale, step_counter = next_scale(
        finite, scale, scaler.step_counter, scaler.dynamic_growth_steps
    )
    scaler.dynamic_scale.assign(scale)
    scaler.step_counter.assign(step_counter)
