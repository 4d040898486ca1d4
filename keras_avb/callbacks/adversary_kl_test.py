"""`AdversaryKLCheck` logs the KL gap at the right epochs and checks its input."""

import keras
import numpy as np
import pytest

from keras_avb.callbacks import AdversaryKLCheck
from keras_avb.evaluation import adversary_kl_check
from keras_avb.testing import four_point_data
from keras_avb.testing import tiny_avb

HELD_OUT = four_point_data(4, seed=1)


def test_the_keys_reach_history_at_the_checked_epochs_only(capsys):
    model = tiny_avb(adaptive_contrast=True, moment_samples=4)
    check = AdversaryKLCheck(HELD_OUT, every=2, num_samples=40, seed=0, verbose=1)
    history = model.fit(
        four_point_data(32), batch_size=16, epochs=5, callbacks=[check], verbose=0
    )
    assert sorted(check.results) == [1, 3]  # epochs 2 and 4, counted from 0
    for key in ("kl_adversary", "kl_independent", "kl_gap"):
        assert key in history.history, key
        assert len(history.history[key]) == 2, key
    # What History recorded is the mean of each check's per-example result.
    for logged, epoch in zip(history.history["kl_gap"], (1, 3)):
        assert logged == pytest.approx(check.results[epoch].gap_mean)
    for logged, epoch in zip(history.history["kl_adversary"], (1, 3)):
        assert logged == pytest.approx(float(np.mean(check.results[epoch].kl_adversary)))
    table = check.summaries()
    assert table["epoch"] == [1, 3]
    assert table["kl_gap"] == pytest.approx(history.history["kl_gap"])
    assert len(history.history["loss"]) == 5  # training went on normally
    lines = [l for l in capsys.readouterr().out.splitlines() if "AdversaryKLCheck" in l]
    assert [l.split(":")[0] for l in lines] == ["Epoch 2", "Epoch 4"], lines


def test_a_check_equals_a_direct_call_with_the_same_seed():
    model = tiny_avb(adaptive_contrast=False, moment_samples=4)
    check = AdversaryKLCheck(HELD_OUT, every=1, num_samples=30, seed=5)
    model.fit(four_point_data(32), batch_size=16, epochs=1, callbacks=[check], verbose=0)
    direct = adversary_kl_check(model, HELD_OUT, num_samples=30, seed=5, verbose=0)
    np.testing.assert_allclose(check.results[0].gap, direct.gap, rtol=1e-5, atol=1e-5)
    assert not check.results[0].adaptive_contrast


def test_data_that_does_not_fit_the_model_fails_before_training():
    model = tiny_avb(adaptive_contrast=True, moment_samples=4)
    check = AdversaryKLCheck(np.ones((3, 5), "float32"), num_samples=10)
    with pytest.raises(ValueError, match="shape \\(5,\\).*\\(4,\\)"):
        model.fit(
            four_point_data(32), batch_size=16, epochs=1, callbacks=[check], verbose=0
        )
    assert int(model.optimizer.iterations) == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(every=0), "`every` must be an integer >= 1"),
        (dict(every=1.5), "`every` must be an integer"),
        (dict(num_samples=3, k=3), "`num_samples` must be >= k \\+ 1 = 4"),
        (dict(k=0), "`k` must be an integer >= 1"),
        (dict(seed=keras.random.SeedGenerator(0)), "`seed` must be an integer or None"),
        (dict(verbose=3), "`verbose`"),
        (dict(x=None), "`x` is None"),
        (dict(x=np.zeros((0, 4))), "empty"),
    ],
)
def test_bad_arguments(kwargs, message):
    arguments = dict(x=HELD_OUT, num_samples=10)
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        AdversaryKLCheck(**arguments)
