import tensorflow as tf

from keras_avb.trainers.stateful_trainer import StatefulPlayersTrainer


class TensorFlowPlayersTrainer(StatefulPlayersTrainer):
    """Takes each player's gradients from one persistent tape."""

    def player_gradients(self, x, phase, players):
        # Under a `tf.distribute` strategy the optimizer sums the replicas'
        # gradients, so each replica's mean loss is scaled as Keras does.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=len(phase) > 1) as tape:
            losses, values = self.compute_losses(x, phase, training=True)
            losses = self.scale_losses(losses)
            if replicas > 1:
                losses = {name: loss / replicas for name, loss in losses.items()}
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
