"""What every model trained against an adversary shares.

`AdversarialGame` is a mixin for `keras.Model`s with two players: the one
whose loss the model is about (AVB's encoder and decoder, or a posterior
sampler) and an adversary `self.adversary`. It owns the two optimizers and
the update schedule; the model defines `compute_losses`.
"""

import re

import keras
from keras import ops

from keras_avb.models.optimizer_state import RestoresOptimizerState
from keras_avb.utils import validation

ADVERSARY = "adversary"


class TrackedMetrics:
    """Metric trackers named after the values `compute_losses` returns.

    Models set `self.trackers` to a list of `keras.metrics.Mean`. Metrics
    named in `EVALUATION_METRICS` are computed in evaluation only; they are
    left out of the logs of a step that does not compute them, so training
    logs do not show a tracker that was never updated.
    """

    EVALUATION_METRICS = ()

    @property
    def metrics(self):
        return list(self.trackers)

    def update_metrics(self, values):
        """Updates the trackers from a dict of scalars and returns the logs."""
        for tracker in self.trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name])
        return {
            tracker.name: tracker.result()
            for tracker in self.trackers
            if tracker.name in values or tracker.name not in self.EVALUATION_METRICS
        }


class AdversarialGame(RestoresOptimizerState, TrackedMetrics):
    """Two players, two optimizers, and the order in which they move.

    Both optimizers live in a `keras.optimizers.MultiOptimizer` that becomes
    `model.optimizer`: their state is then saved and loaded with the model
    and, under JAX, part of the training state. The adversary's variables
    are routed to its optimizer by their exact paths; each player's
    gradients are applied by its own optimizer.

    Subclasses set `PLAYER` (the name of the non-adversary player),
    `DEFAULT_LEARNING_RATES` (player, adversary) and the attributes
    `self.adversary` and `self.adversary_steps`.
    """

    PLAYER = "generator"
    DEFAULT_LEARNING_RATES = (5e-5, 1e-4)
    counts_own_iterations = True
    _optimizer_map = None

    def compile(self, optimizer=None, adversary_optimizer=None, **kwargs):
        """Configures the two players' optimizers.

        Args:
            optimizer: the optimizer of the non-adversary player; by default
                `Adam(lr, beta_1=0.5)` with the model's default rate (the
                authors' 5e-5 for AVB).
            adversary_optimizer: the adversary's optimizer; by default
                `Adam(lr, beta_1=0.5)` (the authors' 1e-4 for AVB).
            **kwargs: `run_eagerly`, `jit_compile`, `steps_per_execution`
                and other arguments of `keras.Model.compile`. The model
                defines its own losses, so `loss` is not accepted.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                f"{type(self).__name__} computes its own losses; do not pass `loss`."
            )
        player_rate, adversary_rate = self.DEFAULT_LEARNING_RATES
        optimizer = _get_optimizer(optimizer, player_rate)
        adversary_optimizer = _get_optimizer(adversary_optimizer, adversary_rate)
        if optimizer is adversary_optimizer:
            raise ValueError(
                "`optimizer` and `adversary_optimizer` must be two different "
                "optimizer instances; each keeps the state of one player."
            )
        self._player_optimizers = {self.PLAYER: optimizer, ADVERSARY: adversary_optimizer}
        self._optimizer_map = keras.optimizers.OptimizerMap(default_optimizer=optimizer)
        super().compile(
            optimizer=keras.optimizers.MultiOptimizer(self._optimizer_map), **kwargs
        )
        self._game_compile_kwargs = dict(kwargs)
        if self.built:
            self.map_adversary_variables()

    def build_adversary(self, x, z, x_description):
        """Builds the adversary on symbolic `[x, z]` and checks it gives one logit.

        Subclasses call it last in `build()`; it then routes the adversary's
        variables to its optimizer if the model is already compiled.
        """
        t = validation.call_network(
            self.adversary, [x, z],
            f"The adversary does not accept [x, z] with {x_description} and "
            f"z of size {z.shape[-1]}",
        )
        if tuple(t.shape[1:]) not in ((), (1,)):
            raise ValueError(
                "The adversary must return one logit per example; it returns "
                f"shape {tuple(t.shape)}."
            )
        if self._optimizer_map is not None:
            self.map_adversary_variables()

    def map_adversary_variables(self):
        """Routes the adversary's variables, by exact path, to its optimizer.

        Called once the model is built and compiled, before the optimizer
        is built.
        """
        adversary_ids = {id(v) for v in self.adversary.trainable_variables}
        adversary_paths = {v.path for v in self.adversary.trainable_variables}
        clashes = sorted(
            v.path
            for v in self.trainable_variables
            if id(v) not in adversary_ids and v.path in adversary_paths
        )
        if clashes:
            raise ValueError(
                f"Variables {clashes} have the same path in the adversary and "
                f"in the {self.PLAYER}. Give their layers distinct names."
            )
        # `key in OptimizerMap` is always true (unknown keys map to the
        # default optimizer), so compare with the keys themselves.
        mapped = set(iter(self._optimizer_map))
        for path in sorted(adversary_paths):
            key = re.escape(path)
            if key not in mapped:
                self._optimizer_map[key] = self._player_optimizers[ADVERSARY]

    @property
    def player_optimizer(self):
        """The optimizer of the non-adversary player."""
        return self._player_optimizers[self.PLAYER]

    @property
    def adversary_optimizer(self):
        """The optimizer of the adversary."""
        return self._player_optimizers[ADVERSARY]

    def get_compile_config(self):
        if not getattr(self, "_player_optimizers", None):
            return {}
        return {
            "optimizer": keras.saving.serialize_keras_object(self.player_optimizer),
            "adversary_optimizer": keras.saving.serialize_keras_object(
                self.adversary_optimizer
            ),
            **self._game_compile_kwargs,
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("optimizer", "adversary_optimizer"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        self.compile(**config)
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def players(self):
        adversary_ids = {id(v) for v in self.adversary.trainable_variables}
        variables = self.trainable_variables
        return {
            self.PLAYER: (
                [v for v in variables if id(v) not in adversary_ids],
                self.player_optimizer,
            ),
            ADVERSARY: (
                [v for v in variables if id(v) in adversary_ids],
                self.adversary_optimizer,
            ),
        }

    @property
    def update_schedule(self):
        """Simultaneous updates, or `adversary_steps` adversary updates first."""
        if self.adversary_steps is None:
            return ((self.PLAYER, ADVERSARY),)
        return ((ADVERSARY,),) * self.adversary_steps + ((self.PLAYER,),)


def adversary_logits(adversary, context, z_posterior, z_reference=None, training=False):
    """The adversary's logits T(context, z) on posterior and reference codes.

    Both batches go through the adversary as one batch of `2n` rows, so
    each of its layers runs once instead of twice: on eager backends
    (PyTorch) the per-layer overhead is paid once, and one larger matmul
    replaces two. An adversary whose layers mix examples of a batch (batch
    normalisation) therefore normalises posterior and reference codes
    together. With `z_reference=None` only the posterior logits are
    computed (a phase that does not update the adversary needs no more).

    Args:
        adversary: a layer called on `[context, z]`, returning `(n, 1)` or
            `(n,)` logits.
        context: the conditioning input, `(n, ...)` (x for AVB, a
            `(n, 0)` tensor for an unconditional sampler).
        z_posterior: `(n, d)` codes from q (after Adaptive Contrast's
            normalisation, if any).
        z_reference: `(n, d)` codes from the reference distribution, or None.
        training: passed to the adversary.

    Returns:
        `t_posterior`, or `(t_posterior, t_reference)` when `z_reference` is
        given; float32 vectors of length `n`.

    Example:

    >>> import numpy as np
    >>> adversary = keras.Sequential([keras.layers.Concatenate(), keras.layers.Dense(1)])
    >>> x = np.zeros((3, 2), "float32")
    >>> t_q, t_r = adversary_logits(
    ...     adversary, x, np.ones((3, 4), "float32"), np.zeros((3, 4), "float32"))
    >>> tuple(t_q.shape), tuple(t_r.shape)
    ((3,), (3,))
    """
    if z_reference is None:
        t = adversary([context, z_posterior], training=training)
        return ops.cast(ops.reshape(t, (-1,)), "float32")
    z = ops.concatenate(
        [ops.cast(z_posterior, "float32"), ops.cast(z_reference, "float32")], axis=0
    )
    t = adversary([ops.concatenate([context, context], axis=0), z], training=training)
    t_posterior, t_reference = ops.split(ops.cast(ops.reshape(t, (-1,)), "float32"), 2)
    return t_posterior, t_reference


def adversary_loss_and_metrics(t_posterior, t_reference):
    """The adversary's logistic loss and the values AVB-style models log.

    The adversary is trained to output positive logits on posterior codes
    and negative ones on reference codes (equation 3.3 of the paper); at
    its optimum `t_posterior` is log q(z) - log r(z).

    Returns:
        `(loss, values)`: the mean logistic loss and a dict with
        `adversary_loss`, `adversary_accuracy_posterior` (the share of
        posterior codes classified as such) and `adversary_accuracy_prior`
        (the same for reference codes).

    Example:

    >>> loss, values = adversary_loss_and_metrics(
    ...     ops.convert_to_tensor([2.0, -1.0]), ops.convert_to_tensor([-3.0, -1.0]))
    >>> round(float(values["adversary_accuracy_posterior"]), 2)
    0.5
    """
    loss = ops.mean(ops.softplus(-t_posterior) + ops.softplus(t_reference))
    return loss, {
        "adversary_loss": loss,
        "adversary_accuracy_posterior": ops.mean(ops.cast(t_posterior > 0, "float32")),
        "adversary_accuracy_prior": ops.mean(ops.cast(t_reference < 0, "float32")),
    }


def adversary_terms(adversary, context, z_posterior, draw_reference, players, training):
    """What one phase of the game needs from the adversary.

    Always the posterior logits (the other player's KL estimate uses them);
    when `players` includes the adversary, also its logistic loss and
    metrics, on reference codes drawn by `draw_reference(n)` (called only
    then: a phase that does not update the adversary draws none).

    Returns:
        `(t_posterior, losses, values)`: the float32 logits, `{ADVERSARY:
        loss}` or `{}`, and the adversary's metric values or `{}`.
    """
    if ADVERSARY not in players:
        return adversary_logits(adversary, context, z_posterior, training=training), {}, {}
    z_reference = draw_reference(ops.shape(z_posterior)[0])
    t_posterior, t_reference = adversary_logits(
        adversary, context, z_posterior, z_reference, training=training
    )
    loss, values = adversary_loss_and_metrics(t_posterior, t_reference)
    return t_posterior, {ADVERSARY: loss}, values


def default_optimizer(learning_rate):
    """The players' default optimizer: `Adam(learning_rate, beta_1=0.5)`, as in the paper.

    `learning_rate` may be a number or a
    `keras.optimizers.schedules.LearningRateSchedule`.

    Example:

    >>> optimizer = default_optimizer(1e-4)
    >>> type(optimizer).__name__, optimizer.beta_1
    ('Adam', 0.5)
    """
    return keras.optimizers.Adam(learning_rate, beta_1=0.5)


def _get_optimizer(identifier, default_learning_rate):
    if identifier is None:
        return default_optimizer(default_learning_rate)
    return keras.optimizers.get(identifier)


def check_adversary_steps(adversary_steps):
    """Raises `ValueError` unless `adversary_steps` is None or an int >= 1."""
    if adversary_steps is not None and (
        isinstance(adversary_steps, bool)
        or not isinstance(adversary_steps, int)
        or adversary_steps < 1
    ):
        raise ValueError(
            "`adversary_steps` must be None (simultaneous updates) or an "
            f"integer >= 1. Received: {adversary_steps!r}"
        )
    return adversary_steps


def adversary_steps_from_int(value):
    """`adversary_steps` from an integer, where None cannot be written.

    A command-line flag or a KerasTuner `Choice` (whose values are numbers,
    strings or booleans) has no None, so simultaneous updates
    (`adversary_steps=None`) are written 0 there. This reads such an
    integer back: 0 is None, `k >= 1` is `k`. `adversary_steps_to_int` is
    its inverse.

    Example:

    >>> adversary_steps_from_int(0) is None, adversary_steps_from_int(2)
    (True, 2)
    """
    value = validation.check_int(value, "adversary_steps", minimum=0)
    return None if value == 0 else value


def adversary_steps_to_int(adversary_steps):
    """`adversary_steps` (None or `k >= 1`) as an integer: 0 for None, else `k`.

    Example:

    >>> adversary_steps_to_int(None), adversary_steps_to_int(2)
    (0, 2)
    """
    return 0 if check_adversary_steps(adversary_steps) is None else adversary_steps
