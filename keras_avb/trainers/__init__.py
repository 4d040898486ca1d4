"""Training steps for models with several players, one module per backend.

A model trained by these steps (see `keras_avb.models.LatentVariableModel`)
provides:

- `players()`: an ordered dict `name -> (variables, optimizer)`;
- `update_schedule`: a tuple of phases, each a tuple of player names that
  are updated together from one forward pass;
- `compute_losses(x, players, training)`: `(losses, values)`, the scalar
  loss of each named player and a dict of scalar metric values;
- `update_metrics(values)`: updates the metric trackers and returns logs.

The math lives in the model and uses `keras.ops` only; a trainer only takes
gradients and applies them, which is the part that differs per backend.
"""

import keras

_BACKEND = keras.backend.backend()

if _BACKEND == "jax":
    from keras_avb.trainers.jax_trainer import JAXPlayersTrainer as PlayersTrainer
elif _BACKEND == "tensorflow":
    from keras_avb.trainers.tensorflow_trainer import (
        TensorFlowPlayersTrainer as PlayersTrainer,
    )
elif _BACKEND == "torch":
    from keras_avb.trainers.torch_trainer import (
        TorchPlayersTrainer as PlayersTrainer,
    )
else:
    raise ImportError(
        f"keras_avb supports the tensorflow, jax and torch backends; the "
        f"active Keras backend is '{_BACKEND}'. Set KERAS_BACKEND."
    )
