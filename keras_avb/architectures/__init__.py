"""Network builders for the paper's experiments."""

from keras_avb.architectures.synthetic import synthetic_adversary
from keras_avb.architectures.synthetic import synthetic_avb_encoder
from keras_avb.architectures.synthetic import synthetic_decoder
from keras_avb.architectures.synthetic import synthetic_vae_encoder
from keras_avb.architectures.mnist import MnistAdversary
from keras_avb.architectures.mnist import build_mnist_model
from keras_avb.architectures.mnist import mnist_adversary
from keras_avb.architectures.mnist import mnist_avb_encoder
from keras_avb.architectures.mnist import mnist_decoder
from keras_avb.architectures.mnist import mnist_vae_encoder
