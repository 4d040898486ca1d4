"""Black-box variational inference: AVB against an unnormalised target.

`fit_posterior` fits a neural sampler to a density known up to a constant
by Adversarial Variational Bayes (with or without Adaptive Contrast), and
offers the baselines in the same API: Gaussian VI (ADVI, mean-field and
full-rank) and Hamiltonian Monte Carlo for ground-truth samples.

Example:

>>> import keras, keras_avb
>>> def log_prob(z):  # N(2, 0.5^2) in each of 3 coordinates
...     return -0.5 * keras.ops.sum(keras.ops.square((z - 2.0) / 0.5), axis=-1)
>>> fitted = keras_avb.vi.fit_posterior(log_prob, 3, method="advi_fullrank",
...                                     steps=300, batch_size=64,
...                                     learning_rate=0.05, seed=0)
>>> samples = fitted.sample(2000)
>>> bool(abs(samples.mean() - 2.0) < 0.1)
True
"""

from keras_avb.vi.api import METHODS
from keras_avb.vi.api import FittedPosterior
from keras_avb.vi.api import fit_posterior
from keras_avb.vi.diagnostics import effective_sample_size
from keras_avb.vi.diagnostics import potential_scale_reduction
from keras_avb.vi.gaussian import GaussianVI
from keras_avb.vi.gaussian import empirical_moments
from keras_avb.vi.hmc import run_hmc
from keras_avb.vi.sampler import PosteriorSampler
from keras_avb.vi.sampler import default_sampler
from keras_avb.vi.targets import tfp_log_prob_fn
