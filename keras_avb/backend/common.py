"""What the backends without replicas inside a step share."""


def draw_per_example(sample, batch_size, batch_axis=0):
    """`sample(batch_size)`: the step runs one program over the global batch.

    So it is under JAX's `keras.distribution.DataParallel` (every replica's
    noise is already its own) and under PyTorch, which runs no replicas
    inside a step; only TensorFlow's `tf.distribute` needs more
    (`keras_avb/backend/tensorflow.py`).

    Example:

    >>> import keras
    >>> seed = keras.random.SeedGenerator(0)
    >>> eps = draw_per_example(lambda n: keras.random.normal((n, 3), seed=seed), 4)
    >>> tuple(eps.shape)
    (4, 3)
    """
    del batch_axis  # one draw over the whole batch
    return sample(batch_size)
