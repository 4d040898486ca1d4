"""Per-example noise that data-parallel replicas draw as one global batch.

Noise drawn inside a training step has one row per example. Under JAX's
`keras.distribution.DataParallel` the step is one program over the global
batch, so nothing is needed. Under a `tf.distribute` strategy each replica
runs the step on its slice of the batch with the same, mirrored seed: drawn
naively, every replica would draw the same noise, and a run on N devices
would differ from one device on the same global batch. There each replica
draws the noise of the global batch and keeps its own slice.

Example:

>>> import keras
>>> from keras_avb.trainers.noise import draw_per_example
>>> seed = keras.random.SeedGenerator(0)
>>> eps = draw_per_example(lambda n: keras.random.normal((n, 3), seed=seed), 4)
>>> tuple(eps.shape)
(4, 3)
"""

import keras


def draw_per_example(sample, batch_size, batch_axis=0):
    """`sample(batch_size)`, this replica's slice of a global draw.

    Args:
        sample: a function of a batch size returning noise whose axis
            `batch_axis` has that size.
        batch_size: the number of examples in this replica's batch.
        batch_axis: the axis of `sample`'s result that runs over examples.
    """
    return sample(batch_size)


if keras.backend.backend() == "tensorflow":
    from keras_avb.trainers.tensorflow_noise import draw_per_example  # noqa: F811
