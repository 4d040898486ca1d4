"""AVB trained data-parallel on two simulated CPU devices.

- JAX: `keras.distribution.DataParallel`; two epochs compared with the same
  two epochs on one device (same seed, same unshuffled batches).
- TensorFlow: `tf.distribute.MirroredStrategy`; one step with a
  deterministic encoder compared with the same step on one device (the
  replicas' gradients must be averaged, not summed), then both players
  trained for two epochs.

Each run happens in a subprocess, since the number of host devices is fixed
when the backend starts, and once per test session: in the session of its
own backend.
"""

import os
import subprocess
import sys
import textwrap

import keras
import pytest

BACKEND = keras.backend.backend()

JAX_SCRIPT = textwrap.dedent(
    """
    import jax
    import keras
    import numpy as np
    from keras import ops

    import keras_avb
    from keras_avb.testing import four_point_data
    from keras_avb.testing import tiny_black_box_encoder
    from keras_avb.testing import tiny_decoder

    assert len(jax.devices()) == 2, jax.devices()


    def run(distributed):
        keras.utils.set_random_seed(0)
        if distributed:
            keras.distribution.set_distribution(
                keras.distribution.DataParallel(devices=jax.devices())
            )
        model = keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=16, num_blocks=1),
            adaptive_contrast=True,
            kl_annealing_steps=4,
            seed=4,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            adversary_optimizer=keras.optimizers.Adam(3e-3),
        )
        history = model.fit(
            four_point_data(128), batch_size=32, epochs=2, shuffle=False, verbose=0
        )
        devices = len(model.weights[0].value.sharding.device_set)
        keras.distribution.set_distribution(None)
        return model, history.history, devices


    single, single_history, single_devices = run(False)
    parallel, parallel_history, parallel_devices = run(True)
    assert single_devices == 1 and parallel_devices == 2, (single_devices, parallel_devices)
    assert int(parallel.generator_optimizer.iterations) == 8
    assert int(parallel.adversary_optimizer.iterations) == 8
    np.testing.assert_allclose(
        parallel_history["elbo"], single_history["elbo"], rtol=1e-4
    )
    for a, b in zip(single.weights, parallel.weights):
        np.testing.assert_allclose(
            ops.convert_to_numpy(b), ops.convert_to_numpy(a), rtol=1e-4, atol=1e-5
        )
    print("OK")
    """
)


TENSORFLOW_SCRIPT = textwrap.dedent(
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )

    import keras
    import numpy as np

    import keras_avb
    from keras_avb.testing import four_point_data
    from keras_avb.testing import tiny_decoder


    def deterministic_encoder():
        # z ignores the noise, so the generator's loss and its gradient do
        # not depend on how the replicas draw noise.
        x = keras.Input((4,))
        eps = keras.Input((3,))
        h = keras.layers.Dense(8, activation="tanh")(x)
        return keras.Model([x, eps], keras.layers.Dense(2)(h), name="encoder")


    def value(variable):
        return np.asarray(keras.ops.convert_to_numpy(getattr(variable, "value", variable)))


    def run(strategy, adversary_rate):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras_avb.AVB(
                deterministic_encoder(),
                tiny_decoder(),
                keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
                seed=0,
            )
            model.compile(
                optimizer=keras.optimizers.SGD(0.1),
                adversary_optimizer=keras.optimizers.SGD(adversary_rate),
            )
        history = model.fit(
            four_point_data(16), batch_size=16, shuffle=False, verbose=0
        )
        return model, history.history


    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    single, single_history = run(tf.distribute.get_strategy(), 0.0)
    parallel, parallel_history = run(mirrored, 0.0)
    np.testing.assert_allclose(parallel_history["loss"], single_history["loss"], rtol=1e-5)
    for a, b in zip(single.weights, parallel.weights):
        np.testing.assert_allclose(value(b), value(a), rtol=1e-5, atol=1e-6)

    # Both players learn under the strategy, each step counted once.
    keras.utils.set_random_seed(1)
    with mirrored.scope():
        model = keras_avb.AVB(
            keras_avb.testing.tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            adaptive_contrast=True,
            seed=1,
        )
        model.compile(
            optimizer=keras.optimizers.Adam(3e-3),
            adversary_optimizer=keras.optimizers.Adam(3e-3),
        )
    model.build((None, 4))
    before = {id(v): value(v) for v in model.trainable_variables}
    history = model.fit(four_point_data(64), batch_size=16, epochs=2, verbose=0).history
    assert int(value(model.optimizer.iterations)) == 8
    assert int(value(model.adversary_optimizer.iterations)) == 8
    assert all(np.isfinite(history[key]).all() for key in history)
    players = model.players()
    for name in ("generator", "adversary"):
        changed = [
            not np.allclose(before[id(v)], value(v))
            for v in players[name][0]
        ]
        assert all(changed), (name, changed)
    print("OK")
    """
)


def run_script(script, tmp_path, **env):
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=dict(os.environ, **env),
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")


@pytest.mark.skipif(BACKEND != "jax", reason="runs once, in the JAX test session")
def test_jax_data_parallel_matches_single_device_training(tmp_path):
    run_script(
        JAX_SCRIPT,
        tmp_path,
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        JAX_PLATFORMS="cpu",
    )


@pytest.mark.skipif(
    BACKEND != "tensorflow", reason="runs once, in the TensorFlow test session"
)
def test_tensorflow_mirrored_strategy_matches_single_device_training(tmp_path):
    run_script(TENSORFLOW_SCRIPT, tmp_path, KERAS_BACKEND="tensorflow")
