"""Data sets for the paper's experiments, loaded from local archives."""

from keras_avb.datasets.mnist import DynamicBinarization
from keras_avb.datasets.mnist import binarize
from keras_avb.datasets.mnist import load_binarized_mnist
from keras_avb.datasets.mnist import load_mnist
