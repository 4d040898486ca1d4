"""What a model trained by players gives its trainer.

`keras_avb.trainers.PlayersTrainer` (one implementation per backend) trains
any `keras.Model` that satisfies `PlayersModel`: the model holds the math
(in `keras.ops`), the trainer takes each player's gradients and applies
them, which is the part that differs per backend. `AVB`, `VAE` and
`keras_avb.vi.PosteriorSampler` are such models. A new model trained
against an adversary (an adversarial autoencoder, another density-ratio
estimator) is one new file: subclass `keras_avb.models.AdversarialGame`
(the two optimizers, the update schedule, the adversary's logits and
logistic loss), `PlayersTrainer` and `keras.Model`, and define
`compute_losses`.
"""

from typing import Protocol
from typing import runtime_checkable


@runtime_checkable
class PlayersModel(Protocol):
    """The methods and attributes a `PlayersTrainer` uses.

    Example:

    >>> import keras, keras_avb
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...                       keras_avb.layers.ResidualAdversary(8, 1))
    >>> isinstance(model, PlayersModel), isinstance(keras.Sequential(), PlayersModel)
    (True, False)
    """

    #: True if `model.optimizer` only holds the players' optimizers (a
    #: `MultiOptimizer`, whose counter does not move on its own), so the
    #: step advances `model.optimizer.iterations` once itself.
    counts_own_iterations: bool

    def players(self):
        """An ordered dict `name -> (variables, optimizer)`, one entry a player."""

    @property
    def update_schedule(self):
        """The phases of one step: a tuple of tuples of player names.

        The players of one phase are updated together from one forward pass,
        e.g. `(("adversary",), ("generator",))` for one adversary update
        before each encoder/decoder update.
        """

    def compute_losses(self, x, players, training):
        """`(losses, values)` for a batch `x` (`keras.ops` only).

        `losses[name]` is the scalar loss of each player named in
        `players` (a player not named may be left out, and so may the work
        only it needs); `values` is a dict of scalar metric values.
        """

    def update_metrics(self, values):
        """Updates the metric trackers from `values` and returns the logs."""
