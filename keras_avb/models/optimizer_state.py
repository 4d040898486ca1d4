"""Loading weights restores the optimizer state too, as `load_model` does.

Keras builds an optimizer (creates its slot variables) on the first
training step. `model.load_weights(path)` on a freshly compiled model, as
KerasTuner's `get_best_models()` does, then finds an optimizer with only
its step counter and learning rate, warns "Skipping variable loading for
optimizer ..." and drops the saved state. Building the optimizer on the
model's variables first makes the two match, so the step counter (which KL
annealing reads) and the moment estimates come back with the weights.
"""


def build_optimizer(model):
    """Builds a compiled, built model's optimizer on its trainable variables."""
    optimizer = getattr(model, "optimizer", None)
    if model.built and optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)


class RestoresOptimizerState:
    """A `keras.Model` mixin whose `load_weights` restores the optimizer state."""

    def load_weights(self, filepath, *args, **kwargs):
        """`keras.Model.load_weights`, with the saved optimizer state.

        A compiled model's optimizer is built on the model's variables
        first, so that its state (step counter, moments) is loaded from
        the file instead of skipped.
        """
        build_optimizer(self)
        return super().load_weights(filepath, *args, **kwargs)
