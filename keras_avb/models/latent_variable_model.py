"""The base of AVB and the VAE: what a latent-variable model shares."""

import keras
from keras import ops

from keras_avb.callbacks import health
from keras_avb.distributions import likelihoods as likelihoods_lib
from keras_avb.distributions import priors as priors_lib
from keras_avb.models import input_checks
from keras_avb.models.adversarial_game import TrackedMetrics
from keras_avb.trainers import PlayersTrainer
from keras_avb.utils import data_checks
from keras_avb.utils import validation
from keras_avb.utils.shapes import flat_size


class LatentVariableModel(TrackedMetrics, PlayersTrainer, keras.Model):
    """A decoder p(x|z) with a likelihood and a prior p(z), trained by players.

    Subclasses define `build()`, `players()`, `update_schedule`,
    `compute_losses()`, `posterior_moments()` and `METRIC_NAMES`. This class
    holds the encoder, decoder, likelihood, prior and seed, the number of
    importance samples of the bound, the metric trackers, the KL annealing
    weight, the user-facing `encode`/`decode`/`sample` methods and the
    input checks that `fit` and `evaluate` run before any work starts.
    """

    METRIC_NAMES = ()
    #: What `keras_avb.callbacks.TrainingMonitor` watches: each player's loss
    #: metric, the adversary's accuracies and the KL estimate.
    LOSS_METRICS = {}
    ACCURACY_METRICS = ()
    KL_METRIC = None
    #: True if `model.optimizer` only holds the players' optimizers, so the
    #: training step must advance `model.optimizer.iterations` itself.
    counts_own_iterations = False

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        prior=None,
        kl_annealing_steps=0,
        bound_samples=16,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        validation.check_callable(encoder, "encoder")
        validation.check_callable(decoder, "decoder")
        validation.check_int(kl_annealing_steps, "kl_annealing_steps", minimum=0)
        validation.check_int(bound_samples, "bound_samples", minimum=1)
        validation.check_seed(seed)
        self.encoder = encoder
        self.decoder = decoder
        self.bound_samples = int(bound_samples)
        self.likelihood = likelihoods_lib.get(likelihood)
        self.prior = None if prior is None else priors_lib.get(prior)
        self.kl_annealing_steps = int(kl_annealing_steps)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed, name="seed_generator")
        self.data_shape = None
        self.latent_dim = None if self.prior is None else self.prior.latent_dim
        self.trackers = [keras.metrics.Mean(name=name) for name in self.METRIC_NAMES]

    def _build_if_data_shape_known(self):
        """Builds now if the encoder is functional with a fully known input."""
        inputs = getattr(self.encoder, "inputs", None)
        if inputs and None not in tuple(inputs[0].shape[1:]):
            self.build((None,) + tuple(inputs[0].shape[1:]))

    # ------------------------------------------------------------------
    # Shared pieces of the objective
    # ------------------------------------------------------------------
    def kl_weight(self, training):
        """beta = min(step / kl_annealing_steps, 1) in training, else 1."""
        if not training or not self.kl_annealing_steps:
            return 1.0
        step = ops.cast(self.optimizer.iterations, "float32")
        return ops.minimum(step / float(self.kl_annealing_steps), 1.0)

    def reconstruction_terms(self, x, z, training):
        """Returns `log p(x|z)` per example and the per-entry reconstruction error."""
        params = self.decoder(z, training=training)
        log_likelihood = self.likelihood.log_prob(x, ops.cast(params, "float32"))
        error = -ops.mean(log_likelihood) / float(flat_size(self.data_shape))
        return log_likelihood, error

    def _resolve_prior(self, latent_dim):
        if self.prior is None:
            self.prior = priors_lib.StandardNormal(latent_dim)
        elif self.prior.latent_dim != latent_dim:
            raise ValueError(
                f"The encoder gives latent codes of size {latent_dim}, but the "
                f"prior {self.prior!r} has latent_dim={self.prior.latent_dim}."
            )
        self.latent_dim = latent_dim

    def _build_decoder(self, z_spec, data_shape):
        params = validation.call_network(
            self.decoder, z_spec,
            f"The decoder does not accept latent codes of shape {tuple(z_spec.shape)}",
        )
        expected = tuple(data_shape[:-1]) + (
            data_shape[-1] * self.likelihood.params_per_entry,
        )
        if tuple(params.shape[1:]) != expected:
            raise ValueError(
                f"The decoder outputs shape {tuple(params.shape[1:])} per "
                f"example, but {self.likelihood!r} on data of shape "
                f"{tuple(data_shape)} needs {expected}."
            )

    # ------------------------------------------------------------------
    # User-facing helpers
    # ------------------------------------------------------------------
    def decode(self, z):
        """The likelihood's mean given latent codes `z` (e.g. pixel probabilities)."""
        if (z is None or data_checks.is_concrete(z)) and self.latent_dim is not None:
            data_checks.check_latent_codes(z, self.latent_dim, name="z")
        return self.likelihood.mean(self.decoder(ops.convert_to_tensor(z), training=False))

    def sample(self, num_samples, seed=None):
        """Decodes `num_samples` draws from the prior."""
        num_samples = validation.check_int(num_samples, "num_samples", minimum=1)
        seed = self.seed_generator if seed is None else validation.check_seed(seed)
        return self.decode(self.prior.sample(num_samples, seed=seed))

    def call(self, x, training=False):
        """Reconstructs `x`: decodes one posterior sample per example."""
        if self.data_shape is not None and tuple(x.shape[1:]) != self.data_shape:
            raise ValueError(
                f"`x` has examples of shape {tuple(x.shape[1:])}, but the model "
                f"expects examples of shape {self.data_shape}."
            )
        z = self.posterior(ops.cast(x, self.compute_dtype), training=training)[0]
        return self.likelihood.mean(self.decoder(z, training=training))

    def encode(self, x, training=False):
        """One posterior sample `z ~ q(z|x)` per example."""
        if x is None or data_checks.is_concrete(x):
            data_checks.check_examples(x, name="x", data_shape=self.data_shape)
        x = ops.cast(ops.convert_to_tensor(x), self.compute_dtype)
        return self.posterior(x, training=training)[0]

    def posterior_moments(self, x):
        """Mean and variance of a Gaussian that approximates q(z|x) for `x`.

        What `keras_avb.evaluation` starts AIS from and draws importance
        samples from; each model defines it (VAE: its posterior; AVB:
        Adaptive Contrast's r(z|x)). Returns float32 tensors of shape
        `(batch, latent_dim)`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} does not define posterior_moments(x)."
        )

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict` (reconstructions), after checking `x`."""
        input_checks.check_one_input(x, "x", method="predict")
        input_checks.check_data(x, data_shape=self.data_shape, name="x")
        return super().predict(x, *args, **kwargs)

    # ------------------------------------------------------------------
    # Input checks before training
    # ------------------------------------------------------------------
    def check_data(self, data, name="x"):
        """Raises `ValueError` naming the problem if `data` does not suit the model.

        Labels in `data` (an `(x, y)` tuple, or a data set whose batches are)
        are ignored, with a `UserWarning`.
        """
        return input_checks.check_data(
            data,
            data_shape=self.data_shape,
            likelihood=self.likelihood,
            name=name,
            model_name=type(self).__name__,
        )

    def _warn_ignored_labels(self, y, sample_weight):
        """Warns about `y` and `sample_weight`, which are then not passed on."""
        for value, what in ((y, "`y` is"), (sample_weight, "`sample_weight` is")):
            if value is not None:
                input_checks.warn_ignored(what, type(self).__name__)

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        **kwargs,
    ):
        """`keras.Model.fit`, after checking the data, with a `TrainingMonitor`.

        Unless `callbacks` holds a `keras_avb.callbacks.TrainingMonitor`, a
        default one is put first: it warns about an unhealthy adversary and
        stops training with an error naming the player and the step when a
        loss becomes NaN or infinite.

        The model is unsupervised: `x` is the data alone (a tuple or list of
        arrays, which Keras reads as several inputs, is rejected), and `y`,
        `sample_weight` and labels in `validation_data` or in a data set's
        batches are ignored, with a `UserWarning`.
        """
        input_checks.check_one_input(x, "x", method="fit")
        input_checks.check_fit_arguments(
            self,
            x,
            batch_size=batch_size,
            epochs=epochs,
            validation_split=validation_split,
            validation_data=validation_data,
            **kwargs,
        )
        self.check_data(x, name="x")
        if validation_data is not None:
            self.check_data(validation_data, name="validation_data")
        self._warn_ignored_labels(y, kwargs.pop("sample_weight", None))
        return super().fit(
            x,
            None,
            batch_size=batch_size,
            epochs=epochs,
            verbose=verbose,
            callbacks=health.with_training_monitor(callbacks),
            validation_split=validation_split,
            validation_data=validation_data,
            **kwargs,
        )

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, after checking the data (as in `fit`)."""
        if kwargs.get("_use_cached_eval_dataset"):
            # Keras' `fit` evaluating the validation data, checked by `fit`.
            return super().evaluate(x, None, *args, **kwargs)
        input_checks.check_one_input(x, "x", method="evaluate")
        input_checks.check_evaluate_arguments(self, x, args, kwargs)
        self.check_data(x, name="x")
        # Positional order of keras.Model.evaluate: batch_size, verbose,
        # sample_weight, ...
        args = list(args)
        sample_weight = args[2] if len(args) > 2 else kwargs.pop("sample_weight", None)
        if len(args) > 2:
            args[2] = None
        self._warn_ignored_labels(y, sample_weight)
        return super().evaluate(x, None, *args, **kwargs)

    # ------------------------------------------------------------------
    # Saving: the noise stream is part of the state, so a resumed run draws
    # the noise the uninterrupted run would have drawn.
    # ------------------------------------------------------------------
    _SEED_KEY = "seed_generator_state"

    def save_own_variables(self, store):
        super().save_own_variables(store)
        store[self._SEED_KEY] = self.seed_generator.state

    def load_own_variables(self, store):
        if self._SEED_KEY in store.keys():
            self.seed_generator.state.assign(store[self._SEED_KEY])
            store = {k: store[k] for k in store.keys() if k != self._SEED_KEY}
        super().load_own_variables(store)

    def get_config(self):
        return {
            # Keras' own entries: name, trainable and the dtype policy.
            **super().get_config(),
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
            "likelihood": keras.saving.serialize_keras_object(self.likelihood),
            "prior": None
            if self.prior is None
            else keras.saving.serialize_keras_object(self.prior),
            "kl_annealing_steps": self.kl_annealing_steps,
            "bound_samples": self.bound_samples,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder", "adversary", "likelihood", "prior"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
