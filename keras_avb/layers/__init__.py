"""Layers of AVB models: the basis-noise encoder head, Adaptive Contrast
and adversary networks T(x, z)."""

from keras_avb.layers.adaptive_contrast import AdaptiveContrast
from keras_avb.layers.adversaries import Adversary
from keras_avb.layers.adversaries import InnerProductAdversary
from keras_avb.layers.adversaries import ResidualAdversary
from keras_avb.layers.basis_noise_encoder import BasisNoiseEncoder
