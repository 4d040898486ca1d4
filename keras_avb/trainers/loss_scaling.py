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


def apply_scaled_phase(phase, grads, players, scaler):
    """Unscales and applies a phase's gradients, or skips the phase (stateful).

    Args:
        phase: the names of the players updated together.
        grads: `grads[name]`, gradients of the scaled losses.
        players: `model.players()`.
        scaler: the model's `LossScaleOptimizer`.
    """
    scale = scaler.dynamic_scale
    finite = scaler.check_finite([g for name in phase for g in grads[name]])

    def apply_and_count():
        for name in phase:
            variables, optimizer = players[name]
            unscaled = [ops.divide(g, ops.cast(scale, g.dtype)) for g in grads[name]]
            unwrap(optimizer, scaler).apply(unscaled, variables)

        def grow():
            scaler.step_counter.assign(0)
            scaler.dynamic_scale.assign(ops.multiply(scale, 2.0))

        def count():
            scaler.step_counter.assign_add(1)

        ops.cond(
            ops.equal(scaler.step_counter, scaler.dynamic_growth_steps - 1),
            grow,
            count,
        )

    def skip():
        scaler.step_counter.assign(0)
        scaler.dynamic_scale.assign(ops.divide(scale, 2.0))

    ops.cond(finite, apply_and_count, skip)
