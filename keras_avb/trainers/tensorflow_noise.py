"""`draw_per_example` under `tf.distribute`: slice one global draw."""

import tensorflow as tf


def draw_per_example(sample, batch_size, batch_axis=0):
    """See `keras_avb.trainers.noise.draw_per_example`."""
    context = tf.distribute.get_replica_context()
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if context is None or replicas == 1:
        return sample(batch_size)
    # Replicas hold consecutive slices of the global batch, in replica order.
    noise = sample(batch_size * replicas)
    start = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.cast(
        batch_size, tf.int32
    )
    return tf.gather(noise, tf.range(start, start + batch_size), axis=batch_axis)
