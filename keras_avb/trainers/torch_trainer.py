import torch

from keras_avb.trainers.stateful_trainer import StatefulPlayersTrainer


class TorchPlayersTrainer(StatefulPlayersTrainer):
    """Takes each player's gradients with `torch.autograd.grad`."""

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
