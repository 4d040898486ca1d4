"""Evaluation of trained models: exact and estimated log-likelihoods, divergences,
and a check of an AVB adversary's KL estimate (`adversary_kl_check`)."""

from keras_avb.evaluation.divergences import kl_divergence_knn
from keras_avb.evaluation.quadrature import quadrature_log_likelihood
from keras_avb.evaluation.ais import ais_log_likelihood
from keras_avb.evaluation.estimate import LogLikelihoodEstimate
from keras_avb.evaluation.estimate import LowEffectiveSampleSizeWarning
from keras_avb.evaluation.estimate import reliability_threshold
from keras_avb.evaluation.importance import importance_log_likelihood
from keras_avb.evaluation.linear_gaussian import linear_gaussian_problem
from keras_avb.evaluation.log_likelihood import evaluate_log_likelihood
from keras_avb.evaluation.log_likelihood import posterior_moments
from keras_avb.evaluation.adversary_kl import AdversaryKLResult
from keras_avb.evaluation.adversary_kl import adversary_kl_check
