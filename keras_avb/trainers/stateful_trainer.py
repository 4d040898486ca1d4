"""The training step shared by the stateful backends (TensorFlow, PyTorch)."""

import keras

from keras_avb.trainers import loss_scaling


def unpack_x(data):
    """The data batch `x` of `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
    return x


class StatefulPlayersTrainer:
    """Runs the phases of `update_schedule`, applying each player's gradients.

    Subclasses implement `player_gradients(x, phase, players)`, returning
    `(values, grads)` with `grads[name]` aligned with that player's
    variables in `players` (`self.players()`, listed once per step), taken
    of `self.scale_losses(losses)`.
    """

    def scale_losses(self, losses):
        """Multiplies the losses by the dynamic loss scale under mixed_float16."""
        scaler = loss_scaling.loss_scaler(self)
        if scaler is None:
            return losses
        return {name: scaler.scale_loss(loss) for name, loss in losses.items()}

    def player_gradients(self, x, phase, players):
        raise NotImplementedError

    def _build_on_first_batch(self, x):
        # TensorFlow defers building to the first trace of the step, so the
        # model (with its optimizer map) and the optimizer are built here.
        if not self.built:
            self.build(tuple(x.shape))
        if not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        x = unpack_x(data)
        self._build_on_first_batch(x)
        players = self.players()
        scaler = loss_scaling.loss_scaler(self)
        values = {}
        for phase in self.update_schedule:
            phase_values, grads = self.player_gradients(x, phase, players)
            if scaler is None:
                for name in phase:
                    variables, optimizer = players[name]
                    optimizer.apply(grads[name], variables)
            else:
                loss_scaling.apply_scaled_phase(phase, grads, players, scaler)
            values.update(phase_values)
        if self.counts_own_iterations:
            self.optimizer.iterations.assign_add(1)
        return self.update_metrics(values)

    def test_step(self, data):
        x = unpack_x(data)
        if not self.built:
            self.build(tuple(x.shape))
        _, values = self.compute_losses(x, tuple(self.players()), training=False)
        return self.update_metrics(values)
