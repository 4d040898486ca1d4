"""AVB trained data-parallel on two simulated CPU devices.

- JAX: `keras.distribution.DataParallel`; two epochs compared with the same
  two epochs on one device (same seed, same unshuffled batches).
- TensorFlow: `tf.distribute.MirroredStrategy`; the same comparison (this
  needs the replicas' gradients averaged, not summed, and each replica's
  noise to be its slice of the global batch's noise).

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
        parallel_history["adversarial_elbo"], single_history["adversarial_elbo"], rtol=1e-4
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
    from keras_avb.testing import tiny_black_box_encoder
    from keras_avb.testing import tiny_decoder


    def value(variable):
        return np.asarray(keras.ops.convert_to_numpy(getattr(variable, "value", variable)))


    def run(strategy, **kwargs):
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras_avb.AVB(
                tiny_black_box_encoder(),
                tiny_decoder(),
                keras_avb.layers.ResidualAdversary(units=16, num_blocks=1),
                kl_annealing_steps=4,
                seed=4,
                **kwargs,
            )
            model.compile(
                optimizer=keras.optimizers.Adam(3e-3),
                adversary_optimizer=keras.optimizers.Adam(3e-3),
            )
        history = model.fit(
            four_point_data(128), batch_size=32, epochs=2, shuffle=False, verbose=0
        )
        return model, history.history


    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert mirrored.num_replicas_in_sync == 2
    # With and without Adaptive Contrast (its moments come from extra noise
    # drawn per example), adversary steps before each generator step or not.
    for kwargs in (dict(adaptive_contrast=True), dict(adversary_steps=2)):
        single, single_history = run(tf.distribute.get_strategy(), **kwargs)
        parallel, parallel_history = run(mirrored, **kwargs)
        assert int(value(parallel.generator_optimizer.iterations)) == 8
        assert int(value(parallel.adversary_optimizer.iterations)) == 8 * (
            kwargs.get("adversary_steps") or 1
        )
        for key in ("adversarial_elbo", "adversary_loss"):
            np.testing.assert_allclose(
                parallel_history[key], single_history[key], rtol=1e-4, err_msg=key
            )
        for a, b in zip(single.weights, parallel.weights):
            np.testing.assert_allclose(value(b), value(a), rtol=1e-4, atol=1e-5)
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
