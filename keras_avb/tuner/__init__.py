"""Hyperparameter search for AVB with KerasTuner.

`AVBHyperModel` is a `keras_tuner.HyperModel` whose search space covers the
latent size, the number of noise bases of a basis-noise encoder, both
players' learning rates, the adversary steps per step and Adaptive
Contrast; its objective `OBJECTIVE` is `val_iw_bound`, an importance-weighted
lower bound on the validation log-likelihood that does not depend on the
adversary, maximised. Needs the `tuner` extra (`pip install keras-avb[tuner]`).
"""

from keras_avb.tuner.hypermodel import OBJECTIVE
from keras_avb.tuner.hypermodel import AVBHyperModel
