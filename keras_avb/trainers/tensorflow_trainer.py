import tensorflow as tf

from keras_avb.trainers.stateful_trainer import StatefulPlayersTrainer


class TensorFlowPlayersTrainer(StatefulPlayersTrainer):
    """Takes each player's gradients from one persistent tape."""

    def player_gradients(self, x, phase):
        players = self.players()
        with tf.GradientTape(persistent=len(phase) > 1) as tape:
            losses, values = self.compute_losses(x, phase, training=True)
        grads = {}
        for name in phase:
            variables = players[name][0]
            grads[name] = tape.gradient(
                losses[name],
                variables,
                unconnected_gradients=tf.UnconnectedGradients.ZERO,
            )
        del tape
        return values, grads
