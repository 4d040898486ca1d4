"""`AdversaryKLCheck`: the adversary's KL estimate checked during training."""

import keras

from keras_avb.evaluation import adversary_kl
from keras_avb.utils import data_checks
from keras_avb.utils import progress
from keras_avb.utils import validation

#: The keys the callback adds to the epoch logs (and so to `History`).
LOG_KEYS = ("kl_adversary", "kl_independent", "kl_gap")


class AdversaryKLCheck(keras.callbacks.Callback):
    """Runs `keras_avb.evaluation.adversary_kl_check` every N epochs.

    On held-out examples `x`, compares the AVB model's KL term (the
    adversary's estimate, plus the closed-form Gaussian part under Adaptive
    Contrast) with an independent k-nearest-neighbour estimate, and adds
    the means over the examples to the epoch's logs, so that `History`
    records them (and the progress bar shows them):

    - `kl_adversary`: the model's KL term, what its `kl` metric estimates;
    - `kl_independent`: the estimate with the kNN in place of the adversary;
    - `kl_gap`: their difference. Negative: the adversary underestimates
      the KL, and `adversarial_elbo` is optimistic by about `-kl_gap` nats
      per example. The kNN estimator has its own finite-sample bias (see
      `adversary_kl_check`), so judge small gaps against
      `keras_avb.evaluation.adversary_kl.knn_calibration`.

    The keys are added only at the epochs checked: with `every=2`,
    `history.history["kl_gap"][j]` belongs to epoch `2 * (j + 1)` (counted
    from 1). `results` maps each checked epoch (counted from 0, as
    `History.epoch`) to the full per-example `AdversaryKLResult`.

    The check uses its own noise (the same `seed` every time, so that the
    numbers of successive epochs differ by the model, not by the noise)
    and leaves the model's weights and noise stream alone. It costs
    `len(x) * num_samples` codes through the encoder and adversary and a
    kNN search per example.

    `x` and the counts are checked on construction, and `x` against the
    model when training begins; a check that fails during training (an
    encoder whose codes repeat, so its KL is infinite) raises its
    `ValueError`, which stops `fit`.

    Args:
        x: held-out examples, an array of shape `(num_examples,) +
            data_shape`. Checked against the model when training begins.
        every: run after every this many epochs.
        num_samples: codes per example, >= `k + 1`.
        k: the neighbour of the kNN estimator.
        seed: seed of the check's noise (an integer, or None for fresh
            noise at every check).
        batch_size: examples per call to the networks (see
            `adversary_kl_check`).
        verbose: 1 (or True, or `"auto"`) prints one line per check; 0
            (default) prints nothing.

    Example:

    >>> import keras_avb
    >>> from keras_avb.testing import four_point_data
    >>> from keras_avb.testing import tiny_black_box_encoder, tiny_decoder
    >>> model = keras_avb.AVB(tiny_black_box_encoder(), tiny_decoder(),
    ...     keras_avb.layers.ResidualAdversary(units=8, num_blocks=1))
    >>> model.compile()
    >>> check = keras_avb.callbacks.AdversaryKLCheck(
    ...     four_point_data(4, seed=1), every=2, num_samples=32)
    >>> history = model.fit(four_point_data(64), batch_size=16, epochs=2,
    ...                     callbacks=[check], verbose=0)
    >>> len(history.history["kl_gap"]), sorted(check.results)
    (1, [1])
    """

    def __init__(
        self,
        x,
        every=1,
        num_samples=1000,
        k=adversary_kl.DEFAULT_K,
        seed=0,
        batch_size=None,
        verbose=0,
    ):
        super().__init__()
        self.every = validation.check_int(every, "every", minimum=1)
        self.k = validation.check_int(k, "k", minimum=1)
        self.num_samples = validation.check_int(num_samples, "num_samples", minimum=2)
        if self.num_samples < self.k + 1:
            raise ValueError(
                f"`num_samples` must be >= k + 1 = {self.k + 1} for the kNN "
                f"estimator with k = {self.k}. Received: {num_samples}"
            )
        if isinstance(seed, keras.random.SeedGenerator):
            raise ValueError(
                "`seed` must be an integer or None: the callback draws from "
                "the same seed at every check."
            )
        self.seed = validation.check_seed(seed)
        self.batch_size = validation.check_int(
            batch_size, "batch_size", minimum=1, allow_none=True
        )
        self.verbose = progress.resolve_verbose(verbose)
        self.x = data_checks.check_examples(x, name="x")
        self.results = {}

    def _check_model(self):
        return adversary_kl.check_arguments(
            self.model, self.x, self.num_samples, self.k, self.seed, self.batch_size
        )

    def on_train_begin(self, logs=None):
        from keras_avb.models import AVB

        # Fail before the first step. A model that is not built yet (an
        # encoder that is not functional) is checked at the first check.
        if isinstance(self.model, AVB) and self.model.data_shape is None:
            return
        self._check_model()

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        result = adversary_kl.adversary_kl_check(
            self.model,
            self.x,
            num_samples=self.num_samples,
            k=self.k,
            seed=self.seed,
            batch_size=self.batch_size,
            verbose=0,
        )
        self.results[epoch] = result
        summary = result.summary()
        if logs is not None:
            logs.update({key: summary[key] for key in LOG_KEYS})
        if self.verbose:
            progress.print_msg(f"\nEpoch {epoch + 1}: AdversaryKLCheck: {result.report()}")

    def summaries(self):
        """The checked epochs (from 0) and the means over the examples.

        A dict of lists, one entry per check: `epoch` and the keys of
        `AdversaryKLResult.summary()`.
        """
        epochs = sorted(self.results)
        table = {"epoch": epochs}
        for epoch in epochs:
            for key, value in self.results[epoch].summary().items():
                table.setdefault(key, []).append(value)
        return table
