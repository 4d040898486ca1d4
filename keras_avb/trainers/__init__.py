"""Training steps for models with several players, one module per backend.

A model trained by these steps satisfies `PlayersModel`
(`keras_avb/trainers/contract.py`): it provides `players()`,
`update_schedule`, `compute_losses(x, players, training)` and
`update_metrics(values)`. The math lives in the model and uses `keras.ops`
only; a trainer only takes gradients and applies them, which is the part
that differs per backend. A backend's step is its trainer here
(`<backend>_trainer.py`; TensorFlow and PyTorch share the phase loop of
`stateful_trainer.py`, and `mixed_float16` adds `loss_scaling.py`) and
the model's `compute_losses`.
"""

import keras

from keras_avb.trainers.contract import PlayersModel  # noqa: F401

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
