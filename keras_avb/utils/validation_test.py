import re

import numpy as np
import pytest

from keras_avb import architectures
from keras_avb import datasets
from keras_avb import evaluation
from keras_avb.utils import validation


def test_check_choice_returns_an_allowed_value():
    assert validation.check_choice("ais", "method", ("ais", "importance")) == "ais"
    assert validation.check_choice(np.str_("ais"), "method", ["ais"]) == "ais"


def test_check_choice_accepts_none_where_it_is_a_choice():
    assert validation.check_choice(None, "binarization", ("dynamic", None)) is None
    with pytest.raises(ValueError, match="`binarization` must be one of"):
        validation.check_choice(None, "binarization", ("dynamic", "static"))


@pytest.mark.parametrize("value", ["nuts", "AIS", "", 0, ["ais"], b"ais"])
def test_check_choice_names_the_argument_and_the_choices(value):
    message = f"`method` must be one of ('ais', 'importance'). Received: {value!r}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        validation.check_choice(value, "method", ["ais", "importance"])


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda: evaluation.evaluate_log_likelihood(None, None, method="nuts"), "method"),
        (lambda: architectures.build_mnist_model("avb", architecture="rnn"), "architecture"),
        (lambda: architectures.synthetic_decoder(variant="huge"), "variant"),
        (lambda: datasets.load_mnist("missing.npz", binarization="threshold"), "binarization"),
    ],
    ids=["evaluate_log_likelihood", "build_mnist_model", "synthetic_decoder", "load_mnist"],
)
def test_entry_points_use_the_shared_message(call, name):
    with pytest.raises(ValueError, match=f"^`{name}` must be one of .* Received: "):
        call()
