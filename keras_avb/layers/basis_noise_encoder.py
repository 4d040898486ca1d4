import math

import keras
from keras import ops

from keras_avb.layers._precision import precise_dtype
from keras_avb.utils import validation

# `keras.initializers.VarianceScaling` divides by this so that its truncated
# normal draws have the requested variance.
_TRUNCATED_NORMAL_STDDEV = 0.87962566103423978


def basis_kernel_initializer(fan_in):
    """LeCun-normal initializer of one basis MLP's stacked kernel.

    The kernel of a layer of all basis MLPs has shape
    `(num_bases, fan_in, fan_out)`. `VarianceScaling` would read that as a
    convolution kernel and divide by `num_bases * fan_in`, which shrinks each
    layer's output variance by `num_bases` (16 bases and 4 layers: basis
    vectors of variance ~1e-5). Each basis MLP is its own dense network, so
    its variance is `1 / fan_in`.

    Example:

    >>> init = basis_kernel_initializer(64)
    >>> kernel = keras.ops.convert_to_numpy(init((16, 64, 128)))
    >>> bool(abs(kernel.var() * 64 - 1.0) < 0.05)
    True
    """
    return keras.initializers.TruncatedNormal(
        stddev=math.sqrt(1.0 / fan_in) / _TRUNCATED_NORMAL_STDDEV
    )


@keras.saving.register_keras_serializable(package="keras_avb")
class BasisNoiseEncoder(keras.layers.Layer):
    """The basis-noise encoder head of AVB with Adaptive Contrast.

    Maps features `h(x)` and Gaussian noise to a posterior sample

        z = z0(h) + sum_i a_i(h) * v_i(eps_i),   i = 1..num_bases,

    where `a_i(h) = elu(Dense(h) - offset) + 1 > 0` weighs the basis vector
    `v_i(eps_i)`, the output of a small MLP of its own noise `eps_i`. Since
    the `v_i` do not depend on `x`, their mean and variance are estimated
    once from the batch of noise, which makes the moments of q(z|x) cheap:

        E[z] = z0 + sum_i a_i E[v_i],   Var[z] = sum_i a_i^2 Var[v_i].

    With `covariance="full"` the third output is the covariance matrix of
    q(z|x), `sum_i diag(a_i) Cov[v_i] diag(a_i)`, shape
    `(batch, latent_dim, latent_dim)`, which `AdaptiveContrast` then uses to
    whiten z instead of only standardising it.

    The noise input holds `num_bases * noise_dim` standard normal entries
    per example (flat, or shaped `(num_bases, noise_dim)`). The moments are
    batch estimates, so call the layer on batches of 2 or more examples.
    Under a float16 or bfloat16 dtype policy they are computed in float32
    and returned in the compute dtype, like z.

    Args:
        latent_dim: size of z.
        num_bases: number of basis vectors m.
        noise_dim: noise entries per basis vector.
        noise_units: hidden layer sizes of each basis MLP.
        activation: activation of the basis MLPs.
        coefficient_offset: the shift inside `elu(. - offset) + 1`; a large
            offset starts the coefficients small.
        initial_mean_stddev: standard deviation of the initial kernel of
            `z0`, tiny so that training starts near the prior mean.

    Returns:
        `(z, mean, variance)`, each of shape `(batch, latent_dim)`.

    Example:

    >>> head = BasisNoiseEncoder(latent_dim=2, num_bases=4, noise_dim=3)
    >>> h = ops.ones((8, 5))
    >>> eps = keras.random.normal((8, 4 * 3), seed=0)
    >>> z, mean, variance = head([h, eps])
    >>> tuple(z.shape), tuple(variance.shape)
    ((8, 2), (8, 2))
    """

    def __init__(
        self,
        latent_dim,
        num_bases=16,
        noise_dim=64,
        noise_units=(128, 128, 128),
        activation="elu",
        coefficient_offset=5.0,
        initial_mean_stddev=1e-5,
        covariance="diagonal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        validation.check_choice(covariance, "covariance", ("diagonal", "full"))
        self.covariance = covariance
        self.latent_dim = int(latent_dim)
        self.num_bases = int(num_bases)
        self.noise_dim = int(noise_dim)
        self.noise_units = tuple(int(u) for u in noise_units)
        self.activation = keras.activations.get(activation)
        self.coefficient_offset = float(coefficient_offset)
        self.initial_mean_stddev = float(initial_mean_stddev)
        # Sublayers share the parent's dtype policy (e.g. mixed precision).
        self.mean_dense = keras.layers.Dense(
            self.latent_dim,
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=self.initial_mean_stddev
            ),
            dtype=self.dtype_policy,
            name="mean_dense",
        )
        self.coefficient_dense = keras.layers.Dense(
            self.num_bases * self.latent_dim,
            dtype=self.dtype_policy,
            name="coefficient_dense",
        )

    @property
    def noise_shape(self):
        """Shape of the noise input of one example."""
        return (self.num_bases * self.noise_dim,)

    def build(self, input_shape):
        features_shape, _ = input_shape
        self.mean_dense.build(features_shape)
        self.coefficient_dense.build(features_shape)
        # One small MLP per basis, stored as stacked kernels so that all
        # bases run in one batched matrix product.
        self.basis_kernels, self.basis_biases = [], []
        sizes = (self.noise_dim,) + self.noise_units + (self.latent_dim,)
        for index, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.basis_kernels.append(
                self.add_weight(
                    shape=(self.num_bases, fan_in, fan_out),
                    initializer=basis_kernel_initializer(fan_in),
                    name=f"basis_kernel_{index}",
                )
            )
            self.basis_biases.append(
                self.add_weight(
                    shape=(self.num_bases, fan_out),
                    initializer="zeros",
                    name=f"basis_bias_{index}",
                )
            )

    def basis_vectors(self, noise):
        """The basis vectors v_i(eps_i), shape `(batch, num_bases, latent_dim)`."""
        v = ops.reshape(noise, (-1, self.num_bases, self.noise_dim))
        last = len(self.basis_kernels) - 1
        for index, (kernel, bias) in enumerate(
            zip(self.basis_kernels, self.basis_biases)
        ):
            v = ops.einsum("bmi,mio->bmo", v, kernel) + bias
            if index < last:
                v = self.activation(v)
        return v

    def coefficients(self, features):
        """The positive weights a_i(h), shape `(batch, num_bases, latent_dim)`."""
        a = self.coefficient_dense(features)
        a = ops.elu(a - self.coefficient_offset) + 1.0
        return ops.reshape(a, (-1, self.num_bases, self.latent_dim))

    def call(self, inputs):
        features, noise = inputs
        z0 = self.mean_dense(features)
        a = self.coefficients(features)
        v = self.basis_vectors(noise)
        z = z0 + ops.sum(a * v, axis=1)
        # The moments are batch statistics: under a float16 or bfloat16
        # policy they are computed in float32 (as `BatchNormalization` does)
        # and cast back to the compute dtype.
        z0, a, v = (ops.cast(t, precise_dtype(self.compute_dtype)) for t in (z0, a, v))
        v_mean = ops.mean(v, axis=0)
        mean = z0 + ops.sum(a * v_mean, axis=1)
        if self.covariance == "full":
            centred = v - v_mean
            batch = ops.cast(ops.shape(v)[0], v.dtype)
            v_cov = ops.einsum("bmd,bme->mde", centred, centred) / batch
            spread = ops.einsum("bmd,mde,bme->bde", a, v_cov, a)
        else:
            spread = ops.sum(ops.square(a) * ops.var(v, axis=0), axis=1)
        return z, ops.cast(mean, z.dtype), ops.cast(spread, z.dtype)

    def compute_output_shape(self, input_shape):
        features_shape, _ = input_shape
        shape = (features_shape[0], self.latent_dim)
        if self.covariance == "full":
            return shape, shape, shape + (self.latent_dim,)
        return shape, shape, shape

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "num_bases": self.num_bases,
            "noise_dim": self.noise_dim,
            "noise_units": list(self.noise_units),
            "activation": keras.activations.serialize(self.activation),
            "coefficient_offset": self.coefficient_offset,
            "initial_mean_stddev": self.initial_mean_stddev,
            "covariance": self.covariance,
        }
