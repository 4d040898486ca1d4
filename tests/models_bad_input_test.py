"""Bad input gets a clear error that names the problem, before any training.

Covers the models' entry points: the constructors, `compile`, `fit` (data,
validation data and arguments), `evaluate`, `predict`, `encode`, `decode`
and `sample`, and the batch size of one. The evaluators, the VI samplers,
the exporters and the tuner have their own `*_bad_input_test.py` beside them.
"""

import math

import keras
import numpy as np
import pytest

import keras_avb
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_basis_noise_encoder
from keras_avb.testing import tiny_black_box_encoder
from keras_avb.testing import tiny_decoder


def compiled_avb(**kwargs):
    model = keras_avb.AVB(
        tiny_black_box_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        **kwargs,
    )
    model.compile()
    return model


def assert_not_trained(model):
    assert not model.optimizer.built or int(model.optimizer.iterations) == 0


@pytest.mark.parametrize(
    "data, message",
    [
        (np.where(np.eye(4)[[0, 1, 2, 3] * 4] > 0, np.nan, 0.0), "NaN or infinite"),
        (np.where(np.eye(4)[[0, 1, 2, 3] * 4] > 0, np.inf, 0.0), "NaN or infinite"),
        (np.zeros((16, 5), "float32"), r"shape \(5,\).*expects.*\(4,\)"),
        (np.full((16, 4), 0.5, "float32"), "binary"),
        (np.zeros((0, 4), "float32"), "empty"),
        (np.array([["a", "b", "c", "d"]] * 4), "must hold numbers"),
        (None, "None"),
        (np.eye(4)[[0, 1, 2, 3] * 4].astype("complex64"), "complex dtype"),
        (np.eye(4)[[0, 1, 2, 3] * 4].astype(object), "dtype object"),
        (np.eye(4)[[0, 1, 2, 3] * 4].tolist(), "nested Python list"),
        ({"x": four_point_data(16)}, "is a dict"),
        ("train.npy", "not a file name"),
        (1.0, "Received the number"),
        (np.ones(4, "float32"), r"batch axis.*shape \(4,\)"),
        (np.ones((16, 1, 4), "float32"), r"shape \(1, 4\).*expects.*\(4,\)"),
        ((np.eye(4)[[0, 1, 2, 3] * 4] * 255).astype("uint8"), "binary.*255"),
        (np.full((16, 4), 1e300), "beyond the float32 range"),
    ],
    ids=[
        "nan", "inf", "feature_shape", "non_binary", "empty", "strings", "none",
        "complex", "object", "nested_list", "dict", "file_name", "scalar",
        "no_batch_axis", "extra_axis", "uint8_0_255", "float64_overflow",
    ],
)
def test_bad_training_data_is_rejected_before_training(data, message):
    model = compiled_avb()
    with pytest.raises(ValueError, match=message):
        model.fit(data, epochs=1, verbose=0)
    assert_not_trained(model)


def test_bad_validation_data_is_rejected_before_training():
    model = compiled_avb()
    with pytest.raises(ValueError, match="validation_data.*shape"):
        model.fit(
            four_point_data(16), validation_data=(np.zeros((4, 3), "float32"),), verbose=0
        )
    assert_not_trained(model)


def test_bad_first_batch_of_a_dataset_is_rejected():
    if keras.backend.backend() == "torch":
        import torch

        data = torch.utils.data.DataLoader(
            torch.full((8, 4), float("nan")), batch_size=4
        )
    else:
        class Batches(keras.utils.PyDataset):
            def __len__(self):
                return 2

            def __getitem__(self, index):
                return np.full((4, 4), np.nan, "float32")

        data = Batches()
    model = compiled_avb()
    with pytest.raises(ValueError, match="first batch.*NaN"):
        model.fit(data, epochs=1, verbose=0)
    assert_not_trained(model)


def test_prior_of_another_latent_size_is_rejected():
    with pytest.raises(ValueError, match="latent codes of size 2.*latent_dim=3"):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            prior=keras_avb.distributions.StandardNormal(3),
        )


def test_decoder_of_another_latent_size_is_rejected():
    with pytest.raises(ValueError, match="decoder does not accept latent codes"):
        keras_avb.AVB(
            tiny_black_box_encoder(latent_dim=2),
            tiny_decoder(latent_dim=3),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        )


def test_adversary_of_another_latent_size_is_rejected():
    x, z = keras.Input((4,)), keras.Input((3,))
    h = keras.layers.Concatenate()([x, z])
    adversary = keras.Model([x, z], keras.layers.Dense(1)(h))
    with pytest.raises(ValueError, match="adversary does not accept.*z of size 2"):
        keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(), adversary)


def test_decoder_output_that_does_not_fit_the_data_is_rejected():
    with pytest.raises(ValueError, match="decoder outputs shape"):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(data_dim=5),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        )


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"adversary_steps": 0}, "adversary_steps"),
        ({"kl_annealing_steps": -1}, "kl_annealing_steps"),
        ({"likelihood": "poisson"}, "likelihood"),
    ],
)
def test_bad_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            **kwargs,
        )


def test_one_optimizer_for_both_players_is_rejected():
    model = keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )
    shared = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two different"):
        model.compile(optimizer=shared, adversary_optimizer=shared)
    with pytest.raises(ValueError, match="own losses"):
        model.compile(loss="mse")


# ----------------------------------------------------------------------
# Accepted dtypes: integers and booleans are cast to the model's float dtype.
# ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "uint8", "bool", "float16", "float64"])
def test_integer_boolean_and_other_float_dtypes_are_accepted(dtype):
    model = keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )
    model.compile(run_eagerly=True)  # one step: no need to compile it
    history = model.fit(four_point_data(4).astype(dtype), batch_size=4, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])


# ----------------------------------------------------------------------
# fit's other arguments
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": 0}, "`batch_size` must be an integer >= 1"),
        ({"batch_size": -1}, "`batch_size` must be an integer >= 1"),
        ({"batch_size": 2.5}, r"`batch_size`.*2\.5 \(of type float\)"),
        ({"batch_size": "4"}, r"`batch_size`.*of type str"),
        ({"epochs": 0}, "`epochs` must be an integer >= 1"),
        ({"epochs": -1}, "`epochs` must be an integer >= 1"),
        ({"epochs": 1.5}, "`epochs` must be an integer"),
        ({"epochs": 2, "initial_epoch": 2}, "greater than `initial_epoch`"),
        ({"validation_split": 1.5}, "`validation_split`"),
        ({"validation_split": -0.1}, "`validation_split`"),
        ({"validation_split": 1.0}, r"`validation_split` must be in \[0, 1\)"),
        (
            {"validation_split": 0.25, "validation_data": (four_point_data(4),)},
            "either `validation_split` or `validation_data`",
        ),
        ({"steps_per_epoch": 0}, "`steps_per_epoch`"),
    ],
)
def test_bad_fit_arguments_are_rejected_before_training(kwargs, message):
    model = compiled_avb()
    with pytest.raises(ValueError, match=message):
        model.fit(four_point_data(16), verbose=0, **kwargs)
    assert_not_trained(model)


def test_fit_before_compile_says_to_compile():
    model = keras_avb.AVB(
        tiny_black_box_encoder(), tiny_decoder(), keras_avb.layers.ResidualAdversary(8, 1)
    )
    with pytest.raises(ValueError, match=r"Call `model.compile\(\)` before"):
        model.fit(four_point_data(16), verbose=0)


# ----------------------------------------------------------------------
# Validation data that does not match the training data
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "validation_data, message",
    [
        (np.zeros((4, 3), "float32"), r"`validation_data` has examples of shape \(3,\)"),
        (
            (np.zeros((4, 3), "float32"), np.zeros(4, "float32")),
            r"`validation_data` has examples of shape \(3,\)",
        ),
        ((np.zeros((4, 2, 2), "float32"),), r"shape \(2, 2\).*expects.*\(4,\)"),
        ((np.full((4, 4), 0.5, "float32"),), "`validation_data` must be binary"),
        ((np.full((4, 4), np.nan, "float32"),), "`validation_data` contains 16 NaN"),
        ((np.zeros((0, 4), "float32"),), "`validation_data` is empty"),
        ((np.array([["a"] * 4] * 4),), "`validation_data` must hold numbers"),
        (([[0.0, 1.0, 0.0, 0.0]],), "nested Python list"),
    ],
    ids=[
        "bare_array", "x_y_tuple", "rank", "non_binary", "nan", "empty", "strings",
        "nested_list",
    ],
)
def test_mismatched_validation_data_is_rejected_before_training(validation_data, message):
    model = compiled_avb()
    with pytest.raises(ValueError, match=message):
        model.fit(four_point_data(16), validation_data=validation_data, verbose=0)
    assert_not_trained(model)


def _batches(array, batch_size):
    """A data set of `array` in the active backend's native form."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(array).batch(batch_size)
    if backend == "torch":
        import torch

        return torch.utils.data.DataLoader(torch.as_tensor(array), batch_size=batch_size)

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return -(-len(array) // batch_size)

        def __getitem__(self, index):
            return array[index * batch_size : (index + 1) * batch_size]

    return Batches()


def test_validation_data_set_of_the_wrong_shape_is_rejected():
    model = compiled_avb()
    with pytest.raises(ValueError, match=r"first batch of `validation_data`.*shape \(3,\)"):
        model.fit(
            four_point_data(16),
            validation_data=_batches(np.zeros((8, 3), "float32"), 4),
            verbose=0,
        )
    assert_not_trained(model)


def test_training_data_set_of_the_wrong_shape_is_rejected():
    model = compiled_avb()
    with pytest.raises(ValueError, match=r"first batch of `x`.*shape \(5,\)"):
        model.fit(_batches(np.zeros((8, 5), "float32"), 4), verbose=0)
    assert_not_trained(model)


# ----------------------------------------------------------------------
# evaluate, predict, encode, decode, sample
# ----------------------------------------------------------------------
BAD_EXAMPLES = [
    (np.full((4, 4), np.nan, "float32"), "NaN or infinite"),
    (np.zeros((4, 5), "float32"), r"shape \(5,\).*expects.*\(4,\)"),
    (np.zeros((0, 4), "float32"), "empty"),
    (np.array([["a"] * 4] * 4), "must hold numbers"),
    (np.zeros((4, 4), "complex64"), "complex dtype"),
    (None, "None"),
]
BAD_EXAMPLE_IDS = ["nan", "shape", "empty", "strings", "complex", "none"]


@pytest.mark.parametrize("x, message", BAD_EXAMPLES, ids=BAD_EXAMPLE_IDS)
def test_evaluate_rejects_bad_data(x, message):
    with pytest.raises(ValueError, match=message):
        compiled_avb().evaluate(x, verbose=0)


def test_evaluate_rejects_non_binary_data_and_bad_batch_size():
    model = compiled_avb()
    with pytest.raises(ValueError, match="binary"):
        model.evaluate(np.full((4, 4), 0.5, "float32"), verbose=0)
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        model.evaluate(four_point_data(8), batch_size=0, verbose=0)


@pytest.mark.parametrize("method", ["predict", "encode"])
@pytest.mark.parametrize("x, message", BAD_EXAMPLES, ids=BAD_EXAMPLE_IDS)
def test_predict_and_encode_reject_bad_data(method, x, message):
    model = compiled_avb()
    kwargs = {"verbose": 0} if method == "predict" else {}
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(x, **kwargs)


def test_predict_and_encode_accept_grey_values():
    # A Bernoulli model can still encode non-binary inputs (e.g. mean images);
    # only the log-likelihood needs binary data.
    model = compiled_avb()
    x = np.full((4, 4), 0.5, "float32")
    assert model.predict(x, verbose=0).shape == (4, 4)
    assert tuple(model.encode(x).shape) == (4, 2)


def test_calling_the_model_on_the_wrong_shape_names_it():
    with pytest.raises(ValueError, match=r"shape \(5,\).*expects.*\(4,\)"):
        compiled_avb()(np.zeros((2, 5), "float32"))


@pytest.mark.parametrize(
    "z, message",
    [
        (np.zeros((3, 5), "float32"), r"`z` has examples of shape \(5,\).*\(2,\)"),
        (np.full((3, 2), np.inf, "float32"), "`z` contains 6 NaN or infinite"),
        (np.zeros(2, "float32"), "batch axis"),
        (None, "`z` is None"),
    ],
)
def test_decode_rejects_bad_latent_codes(z, message):
    with pytest.raises(ValueError, match=message):
        compiled_avb().decode(z)


@pytest.mark.parametrize("num_samples", [0, -1, 2.5, "3", None])
def test_sample_rejects_bad_counts(num_samples):
    with pytest.raises(ValueError, match="`num_samples` must be an integer >= 1"):
        compiled_avb().sample(num_samples)


# ----------------------------------------------------------------------
# Constructors and compile
# ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"moment_samples": 1}, "`moment_samples` must be an integer >= 2"),
        ({"moment_samples": 2.5}, "`moment_samples`.*of type float"),
        ({"kl_annealing_steps": 2.5}, "`kl_annealing_steps`.*of type float"),
        ({"kl_annealing_steps": None}, "`kl_annealing_steps`"),
        ({"contrast_epsilon": -1.0}, "`contrast_epsilon` must be a finite number >= 0"),
        ({"contrast_epsilon": float("nan")}, "`contrast_epsilon`"),
        ({"noise_shape": (0,)}, "`noise_shape entries` must be an integer >= 1"),
        ({"noise_shape": "3"}, "`noise_shape` must be a tuple of positive integers"),
        ({"seed": "a"}, "`seed` must be None, an integer >= 0"),
        ({"seed": -1}, "`seed` must be None, an integer >= 0"),
        ({"adversary_steps": 1.5}, "`adversary_steps`"),
    ],
)
def test_bad_avb_options_are_rejected(kwargs, message):
    with pytest.raises(ValueError, match=message):
        keras_avb.AVB(
            tiny_black_box_encoder(),
            tiny_decoder(),
            keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
            **kwargs,
        )


@pytest.mark.parametrize("missing", ["encoder", "decoder", "adversary"])
def test_missing_networks_are_named(missing):
    networks = {
        "encoder": tiny_black_box_encoder(),
        "decoder": tiny_decoder(),
        "adversary": keras_avb.layers.ResidualAdversary(8, 1),
    }
    networks[missing] = None
    with pytest.raises(ValueError, match=f"`{missing}` must be a Keras layer or model"):
        keras_avb.AVB(**networks)


def tiny_vae():
    x_in = keras.Input((4,))
    h = keras.layers.Dense(8, activation="elu")(x_in)
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    return keras_avb.VAE(encoder, tiny_decoder())


def test_vae_rejects_bad_options_a_loss_and_bad_data():
    with pytest.raises(ValueError, match="`encoder` must be a Keras layer or model"):
        keras_avb.VAE(None, tiny_decoder())
    with pytest.raises(ValueError, match="`kl_annealing_steps`"):
        keras_avb.VAE(tiny_vae().encoder, tiny_decoder(), kl_annealing_steps=-1)
    model = tiny_vae()
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="computes its own loss.*do not pass `loss`"):
        model.fit(four_point_data(16), verbose=0)
    assert_not_trained(model)
    model = tiny_vae()
    model.compile(optimizer="adam")
    for x, message in BAD_EXAMPLES[:4]:
        with pytest.raises(ValueError, match=message):
            model.fit(x, verbose=0)
    with pytest.raises(ValueError, match="`batch_size` must be an integer >= 1"):
        model.fit(four_point_data(16), batch_size=0, verbose=0)
    assert_not_trained(model)


# ----------------------------------------------------------------------
# A batch size of one
# ----------------------------------------------------------------------
@pytest.mark.parametrize("adaptive_contrast", [False, True])
def test_avb_with_a_black_box_encoder_trains_with_batch_size_one(adaptive_contrast):
    # The black-box encoder's AC moments come from `moment_samples` draws per
    # example, not from the batch, so a batch of one is fine.
    model = compiled_avb(adaptive_contrast=adaptive_contrast)
    history = model.fit(four_point_data(4), batch_size=1, verbose=0)
    assert int(model.optimizer.iterations) == 4
    for key in ("loss", "adversary_loss", "kl", "adversarial_elbo"):
        assert all(math.isfinite(v) for v in history.history[key]), key


def test_vae_trains_with_batch_size_one():
    model = tiny_vae()
    model.compile(optimizer="adam")
    history = model.fit(four_point_data(4), batch_size=1, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])


def basis_noise_avb(adaptive_contrast=True):
    model = keras_avb.AVB(
        tiny_basis_noise_encoder(),
        tiny_decoder(),
        keras_avb.layers.ResidualAdversary(units=8, num_blocks=1),
        adaptive_contrast=adaptive_contrast,
    )
    model.compile()
    return model


@pytest.mark.parametrize(
    "num_examples, batch_size, message",
    [
        (16, 1, "batches of one example"),
        (1, None, "batches of one example"),
        (17, 8, r"last batch of `x` would hold one example \(17 examples"),
    ],
    ids=["batch_size_1", "one_example", "last_batch_of_one"],
)
def test_basis_noise_encoder_rejects_batches_of_one(num_examples, batch_size, message):
    # Its moments are batch statistics: with one example the variance is 0.
    model = basis_noise_avb()
    with pytest.raises(ValueError, match=message + ".*BasisNoiseEncoder"):
        model.fit(four_point_data(num_examples), batch_size=batch_size, verbose=0)
    assert_not_trained(model)


def test_basis_noise_encoder_rejects_batches_of_one_elsewhere():
    model = basis_noise_avb()
    with pytest.raises(ValueError, match="BasisNoiseEncoder"):
        model.evaluate(four_point_data(8), batch_size=1, verbose=0)
    # (A DataLoader's batch size is read from it; other data sets are peeked.)
    with pytest.raises(
        ValueError,
        match="first batch of `x` holds one example|`x` would be processed in batches of one",
    ):
        model.fit(_batches(four_point_data(4), 1), verbose=0)
    with pytest.raises(ValueError, match="`validation_data` would be processed in batches of one"):
        model.fit(four_point_data(8), validation_data=(four_point_data(1),), verbose=0)
    # With a validation split, the batches are those of the training part:
    # ceil(18 * 0.5) = 9 examples in batches of 8 leave a last batch of one.
    with pytest.raises(ValueError, match=r"\(9 examples in batches of 8\)"):
        model.fit(four_point_data(18), batch_size=8, validation_split=0.5, verbose=0)
    assert_not_trained(model)


def test_basis_noise_encoder_trains_with_batches_of_two():
    model = basis_noise_avb()
    history = model.fit(four_point_data(4), batch_size=2, verbose=0)
    for key in ("loss", "adversary_loss", "kl", "adversarial_elbo"):
        assert all(math.isfinite(v) for v in history.history[key]), key


# ----------------------------------------------------------------------
# One input, no labels: a tuple `x` is rejected, labels are ignored loudly
# ----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
@pytest.mark.parametrize(
    "make_x, message",
    [
        (
            lambda x: (x, np.arange(len(x))),
            r"`x` is a tuple of 2 elements, which Keras reads as 2 model inputs.*"
            r"pass the data alone: `model\.{method}\(data\)`",
        ),
        (lambda x: [x, x], "`x` is a list of 2 elements, which Keras reads as 2"),
        (lambda x: (x,), r"`x` is a tuple of 1 element.*`model\.{method}\(x\[0\]\)`"),
    ],
    ids=["x_y_tuple", "list_of_arrays", "one_tuple"],
)
def test_tuple_or_list_of_arrays_as_x_is_rejected(method, make_x, message):
    # Keras reads a tuple `x` as several inputs; before this check, `fit`
    # failed inside Keras ("'tuple' object has no attribute 'shape'", or a
    # dtype TypeError on TensorFlow).
    model = compiled_avb()
    with pytest.raises(ValueError, match=message.format(method=method)):
        getattr(model, method)(make_x(four_point_data(16)), verbose=0)
    assert_not_trained(model)


def _ignored_warnings(record, what):
    return [w for w in record if issubclass(w.category, UserWarning) and what in str(w.message)]


def test_labels_are_ignored_with_one_warning_per_call():
    # One model throughout, batches of 8: its compiled steps are reused.
    x, y = four_point_data(16), np.array(["a", "b"] * 8)  # labels of any kind
    model = compiled_avb()
    with pytest.warns(UserWarning) as record:
        history = model.fit(
            x, y, batch_size=8, epochs=2, validation_data=(x, np.arange(16)), verbose=0
        )
    # One warning each for the call, not one per epoch, batch or validation.
    assert len(_ignored_warnings(record, "`y` is ignored: AVB is unsupervised")) == 1
    assert len(_ignored_warnings(record, "labels in `validation_data`")) == 1
    assert len(_ignored_warnings(record, "ignored")) == 2
    assert int(model.optimizer.iterations) == 4  # and it trained
    assert len(history.history["val_loss"]) == 2
    with pytest.warns(UserWarning) as record:
        model.fit(x, sample_weight=np.ones(16), batch_size=8, verbose=0)
    assert len(_ignored_warnings(record, "`sample_weight` is ignored")) == 1
    with pytest.warns(UserWarning) as record:
        logs = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    assert len(_ignored_warnings(record, "`y` is ignored")) == 1
    assert math.isfinite(logs["loss"])

    class LabelledBatches(keras.utils.PyDataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            return four_point_data(8, seed=index), np.zeros(8)

    with pytest.warns(UserWarning, match="labels in the batches of `x` are ignored"):
        model.fit(LabelledBatches(), verbose=0)
    # Data without labels: no such warning.
    import warnings

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        model.fit(x, batch_size=8, validation_data=(x,), verbose=0)
        model.evaluate(x, batch_size=8, verbose=0)
    assert not _ignored_warnings(record, "ignored")


# ----------------------------------------------------------------------
# A last batch of one in a data set (basis-noise encoders)
# ----------------------------------------------------------------------
def _loader(num_examples, batch_size, **kwargs):
    torch = pytest.importorskip("torch")
    # Keras takes a torch DataLoader under every backend (batches `(x,)`).
    dataset = torch.utils.data.TensorDataset(torch.as_tensor(four_point_data(num_examples)))
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"num_examples": 17, "batch_size": 8},
            r"last batch of `x` would hold one example \(a DataLoader of 17 "
            r"examples in batches of 8, drop_last=False\).*drop_last=True",
        ),
        ({"num_examples": 16, "batch_size": 1}, "`x` would be processed in batches of one"),
        (
            {"num_examples": 32, "batch_size": 4, "sampler": list(range(9))},
            r"last batch.*\(a DataLoader of 9 examples in batches of 4",
        ),
    ],
    ids=["last_batch_of_one", "batch_size_1", "sampler_of_9"],
)
def test_basis_noise_encoder_rejects_a_data_loader_with_a_batch_of_one(kwargs, message):
    # The DataLoader's batch_size, sampler length and drop_last say it
    # without loading data; before, only its first batch was checked.
    model = basis_noise_avb()
    with pytest.raises(ValueError, match=message) as error:
        model.fit(_loader(**kwargs), verbose=0)
    assert "BasisNoiseEncoder estimates the moments" in str(error.value)
    with pytest.raises(ValueError, match=message.replace("`x`", "`validation_data`")):
        model.fit(four_point_data(8), validation_data=_loader(**kwargs), verbose=0)
    assert_not_trained(model)


def test_basis_noise_encoder_trains_on_a_data_loader_that_drops_the_last_batch():
    model = basis_noise_avb()
    model.fit(_loader(17, 8, drop_last=True), verbose=0)
    assert int(model.optimizer.iterations) == 2


def test_basis_noise_encoder_rejects_a_py_dataset_whose_last_batch_holds_one():
    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 3

        def __getitem__(self, index):
            return four_point_data(8 if index < 2 else 1, seed=index)

    model = basis_noise_avb()
    with pytest.raises(ValueError, match=r"last batch of `x` \(batch 3 of 3\) holds one"):
        model.fit(Batches(), verbose=0)
    with pytest.raises(ValueError, match=r"last batch of `x` \(batch 3 of 3\) holds one"):
        model.evaluate(Batches(), verbose=0)
    assert_not_trained(model)


def test_a_last_batch_of_one_is_an_error_only_if_training_reaches_it():
    # 17 examples in batches of 8: batches 8, 8, 1. With steps_per_epoch the
    # check used to be skipped, though 3 steps do reach the batch of one.
    model = basis_noise_avb()
    with pytest.raises(ValueError, match=r"\(17 examples in batches of 8\)"):
        model.fit(four_point_data(17), batch_size=8, steps_per_epoch=3, verbose=0)
    with pytest.raises(ValueError, match=r"\(17 examples in batches of 8\)"):
        model.fit(four_point_data(17), batch_size=8, steps_per_epoch=1, epochs=3, verbose=0)
    assert_not_trained(model)
    model.fit(four_point_data(17), batch_size=8, steps_per_epoch=2, verbose=0)
    assert int(model.optimizer.iterations) == 2


def test_the_suggested_batch_size_leaves_no_batch_of_one():
    # 21 examples: batches of 4 and of 5 both leave one; 6 does not.
    with pytest.raises(ValueError, match=r"e\.g\. batch size 6\)"):
        basis_noise_avb().fit(four_point_data(21), batch_size=4, verbose=0)
