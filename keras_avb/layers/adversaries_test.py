import json

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops

from keras_avb.layers.adversaries import InnerProductAdversary
from keras_avb.layers.adversaries import ResidualAdversary
from keras_avb.testing.layer_test_case import TestCase


@pytest.mark.parametrize(
    "adversary",
    [
        lambda: InnerProductAdversary(hidden_units=(8, 8), embedding_dim=4),
        lambda: ResidualAdversary(units=8, num_blocks=2),
    ],
)
def test_one_logit_per_example_on_image_data(adversary):
    adversary = adversary()
    t = adversary([np.ones((3, 2, 2), "float32"), np.ones((3, 5), "float32")])
    assert tuple(t.shape) == (3,)
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(adversary)
    )
    clone([np.ones((3, 2, 2), "float32"), np.ones((3, 5), "float32")])
    clone.set_weights(adversary.get_weights())
    x, z = np.random.rand(3, 2, 2).astype("float32"), np.random.rand(3, 5).astype("float32")
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone([x, z])), ops.convert_to_numpy(adversary([x, z])), rtol=1e-5
    )


def test_squared_norm_term_is_added():
    plain = ResidualAdversary(units=4, num_blocks=1)
    with_norm = ResidualAdversary(units=4, num_blocks=1, add_squared_norm=True)
    x, z = np.ones((2, 3), "float32"), np.array([[1.0, 2.0], [0.0, 3.0]], "float32")
    plain([x, z])
    with_norm([x, z])
    with_norm.set_weights(plain.get_weights())
    difference = ops.convert_to_numpy(with_norm([x, z]) - plain([x, z]))
    np.testing.assert_allclose(difference, [2.5, 4.5], rtol=1e-5)


def test_residual_adversary_has_weights_in_every_block():
    adversary = ResidualAdversary(units=4, num_blocks=3)
    adversary([np.ones((1, 2), "float32"), np.ones((1, 2), "float32")])
    # input + 3 blocks of 2 dense layers + output, each with kernel and bias.
    assert len(adversary.trainable_weights) == 2 * (1 + 6 + 1)



@keras.saving.register_keras_serializable(package="keras_avb_test")
def scaled_tanh(x):
    return 2.0 * ops.tanh(x)


ADVERSARIES = [
    (InnerProductAdversary, {"hidden_units": (4,), "embedding_dim": 3}),
    (ResidualAdversary, {"units": 4, "num_blocks": 1}),
]


@pytest.mark.parametrize("cls, kwargs", ADVERSARIES, ids=["inner_product", "residual"])
@pytest.mark.parametrize(
    "activation",
    [scaled_tanh, keras.activations.gelu, "relu"],
    ids=["registered_callable", "keras_callable", "name"],
)
def test_activation_round_trips_through_a_json_config(cls, kwargs, activation):
    adversary = cls(activation=activation, **kwargs)
    config = json.loads(json.dumps(adversary.get_config()))
    clone = cls.from_config(config)
    assert clone.activation is keras.activations.get(activation)
    assert clone.get_config() == config
    x, z = np.random.rand(3, 2).astype("float32"), np.random.rand(3, 2).astype("float32")
    adversary([x, z])
    clone([x, z])
    clone.set_weights(adversary.get_weights())
    np.testing.assert_allclose(
        ops.convert_to_numpy(clone([x, z])), ops.convert_to_numpy(adversary([x, z])), rtol=1e-6
    )


def test_activation_names_saved_before_still_load():
    clone = ResidualAdversary.from_config(
        {**ResidualAdversary(units=4, num_blocks=1).get_config(), "activation": "tanh"}
    )
    assert clone.activation is keras.activations.tanh


@pytest.mark.parametrize("cls, kwargs", ADVERSARIES, ids=["inner_product", "residual"])
def test_unknown_data_shape_is_rejected(cls, kwargs):
    with pytest.raises(ValueError, match="The adversary needs a fully known data shape"):
        cls(**kwargs).build(((None, None, 3), (None, 2)))

class AdversaryLayerTest(TestCase):
    """Keras' own layer harness, mixed precision included."""

    @parameterized.named_parameters(
        ("plain", False),
        ("squared_norm", True),
    )
    def test_residual_adversary_layer_harness(self, add_squared_norm):
        self.run_layer_test(
            ResidualAdversary,
            {"units": 8, "num_blocks": 2, "add_squared_norm": add_squared_norm},
            input_shape=((4, 2, 3), (4, 2)),
            expected_output_shape=(4,),
            expected_output_dtype="float32",
            # input, 2 blocks of 2 dense layers and output: kernel and bias.
            expected_num_trainable_weights=2 * (1 + 4 + 1),
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )

    @parameterized.named_parameters(
        ("plain", False),
        ("squared_norm", True),
    )
    def test_inner_product_adversary_layer_harness(self, add_squared_norm):
        self.run_layer_test(
            InnerProductAdversary,
            {"hidden_units": (8,), "embedding_dim": 4, "add_squared_norm": add_squared_norm},
            # Integer data (e.g. uint8 images) is cast by the adversary.
            input_shape=((4, 3), (4, 2)),
            input_dtype=("int32", "float32"),
            expected_output_shape=(4,),
            expected_output_dtype="float32",
            # x- and z-networks of one layer each, and two embeddings.
            expected_num_trainable_weights=2 * (1 + 1 + 2),
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )
