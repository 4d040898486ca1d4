"""A shared model-saving check for the package's models, as KerasHub has one.

`run_model_saving_test(model, path, x)` saves a model to a `.keras` file,
loads it back and checks what a user relies on when resuming: the same
class, the same weights and optimizer state (both players' moments and
step counts), the same noise stream, and the same `evaluate` results on
`x`. It returns the loaded model, so a test can go on training it.

Example:

>>> import keras, keras_avb, os, tempfile
>>> from keras_avb.testing import four_point_data, tiny_decoder
>>> x_in = keras.Input((4,))
>>> encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(2)(x_in)])
>>> model = keras_avb.VAE(encoder, tiny_decoder(), seed=1)
>>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
>>> _ = model.fit(four_point_data(32), batch_size=16, verbose=0)
>>> path = os.path.join(tempfile.mkdtemp(), "vae.keras")
>>> loaded = run_model_saving_test(model, path, four_point_data(32))
>>> int(loaded.optimizer.iterations)
2
"""

import keras
import numpy as np
from keras import ops


def _numpy(variables):
    return [ops.convert_to_numpy(v) for v in variables]


def _assert_equal_values(expected, actual, what):
    assert len(expected) == len(actual), f"{what}: {len(actual)} != {len(expected)} variables"
    for a, b in zip(expected, actual):
        np.testing.assert_array_equal(a, b, err_msg=what)


def run_model_saving_test(model, path, x, rtol=1e-5):
    """Saves `model` to `path`, loads it and checks that nothing was lost.

    Args:
        model: a built (and, to check optimizer state, compiled) model of
            the package.
        path: a file path ending in `.keras`.
        x: data for `evaluate`; None skips the comparison of metrics.
        rtol: relative tolerance of the `evaluate` results (the same state
            and noise give the same numbers up to float rounding of the
            compiled functions).

    Returns:
        The loaded model.
    """
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded) is type(model), f"loaded a {type(loaded)}, saved a {type(model)}"
    _assert_equal_values(_numpy(model.weights), _numpy(loaded.weights), "weights")
    if getattr(model, "optimizer", None) is not None and model.optimizer.built:
        _assert_equal_values(
            _numpy(model.optimizer.variables),
            _numpy(loaded.optimizer.variables),
            "optimizer variables",
        )
    if hasattr(model, "seed_generator"):
        np.testing.assert_array_equal(
            ops.convert_to_numpy(loaded.seed_generator.state),
            ops.convert_to_numpy(model.seed_generator.state),
            err_msg="noise stream",
        )
    if x is not None:
        expected = model.evaluate(x, verbose=0, return_dict=True)
        actual = loaded.evaluate(x, verbose=0, return_dict=True)
        assert sorted(actual) == sorted(expected)
        np.testing.assert_allclose(
            [actual[k] for k in sorted(expected)],
            [expected[k] for k in sorted(expected)],
            rtol=rtol,
        )
    return loaded
