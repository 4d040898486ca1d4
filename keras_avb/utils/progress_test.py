"""Tests of the progress helpers: `verbose` values and where messages go."""

import logging

import keras
import numpy as np
import pytest

from keras_avb.utils.progress import VERBOSE_VALUES
from keras_avb.utils.progress import print_msg
from keras_avb.utils.progress import resolve_verbose


@pytest.mark.parametrize(
    "verbose, expected",
    [("auto", 1), (0, 0), (1, 1), (2, 2), (True, 1), (False, 0), (np.int64(2), 2)],
)
def test_resolve_verbose(verbose, expected):
    resolved = resolve_verbose(verbose)
    assert resolved == expected and type(resolved) is int


def test_every_documented_value_resolves():
    assert sorted(resolve_verbose(v) for v in VERBOSE_VALUES) == [0, 1, 1, 2]


@pytest.mark.parametrize("verbose", [3, -1, 1.0, "1", "silent", None])
def test_resolve_verbose_names_the_argument(verbose):
    message = (
        "`progress` must be 'auto', 0 (silent), 1 (progress bar) or 2 (one line "
        f"at the end). Received: {verbose!r}"
    )
    with pytest.raises(ValueError) as info:
        resolve_verbose(verbose, name="progress")
    assert str(info.value) == message


@pytest.fixture
def interactive_logging():
    """Yields a setter for Keras' interactive logging and restores it after."""
    was_enabled = keras.config.is_interactive_logging_enabled()

    def set_enabled(enabled):
        if enabled:
            keras.config.enable_interactive_logging()
        else:
            keras.config.disable_interactive_logging()

    yield set_enabled
    set_enabled(was_enabled)


def test_print_msg_writes_to_stdout_while_interactive_logging_is_on(
    interactive_logging, capsys, caplog
):
    interactive_logging(True)
    caplog.set_level(logging.INFO, logger="absl")
    print_msg("step 3 of 5")
    assert capsys.readouterr().out == "step 3 of 5\n"
    assert "step 3 of 5" not in caplog.text


def test_print_msg_writes_to_the_absl_log_when_it_is_off(interactive_logging, capsys, caplog):
    interactive_logging(False)
    caplog.set_level(logging.INFO, logger="absl")
    print_msg("step 4 of 5")
    assert capsys.readouterr().out == ""
    records = [r for r in caplog.records if r.getMessage() == "step 4 of 5"]
    assert len(records) == 1 and records[0].levelno == logging.INFO
