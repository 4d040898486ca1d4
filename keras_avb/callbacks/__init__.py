"""Callbacks for training latent-variable models.

- `TrainingMonitor`: warns when the adversary saturates or collapses or the
  KL estimate turns negative, and stops training with a `NonFiniteLossError`
  naming the player and the step when a loss becomes NaN or infinite
  (`AVB`, `VAE` and the VI samplers add one to `fit` by default);
- `SampleGrid`: a PNG grid of decoded prior samples every N epochs;
- `LatentScatter`: a PNG scatter of the latent codes of some data (their
  first two principal components when the latent space is larger);
- `AdversaryKLCheck`: every N epochs, compares an AVB adversary's KL
  estimate on held-out data with an independent kNN estimate and logs the
  gap (`keras_avb.evaluation.adversary_kl_check`).

The figures draw with Matplotlib's Agg canvas (no display needed); all run
on every backend.
"""

from keras_avb.callbacks.adversary_kl import AdversaryKLCheck
from keras_avb.callbacks.health import NonFiniteLossError
from keras_avb.callbacks.health import TrainingHealthWarning
from keras_avb.callbacks.health import TrainingMonitor
from keras_avb.callbacks.visual import LatentScatter
from keras_avb.callbacks.visual import SampleGrid
