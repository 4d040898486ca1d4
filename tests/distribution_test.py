"""AVB under keras.distribution.DataParallel on two simulated JAX CPU devices.

The run happens in a subprocess, since XLA fixes the number of host devices
when JAX starts; it compares two epochs of data-parallel training with the
same two epochs on one device (same seed, same unshuffled batches).
"""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent(
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


@pytest.mark.skipif(
    importlib.util.find_spec("jax") is None, reason="not installed: jax"
)
def test_jax_data_parallel_matches_single_device_training(tmp_path):
    env = dict(
        os.environ,
        KERAS_BACKEND="jax",
        XLA_FLAGS="--xla_force_host_platform_device_count=2",
        JAX_PLATFORMS="cpu",
    )
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("OK")
