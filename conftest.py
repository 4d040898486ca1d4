"""Pytest set-up shared by every test: a fresh Keras session and seed.

The autouse fixture below applies to docstring examples too (pytest runs
autouse fixtures for doctest items), so each example starts from a cleared
session and seed 0.
"""

import keras
import pytest

if keras.backend.backend() == "torch":
    import torch

    # The tests run tiny models, for which PyTorch's intra-op thread pool
    # costs more than it gains, and on a busy 2-core machine it thrashes
    # (a 200-step fit took 13x longer with 2 threads than with 1).
    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _clear_session():
    # `free_memory=False`: no `gc.collect()` before every test. With three
    # backends' objects on the heap it took about 1 s a test under JAX (638
    # of the suite's 1461 s on one core); Python's own collector still runs.
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(0)
    yield


# -- Docstring examples -------------------------------------------------------
# `pyproject.toml` adds `--doctest-modules`, so the README's test command runs
# every `>>>` example of the package on the active backend. Two kinds of
# module are handled here, explicitly, so that collection is safe everywhere:

#: Modules that import (or only make sense) under a single Keras backend:
#: they are not collected under the other backends.
BACKEND_ONLY_MODULES = {
    "keras_avb/backend/jax.py": "jax",
    "keras_avb/backend/tensorflow.py": "tensorflow",
    "keras_avb/backend/torch.py": "torch",
    "keras_avb/trainers/jax_trainer.py": "jax",
    "keras_avb/trainers/tensorflow_trainer.py": "tensorflow",
    "keras_avb/trainers/torch_trainer.py": "torch",
    "keras_avb/trainers/torch_trainer_test.py": "torch",
}

#: Modules that are not libraries but scripts: never imported by doctest
#: collection (the export worker is run as `python -m` in a subprocess).
SCRIPT_MODULES = ("keras_avb/export/_worker.py",)

#: Docstring examples that need TensorFlow Probability, which has
#: TensorFlow and JAX substrates but none for PyTorch: skipped, with that
#: reason, under the torch backend.
TFP_EXAMPLES = (
    "keras_avb.distributions.priors.TFPPrior",
    "keras_avb.vi.targets.tfp_log_prob_fn",
)

_ROOT = __import__("pathlib").Path(__file__).resolve().parent

#: Docstring examples that read MNIST from the project's shared data folder
#: (tests never download): they run with `$KERAS_AVB_DATA_DIR` pointing
#: there, and are skipped, with that reason, where the archives are absent.
DATA_EXAMPLES = {
    "keras_avb.datasets.mnist.load_mnist": "mnist.npz",
    "keras_avb.datasets.mnist.load_binarized_mnist": "binarized_mnist.npz",
}
_SHARED_DATA = _ROOT.parent / "shared" / "data"


def _relative(path):
    try:
        return path.resolve().relative_to(_ROOT).as_posix()
    except ValueError:
        return None


def pytest_ignore_collect(collection_path, config):
    relative = _relative(collection_path)
    if relative in SCRIPT_MODULES:
        return True
    owner = BACKEND_ONLY_MODULES.get(relative)
    if owner is not None and owner != keras.backend.backend():
        return True
    return None


def pytest_collection_modifyitems(config, items):
    skip_tfp = pytest.mark.skip(
        reason="needs TensorFlow Probability, which has no PyTorch substrate "
        "(runs under the tensorflow and jax backends)"
    )
    for item in items:
        if not isinstance(item, pytest.DoctestItem):
            continue
        if item.name in TFP_EXAMPLES and keras.backend.backend() == "torch":
            item.add_marker(skip_tfp)
        archive = DATA_EXAMPLES.get(item.name)
        if archive is not None and not (_SHARED_DATA / archive).exists():
            item.add_marker(pytest.mark.skip(reason=f"needs {_SHARED_DATA / archive}"))


@pytest.fixture(autouse=True)
def _shared_data_for_docstring_examples(request, monkeypatch):
    """The MNIST examples read the shared data folder, never the network."""
    if isinstance(request.node, pytest.DoctestItem) and request.node.name in DATA_EXAMPLES:
        monkeypatch.setenv("KERAS_AVB_DATA_DIR", str(_SHARED_DATA))
    yield


@pytest.fixture(autouse=True)
def _quiet_docstring_examples(request):
    """Docstring examples run with Keras' interactive logging off.

    The long-running functions show a progress bar by default
    (`verbose="auto"`); with interactive logging disabled, as on a server,
    `keras.utils.Progbar` writes to absl's log instead of stdout, so the bar
    does not become part of an example's expected output.
    """
    if not isinstance(request.node, pytest.DoctestItem):
        yield
        return
    was_enabled = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        yield
    finally:
        if was_enabled:
            keras.config.enable_interactive_logging()
