"""Training steps for models with several players, one module per backend.

A model trained by these steps satisfies `PlayersModel`
(`keras_avb/trainers/contract.py`): it provides `players()`,
`update_schedule`, `compute_losses(x, players, training)` and
`update_metrics(values)`. The math lives in the model and uses `keras.ops`
only; a trainer only takes gradients and applies them, which is the part
that differs per backend. A backend's step is its trainer here
(`<backend>_trainer.py`; TensorFlow and PyTorch share the phase loop of
`stateful_trainer.py`, and `mixed_float16` adds `loss_scaling.py`) and
the model's `compute_losses`. `keras_avb.backend`, the one place that
knows the backend, picks the trainer (`backend.players_trainer()`).
"""

from keras_avb import backend
from keras_avb.trainers.contract import PlayersModel  # noqa: F401

PlayersTrainer = backend.players_trainer()
