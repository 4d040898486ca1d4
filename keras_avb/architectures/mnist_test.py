import json
import os

import keras
import numpy as np
import pytest
from absl.testing import parameterized
from keras import ops

import keras_avb
from keras_avb.architectures.mnist import MnistAdversary
from keras_avb.architectures.mnist import build_mnist_model
from keras_avb.architectures.mnist import default_num_bases
from keras_avb.architectures.mnist import mnist_avb_encoder
from keras_avb.architectures.mnist import mnist_decoder
from keras_avb.architectures.mnist import mnist_vae_encoder
from keras_avb.testing.layer_test_case import TestCase
from keras_avb.testing.model_saving import run_model_saving_test

TINY = dict(
    hidden_units=(16,),
    conv_filters=(2, 2, 2),
    conv_units=8,
    noise_units=(8,),
    num_bases=3,
    noise_dim=4,
    decoder_units=(16,),
    decoder_filters=1,
    adversary_units=8,
    adversary_depth=1,
    adversary_side_units=4,
    adversary_side_depth=1,
)


def _images(n=8, seed=0):
    return (np.random.default_rng(seed).random((n, 784)) < 0.3).astype("float32")


@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_encoders_and_decoders_have_the_papers_shapes(architecture):
    x = _images(6)
    encoder = mnist_avb_encoder(
        architecture, latent_dim=8, hidden_units=(16,), conv_filters=(2, 2, 2),
        conv_units=8, noise_units=(8,),
    )
    # m = 16 bases of 64 noise entries for an 8-dim latent space.
    assert tuple(encoder.inputs[1].shape) == (None, 16 * 64)
    eps = np.random.default_rng(1).standard_normal((6, 16 * 64)).astype("float32")
    z, mean, variance = (ops.convert_to_numpy(t) for t in encoder([x, eps]))
    assert z.shape == mean.shape == variance.shape == (6, 8)
    assert np.all(variance > 0)
    mean_vae, log_var = mnist_vae_encoder(
        architecture, latent_dim=8, hidden_units=(16,), conv_filters=(2, 2, 2), conv_units=8
    )(x)
    assert tuple(mean_vae.shape) == tuple(log_var.shape) == (6, 8)
    logits = mnist_decoder(architecture, latent_dim=8, hidden_units=(16,), base_filters=1)(z)
    assert tuple(logits.shape) == (6, 784)
    assert default_num_bases(32) == 32


def test_conv_features_are_three_stride_two_convolutions():
    encoder = mnist_vae_encoder("conv", latent_dim=2)
    convs = [l for l in encoder.layers if isinstance(l, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [16, 32, 32]
    assert all(c.strides == (2, 2) and c.kernel_size == (5, 5) for c in convs)
    assert encoder.get_layer("encoder_dense").units == 800
    decoder = mnist_decoder("conv", latent_dim=2)
    # 5 layers: dense, three transposed convolutions, the logits.
    weighted = [l for l in decoder.layers if l.weights]
    assert len(weighted) == 5


def test_adversary_adds_the_x_and_z_networks_and_round_trips():
    adversary = MnistAdversary(units=8, depth=2, side_units=4, side_depth=1)
    x, z = _images(5), np.random.default_rng(2).standard_normal((5, 3)).astype("float32")
    t = ops.convert_to_numpy(adversary([x, z]))
    assert t.shape == (5,)
    xc = 2 * x - 1
    parts = (
        adversary.joint_network(np.concatenate([xc, z], axis=-1)),
        adversary.x_network(xc),
        adversary.z_network(z),
    )
    expected = sum(ops.convert_to_numpy(p)[:, 0] for p in parts)
    np.testing.assert_allclose(t, expected, rtol=1e-4, atol=1e-5)
    assert len(adversary.joint_network.layers) == 3 and len(adversary.x_network.layers) == 2
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(adversary)
    )
    assert (clone.units, clone.depth, clone.side_units, clone.side_depth) == (8, 2, 4, 1)
    clone([x, z])
    clone.set_weights(adversary.get_weights())
    np.testing.assert_allclose(ops.convert_to_numpy(clone([x, z])), t, rtol=1e-5, atol=1e-6)


@keras.saving.register_keras_serializable(package="keras_avb_test")
def half_softsign(x):
    return 0.5 * ops.softsign(x)


@pytest.mark.parametrize("activation", [half_softsign, "elu"], ids=["callable", "name"])
def test_adversary_activation_round_trips_through_a_json_config(activation):
    adversary = MnistAdversary(units=4, depth=1, activation=activation)
    config = json.loads(json.dumps(adversary.get_config()))
    clone = MnistAdversary.from_config(config)
    assert clone.activation is keras.activations.get(activation)
    assert clone.joint_network.layers[0].activation is clone.activation
    assert clone.get_config() == config

@pytest.mark.parametrize(
    "kind,architecture", [("avb", "mlp"), ("avb_ac", "conv"), ("vae", "mlp")]
)
def test_build_train_one_step_and_save(kind, architecture, tmp_path):
    model = build_mnist_model(kind, latent_dim=4, architecture=architecture, seed=0, **TINY)
    assert isinstance(model, keras_avb.VAE if kind == "vae" else keras_avb.AVB)
    if kind != "vae":
        assert model.adaptive_contrast == (kind == "avb_ac")
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), adversary_optimizer=keras.optimizers.Adam(1e-3)
        )
    else:
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x = _images(16)
    before = [ops.convert_to_numpy(v).copy() for v in model.decoder.trainable_variables]
    history = model.fit(x, batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["elbo" if kind == "vae" else "adversarial_elbo"][0])
    after = [ops.convert_to_numpy(v) for v in model.decoder.trainable_variables]
    assert any(not np.allclose(b, a) for b, a in zip(before, after))
    if kind != "vae":
        assert model.adversary.trainable_variables
    run_model_saving_test(model, os.path.join(tmp_path, "model.keras"), x)


def test_mixed_architectures_and_bad_arguments():
    model = build_mnist_model(
        "vae", latent_dim=2, architecture="conv", decoder_architecture="mlp", **TINY
    )
    assert any(isinstance(l, keras.layers.Conv2D) for l in model.encoder.layers)
    assert not any(isinstance(l, keras.layers.Conv2DTranspose) for l in model.decoder.layers)
    with pytest.raises(ValueError, match="kind"):
        build_mnist_model("iwae")
    with pytest.raises(ValueError, match="architecture"):
        build_mnist_model("vae", architecture="resnet")


def test_full_covariance_contrast_trains_saves_and_evaluates(tmp_path):
    from keras_avb.evaluation import posterior_moments

    model = build_mnist_model(
        "avb_ac", latent_dim=3, seed=0, contrast_covariance="full", **TINY
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  adversary_optimizer=keras.optimizers.Adam(1e-3))
    x = _images(16)
    _, mean, covariance = model.posterior(ops.convert_to_tensor(x))
    assert tuple(covariance.shape) == (16, 3, 3)
    history = model.fit(x, batch_size=8, epochs=1, verbose=0)
    assert all(np.isfinite(history.history[key][0]) for key in ("adversarial_elbo", "kl", "loss"))
    # The evaluators start from the diagonal of the covariance.
    moments_mean, moments_variance = posterior_moments(model, x[:4])
    assert moments_mean.shape == moments_variance.shape == (4, 3)
    assert np.all(np.isfinite(moments_variance)) and np.all(moments_variance > 0)
    restored = run_model_saving_test(model, os.path.join(tmp_path, "full.keras"), x)
    assert restored.encoder.get_layer("basis_noise").covariance == "full"
    with pytest.raises(ValueError, match="needs Adaptive Contrast"):
        build_mnist_model("avb", contrast_covariance="full", **TINY)
    with pytest.raises(ValueError, match="contrast_covariance"):
        build_mnist_model("avb_ac", contrast_covariance="banded", **TINY)


class MnistAdversaryLayerTest(TestCase):
    """Keras' own layer harness, mixed precision included."""

    @parameterized.named_parameters(
        ("plain", False),
        ("squared_norm", True),
    )
    def test_layer_harness(self, add_squared_norm):
        self.run_layer_test(
            MnistAdversary,
            {
                "units": 8,
                "depth": 1,
                "side_units": 4,
                "side_depth": 1,
                "add_squared_norm": add_squared_norm,
            },
            input_shape=((4, 784), (4, 3)),
            expected_output_shape=(4,),
            expected_output_dtype="float32",
            # Joint, x and z networks: one hidden and one output Dense each.
            expected_num_trainable_weights=3 * 2 * 2,
            expected_num_non_trainable_weights=0,
            expected_num_seed_generators=0,
            expected_num_losses=0,
            supports_masking=False,
        )
