"""Hyperparameter search for AVB with KerasTuner.

`AVBHyperModel` is a `keras_tuner.HyperModel` whose search space covers the
latent size, the number of noise bases of a basis-noise encoder, both
players' learning rates, the adversary steps per step and Adaptive
Contrast; its objective is the validation ELBO, maximised. Needs the
`tuner` extra (`pip install keras-avb[tuner]`).
"""

from keras_avb.tuner.hypermodel import OBJECTIVE
from keras_avb.tuner.hypermodel import AVBHyperModel
