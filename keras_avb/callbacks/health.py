"""`TrainingMonitor`: AVB training that fails loudly instead of silently.

Two-player training can go wrong without any error: the adversary
saturates (it separates posterior from prior samples perfectly, so its
log-ratio estimate is unbounded) or collapses (its logit has one sign for
every input), the KL estimate turns negative, or a loss becomes NaN and
every later step trains on garbage. The monitor watches the metrics the
models already log (each player's loss, the adversary's accuracy on
posterior and on reference samples, and the KL estimate) and

- warns with a `TrainingHealthWarning` when the adversary's accuracies on
  posterior and on reference samples both stay within `tolerance` of 0 or
  1 (saturated: both near 1; collapsed: one near 0 and one near 1, i.e.
  the logit has one sign everywhere), or the KL estimate stays negative,
  for `patience` steps;
- stops training with a `NonFiniteLossError` that names the player whose
  loss became NaN or infinite and the step, before any later callback sees
  that step. With a `checkpoint_path` it also saves the model while
  training is healthy; a step's loss is computed before that step's update,
  so the weights are themselves checked before each save, and the last
  checkpoint written is always a finite one.

`AVB`, `VAE` and the VI samplers add a `TrainingMonitor()` to `fit` unless
the callbacks already hold one (pass `TrainingMonitor(enabled=False)` to
switch it off).
"""

import collections
import math
import os
import warnings

import keras

from keras_avb.utils import validation


class TrainingHealthWarning(RuntimeWarning):
    """Warns that the adversary or the KL estimate looks unhealthy."""


class NonFiniteLossError(FloatingPointError):
    """A player's loss became NaN or infinite during training.

    Attributes:
        step: the training step (counted from 1, as `optimizer.iterations`
            counts them) whose loss was not finite.
        players: the players whose losses were not finite.
        checkpoint_path: the last good checkpoint, or `None`.
        checkpoint_step: the step at which it was written, or `None`.
    """

    def __init__(self, message, step, players, checkpoint_path, checkpoint_step):
        super().__init__(message)
        self.step = step
        self.players = players
        self.checkpoint_path = checkpoint_path
        self.checkpoint_step = checkpoint_step


class _Window:
    """The mean of the last `size` per-step values of a metric.

    Keras logs the running mean of each metric since the start of the epoch;
    the mean over the steps since the previous call is recovered from two
    consecutive running means.
    """

    def __init__(self, size):
        self.size = size
        self.blocks = collections.deque()
        self.count = 0
        self.reset_epoch()

    def reset_epoch(self):
        self.last_steps = 0
        self.last_mean = 0.0

    def add(self, steps_in_epoch, running_mean):
        new_steps = steps_in_epoch - self.last_steps
        if new_steps <= 0:
            return
        block_mean = (
            steps_in_epoch * running_mean - self.last_steps * self.last_mean
        ) / new_steps
        self.last_steps, self.last_mean = steps_in_epoch, running_mean
        self.blocks.append((new_steps, block_mean))
        self.count += new_steps
        while self.count - self.blocks[0][0] >= self.size:
            self.count -= self.blocks.popleft()[0]

    def mean(self):
        """The mean over at least `size` steps, or `None` before that."""
        if self.count < self.size:
            return None
        return sum(n * m for n, m in self.blocks) / self.count


class TrainingMonitor(keras.callbacks.Callback):
    """Reports an unhealthy adversary and stops on NaN/inf losses.

    The model tells the monitor which logs to watch through three class
    attributes: `LOSS_METRICS` (player name -> loss metric),
    `ACCURACY_METRICS` (the adversary's accuracy on posterior and on
    reference samples) and `KL_METRIC`. For any other model every logged
    value is checked for NaN/inf.

    Args:
        patience: the number of consecutive steps a condition must hold
            before it is reported.
        tolerance: an accuracy within `tolerance` of 0 or 1 counts as stuck.
        checkpoint_path: where to save the model (`.keras`) or its weights
            (`.weights.h5`) while training is healthy; `None` saves nothing.
        checkpoint_every: save every this many steps; `None` saves at the end
            of each epoch.
        on_nonfinite: `"raise"` raises `NonFiniteLossError`; `"stop"` warns
            and sets `model.stop_training`.
        enabled: `False` switches every check off (and keeps `fit` from
            adding a default monitor).

    Attributes:
        events: the `(step, kind, message)` of every report so far.
        last_good_step: the step of the last checkpoint written, or `None`.

    Example:

    >>> import keras_avb, numpy as np
    >>> from keras_avb.testing import four_point_data
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(
    ...     tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> model.compile()
    >>> monitor = keras_avb.callbacks.TrainingMonitor(patience=100)
    >>> _ = model.fit(four_point_data(64), batch_size=16, callbacks=[monitor],
    ...               verbose=0)
    >>> monitor.events
    []
    """

    def __init__(
        self,
        patience=500,
        tolerance=0.02,
        checkpoint_path=None,
        checkpoint_every=None,
        on_nonfinite="raise",
        enabled=True,
    ):
        super().__init__()
        patience = validation.check_int(patience, "patience", minimum=1)
        validation.check_float(tolerance, "tolerance", minimum=0.0)
        if float(tolerance) >= 0.5:
            raise ValueError(f"`tolerance` must be in [0, 0.5). Received: {tolerance!r}")
        checkpoint_every = validation.check_int(
            checkpoint_every, "checkpoint_every", minimum=1, allow_none=True
        )
        if checkpoint_path is not None and not str(checkpoint_path).endswith(
            (".keras", ".weights.h5")
        ):
            raise ValueError(
                "`checkpoint_path` must end in `.keras` or `.weights.h5`. "
                f"Received: {checkpoint_path!r}"
            )
        validation.check_choice(on_nonfinite, "on_nonfinite", ("raise", "stop"))
        self.patience = patience
        self.tolerance = float(tolerance)
        self.checkpoint_path = None if checkpoint_path is None else str(checkpoint_path)
        self.checkpoint_every = checkpoint_every
        self.on_nonfinite = on_nonfinite
        self.enabled = bool(enabled)
        self.events = []
        self.last_good_step = None

    # ------------------------------------------------------------------
    # Keras hooks
    # ------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        model = self.model
        self._step = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
        # Read once: under JAX every `self.model` access syncs the training
        # state into the variables, which would cost a copy per step.
        self._loss_names = getattr(model, "LOSS_METRICS", None)
        self._accuracy_names = tuple(getattr(model, "ACCURACY_METRICS", ()))
        self._kl_name = getattr(model, "KL_METRIC", None)
        self._windows = {}
        self._active = set()
        self._saved_at = self._step

    def on_epoch_begin(self, epoch, logs=None):
        self._steps_in_epoch = 0
        for window in self._windows.values():
            window.reset_epoch()

    def on_train_batch_end(self, batch, logs=None):
        if not self.enabled or not logs:
            return
        first_step = self._step + 1
        self._step += batch + 1 - self._steps_in_epoch
        self._steps_in_epoch = batch + 1
        self._check_finite(logs, first_step)
        self._check_adversary(logs)
        if (
            self.checkpoint_every is not None
            and self._step - self._saved_at >= self.checkpoint_every
        ):
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if self.enabled and self.checkpoint_every is None:
            self._save()

    # ------------------------------------------------------------------
    # Checks
    # ------------------------------------------------------------------
    def _loss_metrics(self, logs):
        named = self._loss_names
        if named:
            return {player: name for player, name in named.items() if name in logs}
        return {name: name for name in logs}

    def _check_finite(self, logs, first_step):
        bad = [
            player
            for player, name in self._loss_metrics(logs).items()
            if not math.isfinite(float(logs[name]))
        ]
        if not bad:
            return
        steps = (
            f"step {self._step}"
            if first_step == self._step
            else f"one of steps {first_step}-{self._step}"
        )
        names = self._loss_metrics(logs)
        what = " and ".join(
            f"the {player} loss ({names[player]} = {float(logs[names[player]])}) is"
            for player in bad
        )
        self._diverged(steps, what, bad)

    def _diverged(self, steps, what, players):
        if self.last_good_step is None:
            kept = (
                "No checkpoint was written before; pass "
                "`TrainingMonitor(checkpoint_path=...)` to keep the last good state."
            )
        else:
            kept = (
                f"The last good checkpoint, from step {self.last_good_step}, is "
                f"kept at {self.checkpoint_path}."
            )
        message = (
            f"Training diverged at {steps}: {what} not finite. Lower the "
            f"learning rates, clip gradients, or check the data. {kept}"
        )
        self.events.append((self._step, "nonfinite", message))
        self._model.stop_training = True
        if self.on_nonfinite == "raise":
            raise NonFiniteLossError(
                message, self._step, players, self.checkpoint_path, self.last_good_step
            )
        warnings.warn(message, TrainingHealthWarning, stacklevel=2)

    def _windowed(self, name, logs):
        window = self._windows.get(name)
        if window is None:
            window = self._windows[name] = _Window(self.patience)
        window.add(self._steps_in_epoch, float(logs[name]))
        return window.mean()

    def _check_adversary(self, logs):
        accuracies = [
            name for name in self._accuracy_names if name in logs
        ]
        means = {name: self._windowed(name, logs) for name in accuracies}
        stuck = accuracies and all(
            mean is not None and min(mean, 1.0 - mean) <= self.tolerance
            for mean in means.values()
        )
        if stuck:
            values = ", ".join(f"{name} = {mean:.3f}" for name, mean in means.items())
            if all(mean > 0.5 for mean in means.values()):
                meaning = (
                    "the adversary separates posterior from reference samples "
                    "perfectly (saturated), so its log-density ratio, and the KL "
                    "estimate built on it, are unreliable"
                )
            elif all(mean < 0.5 for mean in means.values()):
                meaning = (
                    "the adversary labels posterior and reference samples the "
                    "wrong way round, so it estimates the negated log-density ratio"
                )
            else:
                meaning = (
                    "the adversary's logit has one sign for every input "
                    "(collapsed), so it no longer estimates the log-density ratio"
                )
            self._report(
                "adversary",
                f"Adversary accuracy stuck near 0 or 1 over the last "
                f"{self.patience} steps ({values}): {meaning}. Try a larger "
                "adversary, a higher adversary learning rate, more "
                "`adversary_steps`, or Adaptive Contrast.",
            )
        else:
            self._active.discard("adversary")
        kl_name = self._kl_name
        if kl_name and kl_name in logs:
            mean = self._windowed(kl_name, logs)
            if mean is not None and mean < 0.0:
                self._report(
                    "negative_kl",
                    f"The KL estimate ({kl_name}) has averaged {mean:.4g} < 0 over "
                    f"the last {self.patience} steps; a KL divergence is never "
                    "negative, so the adversary underestimates it. Train the "
                    "adversary more (a higher learning rate or more "
                    "`adversary_steps`) or give it more capacity.",
                )
            else:
                self._active.discard("negative_kl")

    def _report(self, kind, message):
        # One warning when a condition starts; another only after it cleared.
        if kind in self._active:
            return
        self._active.add(kind)
        message = f"Step {self._step}: {message}"
        self.events.append((self._step, kind, message))
        warnings.warn(message, TrainingHealthWarning, stacklevel=2)

    # ------------------------------------------------------------------
    # Checkpoints
    # ------------------------------------------------------------------
    def _nonfinite_players(self):
        """The players with a NaN or infinite variable."""
        players = getattr(self.model, "players", None)
        groups = (
            {name: variables for name, (variables, _) in players().items()}
            if players is not None
            else {"model": self.model.trainable_variables}
        )
        return [
            name
            for name, variables in groups.items()
            if not all(
                bool(keras.ops.convert_to_numpy(keras.ops.all(keras.ops.isfinite(v))))
                for v in variables
            )
        ]

    def _save(self):
        if self.checkpoint_path is None or self._model.stop_training:
            return
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()  # Under JAX the variables only hold the state after a sync.
        # A step's loss is computed before its update, so the weights a step
        # leaves behind are checked directly before they are saved.
        bad = self._nonfinite_players()
        if bad:
            self._diverged(
                f"step {self._step}",
                " and ".join(f"the {player}'s weights are" for player in bad),
                bad,
            )
            return
        directory = os.path.dirname(self.checkpoint_path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if self.checkpoint_path.endswith(".weights.h5"):
            self.model.save_weights(self.checkpoint_path)
        else:
            self.model.save(self.checkpoint_path)
        self.last_good_step = self._saved_at = self._step


def with_training_monitor(callbacks):
    """`callbacks` with a default `TrainingMonitor` first, unless one is there.

    The monitor goes first so that a non-finite step stops training before
    any other callback (a `ModelCheckpoint`, say) sees it.
    """
    if callbacks is None:
        callbacks = []
    elif isinstance(callbacks, keras.callbacks.CallbackList):
        return callbacks
    else:
        callbacks = list(callbacks)
    if any(isinstance(callback, TrainingMonitor) for callback in callbacks):
        # A disabled monitor is left out: any batch-end hook makes Keras
        # fetch the logs every step.
        monitors = [
            c for c in callbacks if isinstance(c, TrainingMonitor) and c.enabled
        ]
        others = [c for c in callbacks if not isinstance(c, TrainingMonitor)]
        return monitors + others
    return [TrainingMonitor()] + callbacks
