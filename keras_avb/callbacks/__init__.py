"""Callbacks that picture a latent-variable model during training.

- `SampleGrid`: a PNG grid of decoded prior samples every N epochs;
- `LatentScatter`: a PNG scatter of the latent codes of some data (their
  first two principal components when the latent space is larger).

Both draw with Matplotlib's Agg canvas (no display needed) and run on every
backend.
"""

from keras_avb.callbacks.visual import LatentScatter
from keras_avb.callbacks.visual import SampleGrid
