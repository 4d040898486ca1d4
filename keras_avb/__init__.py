"""keras_avb: Adversarial Variational Bayes for Keras 3.

AVB trains a variational autoencoder whose encoder is a black-box neural
sampler; an adversary T(x, z) learns the log-density ratio that the KL term
needs. It runs under the TensorFlow, JAX and PyTorch backends.
"""

from keras_avb import architectures
from keras_avb import callbacks
from keras_avb import datasets
from keras_avb import distributions
from keras_avb import evaluation
from keras_avb import layers
from keras_avb import training
from keras_avb import vi
from keras_avb.export import export_decoder
from keras_avb.export import export_decoder_onnx
from keras_avb.models import AVB
from keras_avb.models import VAE
from keras_avb.training import check_trained_steps
from keras_avb.training import fit_steps
from keras_avb.version import __version__
