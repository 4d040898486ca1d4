"""`AVBHyperModel`: a KerasTuner search space over AVB's main settings."""

import math

import keras
import keras_tuner

from keras_avb.distributions import likelihoods as likelihoods_lib
from keras_avb.layers import BasisNoiseEncoder
from keras_avb.layers import ResidualAdversary
from keras_avb.models import AVB
from keras_avb.models import adversary_steps_from_int
from keras_avb.models import adversary_steps_to_int
from keras_avb.models import default_optimizer
from keras_avb.models.adversarial_game import check_adversary_steps
from keras_avb.utils import validation

#: The tuners' objective: `val_iw_bound`, the importance-weighted lower
#: bound on log p(x) on the validation data (see `keras_avb.AVB`), to be
#: maximised. Unlike the adversary-based `val_adversarial_elbo`, it cannot
#: be raised by a weak adversary that underestimates the KL.
OBJECTIVE = keras_tuner.Objective("val_iw_bound", direction="max")


def _ints(values, name, minimum, allow_empty=False):
    """A tuple of integers >= `minimum`, or `ValueError` naming `name`."""
    if not isinstance(values, (tuple, list)):
        raise ValueError(f"`{name}` must be a tuple or list of integers. Received: {values!r}")
    if not values and not allow_empty:
        raise ValueError(f"`{name}` needs at least one value.")
    return tuple(validation.check_int(v, f"{name} entries", minimum=minimum) for v in values)


class AVBHyperModel(keras_tuner.HyperModel):
    """Builds and compiles an `AVB` from sampled hyperparameters.

    The encoder is an MLP on `x` ending in a `BasisNoiseEncoder` head (so
    Adaptive Contrast gets the moments of q(z|x) cheaply); the decoder an
    MLP giving the likelihood's parameters; the adversary a
    `ResidualAdversary` with the log-prior term added. Hyperparameters:

    - `latent_dim` (Choice over `latent_dims`);
    - `num_bases` (Choice over `num_bases`): noise bases of the encoder;
    - `learning_rate` and `adversary_learning_rate` (log-uniform Floats
      in `learning_rate_range` and `adversary_learning_rate_range`), of the
      two Adam optimizers (`beta_1=0.5`, as in the paper);
    - `adversary_steps` (Choice over `adversary_steps`): None means
      simultaneous updates, `k` means `k` adversary steps per
      encoder/decoder step, as in `AVB`. A KerasTuner `Choice` holds no
      None, so the trials record simultaneous updates as 0 (see
      `keras_avb.models.adversary_steps_from_int`);
    - `adaptive_contrast` (Boolean, or fixed when `adaptive_contrast` has
      one value).

    Pass `objective=keras_avb.tuner.OBJECTIVE` (`val_iw_bound`, the
    importance-weighted lower bound on log p(x) of the validation data,
    maximised) to the tuner, and validation data to `search`. Do not rank
    trials by `val_adversarial_elbo`: it uses the adversary's KL estimate,
    which a weak adversary underestimates, so it would favour the trials
    whose adversary is weakest.

    The reloaded models of `tuner.get_best_models()` come back with their
    optimizers' saved state (steps and moments), so they train on where
    the trial stopped.

    For a reproducible search pass a nonzero `seed` to the tuner: KerasTuner
    treats `seed=0` as no seed and draws a random one.

    Args:
        data_shape: shape of one example, e.g. `(784,)` or `(28, 28, 1)`.
        latent_dims: the latent sizes to choose from.
        num_bases: the numbers of noise bases to choose from.
        learning_rate_range: `(min, max)` of the encoder/decoder rate.
        adversary_learning_rate_range: `(min, max)` of the adversary's rate.
        adversary_steps: the values to choose from: None (simultaneous
            updates) or integers >= 1, as `AVB` takes them.
        adaptive_contrast: the values to choose from (`(False, True)`).
        hidden_units: units of each hidden layer of encoder and decoder.
        hidden_layers: hidden layers of encoder and decoder.
        noise_dim: noise entries per basis.
        noise_units: hidden sizes of each basis MLP.
        adversary_units: units of the residual adversary.
        adversary_blocks: residual blocks of the adversary.
        likelihood: the likelihood of `AVB` (`"bernoulli"` by default).
        kl_annealing_steps: passed to `AVB`.
        seed: passed to `AVB`.

    Example:

    >>> import keras_tuner, keras_avb.tuner, tempfile
    >>> from keras_avb.testing import four_point_data
    >>> hypermodel = keras_avb.tuner.AVBHyperModel(
    ...     (4,), latent_dims=(2,), num_bases=(2, 3), hidden_units=8,
    ...     hidden_layers=1, noise_dim=2, noise_units=(4,),
    ...     adversary_units=8, adversary_blocks=1)
    >>> tuner = keras_tuner.RandomSearch(
    ...     hypermodel, objective=keras_avb.tuner.OBJECTIVE, max_trials=1,
    ...     directory=tempfile.mkdtemp(), seed=1)
    >>> x = four_point_data(64)
    >>> tuner.search(x, validation_data=(x,), epochs=1, batch_size=32,
    ...              verbose=0)
    >>> best = tuner.get_best_models(1)[0]
    >>> type(best).__name__, best.latent_dim
    ('AVB', 2)
    """

    def __init__(
        self,
        data_shape,
        latent_dims=(2, 8, 32),
        num_bases=(4, 8, 16),
        learning_rate_range=(1e-5, 1e-3),
        adversary_learning_rate_range=(1e-5, 1e-3),
        adversary_steps=(None, 1, 2),
        adaptive_contrast=(False, True),
        hidden_units=300,
        hidden_layers=2,
        noise_dim=32,
        noise_units=(64, 64),
        adversary_units=256,
        adversary_blocks=3,
        likelihood="bernoulli",
        kl_annealing_steps=0,
        seed=None,
        name=None,
        tunable=True,
    ):
        super().__init__(name=name, tunable=tunable)
        if validation.is_int(data_shape):
            data_shape = (data_shape,)
        self.data_shape = _ints(data_shape, "data_shape", minimum=1)
        self.latent_dims = list(_ints(latent_dims, "latent_dims", minimum=1))
        self.num_bases = list(_ints(num_bases, "num_bases", minimum=1))
        for label, rates in (
            ("learning_rate_range", learning_rate_range),
            ("adversary_learning_rate_range", adversary_learning_rate_range),
        ):
            if not isinstance(rates, (tuple, list)) or len(rates) != 2:
                raise ValueError(
                    f"`{label}` must be a pair (min, max). Received: {rates!r}"
                )
        self.learning_rate_range = tuple(
            validation.check_float(r, "learning_rate_range") for r in learning_rate_range
        )
        self.adversary_learning_rate_range = tuple(
            validation.check_float(r, "adversary_learning_rate_range")
            for r in adversary_learning_rate_range
        )
        if not isinstance(adversary_steps, (tuple, list)):
            raise ValueError(
                "`adversary_steps` must be a tuple or list of None or integers. "
                f"Received: {adversary_steps!r}"
            )
        self.adversary_steps = [check_adversary_steps(k) for k in adversary_steps]
        self.adaptive_contrast = [bool(a) for a in adaptive_contrast]
        for label, values in (
            ("latent_dims", self.latent_dims),
            ("num_bases", self.num_bases),
            ("adversary_steps", self.adversary_steps),
            ("adaptive_contrast", self.adaptive_contrast),
        ):
            if not values:
                raise ValueError(f"`{label}` needs at least one value.")
        for label, (low, high) in (
            ("learning_rate_range", self.learning_rate_range),
            ("adversary_learning_rate_range", self.adversary_learning_rate_range),
        ):
            if not 0 < low <= high:
                raise ValueError(f"`{label}` must be (min, max) with 0 < min <= max.")
        self.hidden_units = validation.check_int(hidden_units, "hidden_units", minimum=1)
        self.hidden_layers = validation.check_int(hidden_layers, "hidden_layers", minimum=0)
        self.noise_dim = validation.check_int(noise_dim, "noise_dim", minimum=1)
        self.noise_units = _ints(noise_units, "noise_units", minimum=1, allow_empty=True)
        self.adversary_units = validation.check_int(
            adversary_units, "adversary_units", minimum=1
        )
        self.adversary_blocks = validation.check_int(
            adversary_blocks, "adversary_blocks", minimum=0
        )
        likelihoods_lib.get(likelihood)
        self.likelihood = likelihood
        self.kl_annealing_steps = validation.check_int(
            kl_annealing_steps, "kl_annealing_steps", minimum=0
        )
        self.seed = validation.check_int(seed, "seed", minimum=0, allow_none=True)

    # ------------------------------------------------------------------
    @staticmethod
    def _choice(hp, name, values):
        if len(set(values)) == 1:
            return hp.Fixed(name, values[0])
        return hp.Choice(name, values)

    @staticmethod
    def _rate(hp, name, low, high):
        if low == high:
            return hp.Fixed(name, low)
        return hp.Float(name, low, high, sampling="log")

    def build(self, hp):
        latent_dim = self._choice(hp, "latent_dim", self.latent_dims)
        num_bases = self._choice(hp, "num_bases", self.num_bases)
        learning_rate = self._rate(hp, "learning_rate", *self.learning_rate_range)
        adversary_learning_rate = self._rate(
            hp, "adversary_learning_rate", *self.adversary_learning_rate_range
        )
        adversary_steps = self._choice(
            hp, "adversary_steps", [adversary_steps_to_int(k) for k in self.adversary_steps]
        )
        if len(set(self.adaptive_contrast)) == 1:
            adaptive_contrast = hp.Fixed("adaptive_contrast", self.adaptive_contrast[0])
        else:
            adaptive_contrast = hp.Boolean("adaptive_contrast")

        model = AVB(
            self._encoder(latent_dim, num_bases),
            self._decoder(latent_dim),
            ResidualAdversary(
                units=self.adversary_units,
                num_blocks=self.adversary_blocks,
                add_squared_norm=True,
                name="adversary",
            ),
            likelihood=self.likelihood,
            adaptive_contrast=bool(adaptive_contrast),
            adversary_steps=adversary_steps_from_int(adversary_steps),
            kl_annealing_steps=self.kl_annealing_steps,
            seed=self.seed,
        )
        model.compile(
            optimizer=default_optimizer(learning_rate),
            adversary_optimizer=default_optimizer(adversary_learning_rate),
        )
        return model

    def _encoder(self, latent_dim, num_bases):
        x = keras.Input(self.data_shape, name="x")
        eps = keras.Input((num_bases * self.noise_dim,), name="eps")
        h = keras.layers.Flatten(name="encoder_flatten")(x)
        for i in range(self.hidden_layers):
            h = keras.layers.Dense(
                self.hidden_units, activation="softplus", name=f"encoder_dense_{i}"
            )(h)
        outputs = BasisNoiseEncoder(
            latent_dim=latent_dim,
            num_bases=num_bases,
            noise_dim=self.noise_dim,
            noise_units=self.noise_units,
            name="basis_noise",
        )([h, eps])
        return keras.Model([x, eps], outputs, name="encoder")

    def _decoder(self, latent_dim):
        from keras_avb.distributions import likelihoods

        per_entry = likelihoods.get(self.likelihood).params_per_entry
        output_shape = self.data_shape[:-1] + (self.data_shape[-1] * per_entry,)
        layers = [keras.Input((latent_dim,))]
        for i in range(self.hidden_layers):
            layers.append(
                keras.layers.Dense(
                    self.hidden_units, activation="softplus", name=f"decoder_dense_{i}"
                )
            )
        layers.append(keras.layers.Dense(math.prod(output_shape), name="decoder_output"))
        if len(output_shape) > 1:
            layers.append(keras.layers.Reshape(output_shape, name="decoder_reshape"))
        return keras.Sequential(layers, name="decoder")

    def get_config(self):
        likelihood = self.likelihood
        if not isinstance(likelihood, str):
            likelihood = keras.saving.serialize_keras_object(likelihood)
        return {
            "data_shape": list(self.data_shape),
            "latent_dims": list(self.latent_dims),
            "num_bases": list(self.num_bases),
            "learning_rate_range": list(self.learning_rate_range),
            "adversary_learning_rate_range": list(self.adversary_learning_rate_range),
            "adversary_steps": list(self.adversary_steps),
            "adaptive_contrast": list(self.adaptive_contrast),
            "hidden_units": self.hidden_units,
            "hidden_layers": self.hidden_layers,
            "noise_dim": self.noise_dim,
            "noise_units": list(self.noise_units),
            "adversary_units": self.adversary_units,
            "adversary_blocks": self.adversary_blocks,
            "likelihood": likelihood,
            "kl_annealing_steps": self.kl_annealing_steps,
            "seed": self.seed,
            "name": self.name,
            "tunable": self.tunable,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("adversary_steps"), (tuple, list)):
            # Configs saved before adversary_steps took None wrote it as 0.
            config["adversary_steps"] = [
                k if k is None else adversary_steps_from_int(k)
                for k in config["adversary_steps"]
            ]
        if isinstance(config.get("likelihood"), dict):
            config["likelihood"] = keras.saving.deserialize_keras_object(
                config["likelihood"]
            )
        return cls(**config)
