"""TensorFlow: `tf.GradientTape`, `tf.function`, TFP, noise per `tf.distribute` replica."""

import tensorflow as tf


#: dtype of the `(2,)` seed tensors TFP takes (TensorFlow's stateless seeds are int32 pairs).
TFP_SEED_DTYPE = "int32"

#: TFP itself (the TensorFlow substrate), imported by `keras_avb.backend.tfp()`.
TFP_MODULE = "tensorflow_probability"


def value_and_grad(fn):
    """`z -> (fn(z), d sum(fn(z)) / dz)` for a row-wise function `fn`.

    Example:

    >>> values, grads = value_and_grad(
    ...     lambda z: tf.reduce_sum(z ** 2, -1))(tf.ones((1, 2)))
    >>> grads.numpy().tolist()
    [[2.0, 2.0]]
    """

    def wrapped(z):
        with tf.GradientTape() as tape:
            tape.watch(z)
            values = fn(z)
        return values, tape.gradient(values, z)

    return wrapped


def jit(fn, xla=False):
    """`tf.function(fn)`: a graph, which every decoder supports; with
    `xla=True` compiled by XLA (`jit_compile=True`), for code known to
    support it.

    Example:

    >>> float(jit(lambda a: a + 1)(tf.constant(1.0)))
    2.0
    """
    return tf.function(fn, reduce_retracing=True, jit_compile=True if xla else None)


def draw_per_example(sample, batch_size, batch_axis=0):
    """`sample(batch_size)`, this replica's slice of one global draw.

    Under a `tf.distribute` strategy each replica runs the step on its slice
    of the batch with the same, mirrored seed: drawn naively, every replica
    would draw the same noise. Here each replica draws the noise of the
    global batch and keeps its own slice (replicas hold consecutive slices
    in replica order).

    Example:

    Outside a strategy (or with one replica) it is `sample(batch_size)`:

    >>> import keras
    >>> draw = lambda n: keras.random.normal((2, n, 3), seed=keras.random.SeedGenerator(1))
    >>> tuple(draw_per_example(draw, 4, batch_axis=1).shape)
    (2, 4, 3)
    """
    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if context is None or replicas == 1:
        return sample(batch_size)
    noise = sample(batch_size * replicas)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.cast(
        batch_size, tf.int32
    )
    return tf.gather(noise, tf.range(start, start + batch_size), axis=batch_axis)


def players_trainer():
    """The class whose `train_step` runs the players' updates on this backend."""
    from keras_avb.trainers.tensorflow_trainer import TensorFlowPlayersTrainer

    return TensorFlowPlayersTrainer
