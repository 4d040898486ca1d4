"""Priors p(z) and observation models p(x | z)."""

from keras_avb.distributions.likelihoods import Bernoulli
from keras_avb.distributions.likelihoods import Gaussian
from keras_avb.distributions.likelihoods import Likelihood
from keras_avb.distributions.priors import Prior
from keras_avb.distributions.priors import StandardNormal
from keras_avb.distributions.priors import TFPPrior
