"""Models: AVB and the Gaussian VAE baseline."""

from keras_avb.models.adversarial_game import adversary_steps_from_int
from keras_avb.models.adversarial_game import adversary_steps_to_int
from keras_avb.models.adversarial_game import default_optimizer
from keras_avb.models.avb import AVB
from keras_avb.models.latent_variable_model import LatentVariableModel
from keras_avb.models.vae import VAE
