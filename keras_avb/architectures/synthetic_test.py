"""Tests of the synthetic experiment's networks: shapes, widths per variant, errors.

The shared wording of the bad-variant error is tested for
`synthetic_decoder` in `keras_avb/utils/validation_test.py`.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_avb.architectures import synthetic
from keras_avb.layers import InnerProductAdversary
from keras_avb.layers import ResidualAdversary

#: Hidden widths of each variant, as the module docstring states them.
WIDTHS = {"notebook": [64, 64, 64], "paper": [512, 512]}


def _dense_units(model, prefix):
    return [
        layer.units
        for layer in model.layers
        if isinstance(layer, keras.layers.Dense) and layer.name.startswith(prefix + "_dense")
    ]


def _inputs(n=5, data_dim=4, width=64, seed=0):
    rng = np.random.default_rng(seed)
    return (
        rng.integers(0, 2, size=(n, data_dim)).astype("float32"),
        rng.normal(size=(n, width)).astype("float32"),
    )


def test_notebook_networks_with_other_sizes():
    sizes = dict(data_dim=6, latent_dim=3, activation="tanh")
    encoder = synthetic.synthetic_avb_encoder("notebook", noise_dim=5, **sizes)
    assert [tuple(t.shape) for t in encoder.inputs] == [(None, 6), (None, 5)]
    assert tuple(encoder.output.shape) == (None, 3)
    vae_encoder = synthetic.synthetic_vae_encoder("notebook", **sizes)
    assert [tuple(t.shape) for t in vae_encoder.inputs] == [(None, 6)]
    assert [tuple(t.shape) for t in vae_encoder.outputs] == [(None, 3), (None, 3)]
    decoder = synthetic.synthetic_decoder("notebook", **sizes)
    assert [tuple(t.shape) for t in decoder.inputs] == [(None, 3)]
    assert tuple(decoder.output.shape) == (None, 6)
    for model, prefix in ((encoder, "encoder"), (vae_encoder, "encoder"), (decoder, "decoder")):
        assert _dense_units(model, prefix) == WIDTHS["notebook"]
        assert model.get_layer(prefix + "_dense_0").activation is keras.activations.tanh
    for model, output in (
        (encoder, "encoder_z"),
        (vae_encoder, "encoder_mean"),
        (vae_encoder, "encoder_log_variance"),
        (decoder, "decoder_logits"),
    ):
        assert model.get_layer(output).activation is keras.activations.linear
    # The noise is an input of the sampler: other noise, other codes.
    x, eps = _inputs(data_dim=6, width=5)
    z = ops.convert_to_numpy(encoder([x, eps]))
    assert z.shape == (5, 3) and np.all(np.isfinite(z))
    assert not np.allclose(z, ops.convert_to_numpy(encoder([x, eps + 1.0])))


def test_paper_networks_with_the_default_sizes():
    encoder = synthetic.synthetic_avb_encoder("paper")
    assert [tuple(t.shape) for t in encoder.inputs] == [(None, 4), (None, 64)]
    assert tuple(encoder.output.shape) == (None, 2)
    vae_encoder = synthetic.synthetic_vae_encoder("paper")
    assert [tuple(t.shape) for t in vae_encoder.outputs] == [(None, 2), (None, 2)]
    decoder = synthetic.synthetic_decoder("paper")
    assert tuple(decoder.output.shape) == (None, 4)
    for model, prefix in ((encoder, "encoder"), (vae_encoder, "encoder"), (decoder, "decoder")):
        assert _dense_units(model, prefix) == WIDTHS["paper"]
        assert model.get_layer(prefix + "_dense_0").activation is keras.activations.elu


@pytest.mark.parametrize(
    "variant, cls, units",
    [("notebook", ResidualAdversary, 256), ("paper", InnerProductAdversary, 512)],
)
def test_adversary_of_each_variant(variant, cls, units):
    adversary = synthetic.synthetic_adversary(variant)
    assert isinstance(adversary, cls) and adversary.add_squared_norm
    if variant == "notebook":
        assert (adversary.units, adversary.num_blocks) == (units, 5)
    else:
        assert adversary.hidden_units == (units, units)
        assert adversary.embedding_dim == units
    # Widths and the prior term as asked. (The adversaries' outputs and the
    # prior term itself are tested in keras_avb/layers/adversaries_test.py,
    # the output shape of a synthetic adversary by its docstring example.)
    small = synthetic.synthetic_adversary(variant, units=8, num_blocks=2, add_squared_norm=False)
    assert not small.add_squared_norm
    if variant == "notebook":
        assert (small.units, small.num_blocks) == (8, 2)
    else:
        assert small.hidden_units == (8, 8) and small.embedding_dim == 8


@pytest.mark.parametrize(
    "builder",
    [
        synthetic.synthetic_avb_encoder,
        synthetic.synthetic_vae_encoder,
        synthetic.synthetic_adversary,
    ],
)
def test_unknown_variant_is_refused(builder):
    with pytest.raises(ValueError, match=r"^`variant` must be one of \('notebook', 'paper'\)"):
        builder("huge")
