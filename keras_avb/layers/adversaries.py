"""Adversary networks T(x, z).

Each adversary is a layer called on `[x, z]` that returns one logit per
example, shape `(batch,)`. Data of any shape is flattened first. With
`add_squared_norm=True` the adversary adds `0.5 * sum(z^2)` to its output:
that is `-log p(z)` up to a constant for a standard normal prior, the part
of the optimal T* = log q(z|x) - log p(z) that the network then need not
learn (the "log-prior trick" of the authors' code).

The sublayers share the adversary's dtype policy: with
`dtype="mixed_float16"` the whole network computes in float16 and keeps
float32 weights.
"""

import keras
from keras import ops

from keras_avb.utils.shapes import flat_size


def _flatten(x):
    return ops.reshape(x, (ops.shape(x)[0], -1))


class Adversary(keras.layers.Layer):
    """Base class: flattens `x`, calls `logits(x, z)` and adds the prior term."""

    def __init__(self, add_squared_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.add_squared_norm = bool(add_squared_norm)

    def logits(self, x, z, training=None):
        raise NotImplementedError

    def call(self, inputs, training=None):
        x, z = inputs
        # Data may be integer images, which autocasting leaves alone.
        x = _flatten(ops.cast(x, self.compute_dtype))
        z = ops.cast(z, self.compute_dtype)
        t = ops.reshape(self.logits(x, z, training=training), (-1,))
        if self.add_squared_norm:
            t = t + 0.5 * ops.sum(ops.square(z), axis=-1)
        return t

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        return {**super().get_config(), "add_squared_norm": self.add_squared_norm}


def _mlp(units, activation, name, dtype):
    return keras.Sequential(
        [keras.layers.Dense(u, activation=activation, dtype=dtype) for u in units],
        name=name,
    )


@keras.saving.register_keras_serializable(package="keras_avb")
class InnerProductAdversary(Adversary):
    """T(x, z) = <f(x), g(z)>, two MLPs combined by an inner product.

    This is the adversary of the paper's synthetic experiment (two 2-layer
    networks of 512 units).

    Args:
        hidden_units: hidden layer sizes of each of the two networks.
        embedding_dim: size of the two embeddings whose inner product is T.
        activation: hidden activation, a name or a callable (a custom
            function must be registered with
            `keras.saving.register_keras_serializable` to be saved).
        add_squared_norm: add `0.5 * sum(z^2)` to T (see module docstring).

    Example:

    >>> adversary = InnerProductAdversary(hidden_units=(16,), embedding_dim=8)
    >>> t = adversary([ops.ones((4, 3)), ops.ones((4, 2))])
    >>> tuple(t.shape)
    (4,)
    """

    def __init__(
        self,
        hidden_units=(512, 512),
        embedding_dim=512,
        activation="relu",
        add_squared_norm=False,
        **kwargs,
    ):
        super().__init__(add_squared_norm=add_squared_norm, **kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.embedding_dim = int(embedding_dim)
        self.activation = keras.activations.get(activation)
        # Sublayers share the parent's dtype policy (e.g. mixed precision).
        dtype = self.dtype_policy
        self.x_network = _mlp(self.hidden_units, self.activation, "x_network", dtype)
        self.z_network = _mlp(self.hidden_units, self.activation, "z_network", dtype)
        self.x_embedding = keras.layers.Dense(
            self.embedding_dim, dtype=dtype, name="x_embedding"
        )
        self.z_embedding = keras.layers.Dense(
            self.embedding_dim, dtype=dtype, name="z_embedding"
        )

    def build(self, input_shape):
        x_shape, z_shape = input_shape
        x_shape = (x_shape[0], flat_size(x_shape[1:], owner="The adversary"))
        self.x_network.build(x_shape)
        self.z_network.build(z_shape)
        self.x_embedding.build((x_shape[0], self.hidden_units[-1]))
        self.z_embedding.build((z_shape[0], self.hidden_units[-1]))

    def logits(self, x, z, training=None):
        fx = self.x_embedding(self.x_network(x, training=training))
        gz = self.z_embedding(self.z_network(z, training=training))
        return ops.sum(fx * gz, axis=-1)

    def get_config(self):
        return {
            **super().get_config(),
            "hidden_units": list(self.hidden_units),
            "embedding_dim": self.embedding_dim,
            "activation": keras.activations.serialize(self.activation),
        }


@keras.saving.register_keras_serializable(package="keras_avb")
class ResidualAdversary(Adversary):
    """A residual MLP on concat(x, z).

    `Dense(units)` on the concatenation, then `num_blocks` residual blocks
    `h + Dense(act(Dense(act(h))))`, then a linear output. The authors use
    it for the synthetic notebook (with `add_squared_norm=True`) and, with 5
    blocks of 256 units, for eight schools.

    Args:
        units: width of the residual stream.
        num_blocks: number of residual blocks.
        activation: hidden activation, a name or a callable (a custom
            function must be registered with
            `keras.saving.register_keras_serializable` to be saved).
        add_squared_norm: add `0.5 * sum(z^2)` to T (see module docstring).

    Example:

    >>> adversary = ResidualAdversary(units=16, num_blocks=2)
    >>> t = adversary([ops.ones((4, 3)), ops.ones((4, 2))])
    >>> tuple(t.shape)
    (4,)
    """

    def __init__(
        self,
        units=256,
        num_blocks=5,
        activation="elu",
        add_squared_norm=False,
        **kwargs,
    ):
        super().__init__(add_squared_norm=add_squared_norm, **kwargs)
        self.units = int(units)
        self.num_blocks = int(num_blocks)
        self.activation = keras.activations.get(activation)
        # Sublayers share the parent's dtype policy (e.g. mixed precision).
        dtype = self.dtype_policy
        self.input_dense = keras.layers.Dense(self.units, dtype=dtype, name="input_dense")
        self.block_layers = [
            keras.layers.Dense(
                self.units, dtype=dtype, name=f"block_{i // 2}_dense_{i % 2}"
            )
            for i in range(2 * self.num_blocks)
        ]
        self.output_dense = keras.layers.Dense(1, dtype=dtype, name="output_dense")

    def build(self, input_shape):
        x_shape, z_shape = input_shape
        joint = (x_shape[0], flat_size(x_shape[1:], owner="The adversary") + z_shape[-1])
        self.input_dense.build(joint)
        hidden = (x_shape[0], self.units)
        for layer in self.block_layers:
            layer.build(hidden)
        self.output_dense.build(hidden)

    def logits(self, x, z, training=None):
        h = self.input_dense(ops.concatenate([x, z], axis=-1))
        for first, second in zip(self.block_layers[::2], self.block_layers[1::2]):
            h = h + second(self.activation(first(self.activation(h))))
        return self.output_dense(self.activation(h))

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "num_blocks": self.num_blocks,
            "activation": keras.activations.serialize(self.activation),
        }
