"""Training for an exact number of steps: `fit_steps`.

`model.fit(data, epochs=E, steps_per_epoch=S)` does not always make `E * S`
updates. Keras carries the data iterator over from one epoch to the next
and ends an epoch early when the data runs out, so with 375-step epochs
over a 469-batch data set every second epoch stops after 94 batches
(the "ran out of data" warning is easy to miss behind the progress bar).
`fit_steps` trains exactly the number of steps asked for, whatever the
data, and checks the optimizer's step counter afterwards.
"""

import itertools
import math

import keras
import numpy as np

from keras_avb.models import input_checks
from keras_avb.utils import validation

#: `fit` arguments that `fit_steps` sets itself.
_COMPUTED = ("epochs", "initial_epoch")


def fit_steps(model, x, y=None, *, steps, steps_per_epoch=None, **kwargs):
    """Trains a compiled model for exactly `steps` steps (optimizer updates).

    Like `model.fit`, with the length of training given in steps: every
    epoch (one progress-bar line, one round of callbacks' `on_epoch_end`)
    has exactly `steps_per_epoch` steps, and the last one the remainder. To
    that end the data is cycled: when it is used up it starts again, with
    fresh shuffling (arrays with `shuffle=True`), a fresh pass of a
    `torch.utils.data.DataLoader`, a call to a `keras.utils.PyDataset`'s
    `on_epoch_end` (for example new Bernoulli draws of
    `keras_avb.datasets.DynamicBinarization`), or a repetition of a
    `tf.data.Dataset`. A Python generator or iterator is used as it is: it
    must yield at least `steps` batches.

    After training the function counts the steps Keras ran and reads the
    optimizer's step counter (`model.optimizer.iterations`, which `AVB`,
    `VAE`, the VI samplers and plain Keras models advance once per training
    step), and raises a `RuntimeError` if either differs from `steps`,
    unless a callback (such as `keras.callbacks.EarlyStopping`) stopped
    training early on purpose.

    Args:
        model: a compiled Keras model (`keras_avb.AVB`, `keras_avb.VAE` or
            any `keras.Model`).
        x: the training data, as for `model.fit`: an array (or a tuple or
            dict of arrays), a `keras.utils.PyDataset`, a `tf.data.Dataset`,
            a `torch.utils.data.DataLoader`, or a Python generator.
        y: targets for array `x`, as for `model.fit` (`AVB` and `VAE` take
            none).
        steps: the number of training steps, an integer >= 1.
        steps_per_epoch: steps per epoch; by default one pass over the data
            where its length is known (at most `steps`), else `steps`.
        **kwargs: other `model.fit` arguments (`batch_size`, `shuffle`,
            `callbacks`, `validation_data`, `verbose`, ...). `epochs` and
            `initial_epoch` are computed; `batch_size`, `shuffle` and
            `sample_weight` apply to array data only; `validation_split` is
            not supported (pass `validation_data`).

    Returns:
        The `History` of the single `model.fit` call.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> x, y = np.ones((10, 2)), np.ones((10, 1))
    >>> history = fit_steps(model, x, y, steps=7, steps_per_epoch=3,
    ...                     batch_size=4, verbose=0)
    >>> int(model.optimizer.iterations), len(history.history["loss"])
    (7, 3)
    """
    steps = validation.check_int(steps, "steps", minimum=1)
    steps_per_epoch = validation.check_int(
        steps_per_epoch, "steps_per_epoch", minimum=1, allow_none=True
    )
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            f"Call `model.compile()` before `fit_steps` ({type(model).__name__} "
            "has no optimizer, whose step counter `fit_steps` checks)."
        )
    for key in _COMPUTED:
        if key in kwargs:
            raise ValueError(
                f"`fit_steps` computes `{key}` from `steps` and "
                f"`steps_per_epoch`; do not pass it. Received: {key}={kwargs[key]!r}"
            )
    if kwargs.get("validation_split"):
        raise ValueError(
            "`fit_steps` does not support `validation_split`; pass "
            "`validation_data` instead."
        )
    kwargs.pop("validation_split", None)
    data, passes = _cycled(model, x, y, kwargs, steps)
    if steps_per_epoch is None:
        steps_per_epoch = passes or steps
    steps_per_epoch = min(steps_per_epoch, steps)
    execution = int(getattr(model, "steps_per_execution", 1) or 1)
    if execution > 1 and (steps_per_epoch % execution or steps % execution):
        raise ValueError(
            f"With `steps_per_execution={execution}` Keras trains in chunks of "
            f"{execution} steps: `steps` ({steps}) and `steps_per_epoch` "
            f"({steps_per_epoch}) must be multiples of it."
        )
    callbacks = list(kwargs.pop("callbacks", None) or [])
    # Keras uses a `ProgbarLogger` found among the callbacks instead of its
    # own; the budget sets its target to the length of the last epoch.
    progbars = [c for c in callbacks if isinstance(c, keras.callbacks.ProgbarLogger)]
    if not progbars and kwargs.get("verbose", "auto") != 0:
        progbars = [keras.callbacks.ProgbarLogger()]
        callbacks.append(progbars[0])
    budget = _StepBudget(steps, steps_per_epoch, progbars)
    start = _counter(model)
    history = model.fit(
        data,
        epochs=math.ceil(steps / steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        callbacks=[budget] + callbacks,
        shuffle=False,  # arrays are shuffled above; other data shuffles itself
        **kwargs,
    )
    trained = _counter(model) - start
    if model.stop_training and not budget.stopped:
        return history  # a callback (EarlyStopping, ...) stopped training
    if budget.done < steps:
        raise RuntimeError(
            f"Asked for {steps} training steps, but the data ran out after "
            f"{budget.done}: a generator or iterator must yield at least `steps` "
            "batches."
        )
    if trained != steps:
        raise RuntimeError(
            f"Asked for {steps} training steps and Keras ran {budget.done}, but "
            "the optimizer's step counter (`model.optimizer.iterations`) moved by "
            f"{trained}: the model's training step does not advance it once per step."
        )
    return history


def _counter(model):
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


def check_trained_steps(model, requested, start=0):
    """The steps `model` trained since `start`, read from its optimizer's counter.

    Raises `RuntimeError` unless they are `requested`: a figure that says
    how long a model trained must be what ran.

    Example:

    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> _ = model.fit(np.ones((8, 2)), np.ones(8), batch_size=4, verbose=0)
    >>> check_trained_steps(model, 2)
    2
    """
    trained = _counter(model) - int(start)
    if trained != requested:
        raise RuntimeError(
            f"Asked for {requested} training steps; the optimizer's step counter "
            f"(`model.optimizer.iterations`) says {trained}."
        )
    return trained


class _StepBudget(keras.callbacks.Callback):
    """Stops `fit` after `steps` steps (in the middle of the last epoch) and
    sets the progress bars' target to the length of that epoch."""

    def __init__(self, steps, steps_per_epoch, progbars=()):
        super().__init__()
        self.steps = steps
        self.steps_per_epoch = steps_per_epoch
        self.progbars = list(progbars)
        self.done = 0
        self.stopped = False
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        remaining = self.steps - epoch * self.steps_per_epoch
        if remaining < self.steps_per_epoch:  # the last epoch is shorter
            for progbar in self.progbars:
                progbar.target = remaining

    def on_train_batch_end(self, batch, logs=None):
        # `batch` is the index of the last step run (several with
        # `steps_per_execution`), counted from the start of the epoch.
        self.done = self._epoch * self.steps_per_epoch + batch + 1
        # `self._model`, not `self.model`: under JAX each `self.model` access
        # copies the training state back to the model (a sync every step).
        if self.done >= self.steps and not self._model.stop_training:
            self._model.stop_training = self.stopped = True


def _is_array(value):
    return hasattr(value, "shape") and hasattr(value, "__getitem__") and len(value.shape)


def _cycled(model, x, y, kwargs, steps=None):
    """`(data, batches_per_pass)`: `x` (and `y`) as endless data for `fit`.

    A keras_avb model's data checks run here, before the data becomes a
    generator (which `fit` cannot inspect).
    """
    check = getattr(model, "check_data", None)
    if check is not None:
        input_checks.check_one_input(x, "x", method="fit_steps")
    array_only = [k for k in ("batch_size", "shuffle", "sample_weight") if k in kwargs]
    leaves = keras.tree.flatten(x) if isinstance(x, (tuple, list, dict)) else [x]
    if leaves and all(_is_array(leaf) for leaf in leaves):
        return _cycled_arrays(model, x, y, kwargs, steps)
    if array_only or y is not None:
        names = ", ".join(f"`{k}`" for k in array_only + (["y"] if y is not None else []))
        raise ValueError(
            f"{names} apply to array data only; `x` is a {type(x).__name__}, "
            "which batches (and labels) its data itself."
        )
    if check is not None:
        check(x, name="x")
        input_checks.check_batch_moments_batch_size(model, x, None, "x", steps=steps)
    module = type(x).__module__
    if module.startswith("tensorflow") and hasattr(x, "repeat"):
        cardinality = int(x.cardinality())
        return x.repeat(), (cardinality if cardinality > 0 else None)
    if isinstance(x, keras.utils.PyDataset):
        batches = x.num_batches
        if batches is None:
            return x, None
        if batches == 0:
            raise ValueError("`x` is an empty PyDataset (0 batches).")
        return _cycle(_py_dataset_pass, x), batches
    if module.startswith("torch.utils.data"):
        try:
            batches = len(x)
        except TypeError:  # an IterableDataset of unknown length
            batches = None
        return _cycle(iter, x), batches
    return x, None


def _cycle(one_pass, source):
    """A generator over `one_pass(source)`, restarted whenever it ends."""
    empty = True
    for _ in itertools.count():
        for batch in one_pass(source):
            empty = False
            # Keras takes a generator's batches as `(x,)`, `(x, y)` or
            # `(x, y, sample_weight)` tuples.
            yield tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if empty:
            raise ValueError("`x` yields no batch.")


def _py_dataset_pass(dataset):
    for index in range(dataset.num_batches):
        yield dataset[index]
    dataset.on_epoch_end()


def _cycled_arrays(model, x, y, kwargs, steps=None):
    batch_size = validation.check_int(
        kwargs.pop("batch_size", None), "batch_size", minimum=1, allow_none=True
    ) or 32
    shuffle = kwargs.pop("shuffle", True)
    sample_weight = kwargs.pop("sample_weight", None)
    parts = [x] + [part for part in (y, sample_weight) if part is not None]
    if y is None and sample_weight is not None:
        parts = [x, None, sample_weight]
    sizes = {
        int(leaf.shape[0]) for part in parts if part is not None
        for leaf in keras.tree.flatten(part)
    }
    if len(sizes) != 1:
        raise ValueError(
            "The arrays of `x`, `y` and `sample_weight` must have the same number "
            f"of examples. Received sizes {sorted(sizes)}."
        )
    (count,) = sizes
    if count == 0:
        raise ValueError("`x` holds no examples.")
    check = getattr(model, "check_data", None)
    if check is not None:
        check(x, name="x")
    input_checks.check_batch_moments_batch_size(model, x, batch_size, "x", steps=steps)
    parts = [
        None if part is None else keras.tree.map_structure(np.asarray, part)
        for part in parts
    ]
    seed = np.random.randint(2**31)
    passes = itertools.count()

    def one_pass(_):
        order = np.arange(count)
        if shuffle:
            np.random.default_rng([seed, next(passes)]).shuffle(order)
        for begin in range(0, count, batch_size):
            index = order[begin: begin + batch_size]
            yield tuple(
                None if part is None
                else keras.tree.map_structure(lambda leaf: leaf[index], part)
                for part in parts
            )

    return _cycle(one_pass, None), math.ceil(count / batch_size)
