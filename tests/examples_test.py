"""Smoke tests of the scripts in `examples/`: each runs end to end, with tiny
settings, under the active Keras backend (CI runs the suite once per backend),
and writes the files it promises.

The settings prove that the scripts run, not that they reach the paper's
numbers: a few training steps, tiny samples, few AIS steps. The MNIST scripts
read the local `../shared/data/mnist.npz` (relative to the repository root);
they are skipped, with the reason, when it is missing. Nothing is downloaded.
"""

import importlib.util
import json
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
MNIST_DATA = REPO.parent / "shared" / "data" / "mnist.npz"
BACKEND = keras.backend.backend()

needs_mnist = pytest.mark.skipif(
    not MNIST_DATA.is_file(),
    reason=f"the MNIST examples read the local {MNIST_DATA} (never downloaded), "
    "which is missing",
)


def load_example(name):
    """Imports `examples/<name>.py` as a fresh module (examples/ is no package)."""
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"examples_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def assert_png(path):
    path = Path(path)
    assert path.is_file(), f"{path.name} was not written"
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert path.stat().st_size > 100, f"{path.name} is (nearly) empty"


def assert_finite(value, name):
    assert isinstance(value, (int, float)), f"{name} = {value!r} is not a number"
    assert math.isfinite(value), f"{name} = {value!r} is not finite"


def printed_number(pattern, out):
    """The float that `pattern` (with one group) captures in printed `out`."""
    match = re.search(pattern, out)
    assert match, f"{pattern!r} not in the output:\n{out[-2000:]}"
    return float(match.group(1))


def test_toy_posteriors(tmp_path, capsys):
    load_example("toy_posteriors").main([
        "--steps", "3", "--batch-size", "32", "--adversary-units", "8",
        "--adversary-blocks", "1", "--num-samples", "50",
        "--output-dir", str(tmp_path),
    ])
    assert_png(tmp_path / "toy_posteriors.png")
    out = capsys.readouterr().out
    for target in ("banana", "ring"):
        value = printed_number(rf"{target}: .*mean log p\(samples\) = (\S+),", out)
        assert_finite(value, f"{target} mean log p(samples)")
        steps = printed_number(rf"{target}: (\d+) steps \(optimizer's counter\)", out)
        assert steps == 3


def test_eight_schools_defaults_are_fit_posteriors():
    import inspect

    from keras_avb.vi import api

    args = load_example("eight_schools").parse_args([])
    defaults = inspect.signature(api.fit_posterior).parameters
    assert args.steps == api.DEFAULT_STEPS["avb"]
    assert args.avb_learning_rate == api.DEFAULT_LEARNING_RATES["avb"]
    assert args.batch_size == defaults["batch_size"].default
    assert api.DEFAULT_SCHEDULES["avb"] == "cosine"


def test_eight_schools_shipped_reference():
    example = load_example("eight_schools")
    args = example.parse_args([])
    samples, info = example.load_reference(args, BACKEND)
    assert samples.shape == (example.REFERENCE_DRAWS, example.EVENT_SIZE)
    assert len(np.unique(samples, axis=0)) == len(samples)
    # A long run: mixed chains, many effective draws, both modes equally.
    assert info["max_rhat"] < 1.01
    assert info["min_ess"] > 2 * example.REFERENCE_DRAWS
    assert info["num_chains"] == example.REFERENCE_RUN["num_chains"]
    assert abs(np.mean(samples[:, 1] > 0) - 0.5) < 0.02
    # The posterior's known features: mu near 0.8, |tau| well away from 0.
    assert 0.5 < samples[:, 0].mean() < 1.1
    assert np.median(np.abs(samples[:, 1])) > 0.3


def test_eight_schools(tmp_path):
    results = load_example("eight_schools").main([
        "--steps", "4", "--eval-every", "2", "--batch-size", "32",
        "--num-samples", "40", "--reference", "hmc", "--hmc-chains", "8",
        "--hmc-burnin", "20", "--hmc-results", "20", "--hmc-thinning", "1",
        # One AVB and one ADVI method cover both branches of the script (the
        # other two differ only in library options); each fit costs seconds
        # of compilation.
        "--methods", "avb_ac,advi_fullrank",
        "--output-dir", str(tmp_path),
    ])
    for name in ("kl_vs_iterations.png", "marginals.png"):
        assert_png(tmp_path / name)
    with open(tmp_path / "results.json") as f:
        saved = json.load(f)
    assert saved["backend"] == BACKEND
    table = saved["kl_final"]
    assert set(table) == {"AVB + AC", "ADVI full-rank"}
    for method, row in table.items():
        for key, value in row.items():
            assert_finite(value, f"{method} {key}")
    for method, curve in saved["kl_curves"].items():
        # One evaluation every 2 of the 4 steps.
        assert [point[0] for point in curve] == [2, 4], method
    assert_finite(saved["noise_floor"], "noise_floor")
    # Read from each method's optimizer.
    assert saved["training_steps"] == {"avb_ac": 4, "advi_fullrank": 4}
    assert 0.0 <= saved["hmc_p_tau_positive"] <= 1.0
    assert results["kl_final"] == table


def test_synthetic(tmp_path):
    results = load_example("synthetic").main([
        # Step counts that epochs of 2 do not divide (the script used to
        # train round(5 / 2) * 2 = 4 and round(3 / 2) * 2 = 4 steps).
        "--steps", "5", "--vae-steps", "3", "--steps-per-epoch", "2",
        "--batch-size", "16", "--adversary-units", "8", "--adversary-blocks", "1",
        "--eval-samples", "200", "--quadrature-points", "20", "--verbose", "0",
        "--kl-check-samples", "30", "--save-dir", str(tmp_path),
    ])
    assert_png(tmp_path / "synthetic_latents.png")
    for name in ("avb", "vae"):
        assert (tmp_path / f"{name}.keras").stat().st_size > 0
    with open(tmp_path / "results.json") as f:
        saved = json.load(f)
    assert saved["backend"] == BACKEND
    assert set(saved["results"]) == {"avb", "vae"}
    for name, row in saved["results"].items():
        for key in ("log_likelihood", "reconstruction_error", "elbo", "iw_bound", "kl",
                    "kl_aggregated_posterior"):
            assert_finite(row[key], f"{name} {key}")
        # log p(x) of a discrete distribution over 4 points.
        assert row["log_likelihood"] <= 0.0
        # Only the VAE's ELBO is a bound; AVB's uses the adversary's estimate.
        assert row["elbo_is_bound"] == (name == "vae")
    assert results["avb"]["elbo"] == saved["results"]["avb"]["elbo"]
    # The adversary's KL is checked against a kNN estimate (AVB only).
    check = saved["results"]["avb"]["kl_check"]
    assert check["kl_gap"] == pytest.approx(check["kl_adversary"] - check["kl_independent"])
    assert check["kl_gap_standard_error"] > 0
    assert saved["results"]["vae"]["kl_check"] is None
    for name, steps in (("avb", 5), ("vae", 3)):
        assert saved["results"][name]["train_steps"] == steps
        # The saved model's optimizer made exactly that many updates.
        model = keras.saving.load_model(tmp_path / f"{name}.keras")
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == steps, name


@needs_mnist
def test_mnist(tmp_path):
    results = load_example("mnist").main([
        "--model", "avb_ac", "--latent-dim", "2", "--steps", "3",
        "--steps-per-epoch", "3", "--batch-size", "16",
        "--adversary-units", "8", "--adversary-depth", "1",
        "--eval-examples", "8", "--ais-steps", "3", "--ais-chains", "2",
        "--ais-batch-size", "8", "--data", str(MNIST_DATA), "--verbose", "0",
        "--save-dir", str(tmp_path),
    ])
    for name in ("samples.png", "reconstructions.png"):
        assert_png(tmp_path / name)
    assert (tmp_path / "avb_ac_2d_mlp.keras").stat().st_size > 0
    log_px = np.load(tmp_path / "ais_log_px_8.npy")
    assert log_px.shape == (8,) and np.all(np.isfinite(log_px))
    with open(tmp_path / "results.json") as f:
        saved = json.load(f)
    assert saved["backend"] == BACKEND
    assert saved["steps"] == 3 and saved["eval_examples"] == 8
    for key in ("elbo", "iw_bound", "ais", "ais_standard_error"):
        assert_finite(saved[key], key)
        assert saved[key] == results[key]
    assert "not a bound" in saved["elbo_kind"]  # avb_ac: the adversary's estimate
    # Log-likelihoods of binary 784-pixel images are negative.
    assert saved["elbo"] < 0.0 and saved["ais"] < 0.0


def tiny_mnist_archive(path, binarization):
    """An `.npz` of 80 training images: 5 batches of 16, so that epochs of 3
    steps do not divide a pass over the data."""
    rng = np.random.default_rng(0)
    if binarization == "dynamic":
        images = lambda n: rng.integers(0, 256, (n, 28, 28), dtype="uint8")  # noqa: E731
        labels = lambda n: rng.integers(0, 10, n, dtype="uint8")  # noqa: E731
        np.savez(path, x_train=images(80), y_train=labels(80), x_test=images(16),
                 y_test=labels(16))
    else:  # the layout of Larochelle and Murray's binarized MNIST
        bits = lambda n: (rng.random((n, 784)) < 0.3).astype("uint8")  # noqa: E731
        np.savez(path, train=bits(80), valid=bits(16), test=bits(16))
    return path


def example_help(name, capsys):
    """What `python examples/<name>.py --help` prints."""
    with pytest.raises(SystemExit):
        load_example(name).parse_args(["--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["mnist", "synthetic", "eight_schools", "toy_posteriors", "tune"]
)
def test_help_shows_the_defaults(name, capsys):
    if name == "tune":
        pytest.importorskip("keras_tuner")
    text = example_help(name, capsys)
    assert "(default: None)" not in text
    # Every option that takes a value states its default.
    options = text.split("options:", 1)[1]
    for option in re.findall(r"^  (--[a-z0-9-]+) [A-Z_0-9]+", options, flags=re.M):
        entry = options.split(f"  {option} ", 1)[1].split("\n  -", 1)[0]
        assert "default" in entry, f"{name} {option}: no default in --help"
    if name == "mnist":
        assert "1,000,000 training steps" in " ".join(text.split())


@pytest.mark.parametrize(
    "binarization, model", [("dynamic", "avb_ac"), ("static", "vae")]
)
def test_mnist_trains_exactly_the_requested_steps(tmp_path, capsys, binarization, model):
    # 10 steps in epochs of 3 over 5 batches: a plain `fit(epochs=4,
    # steps_per_epoch=3)` ran 3 + 2 + 3 + 2 steps (an epoch ends when the
    # data runs out) and the script reported 12.
    data = tiny_mnist_archive(tmp_path / f"{binarization}.npz", binarization)
    results = load_example("mnist").main([
        "--model", model, "--latent-dim", "2", "--steps", "10",
        "--steps-per-epoch", "3", "--batch-size", "16",
        "--adversary-units", "8", "--adversary-depth", "1",
        "--eval-examples", "8", "--ais-steps", "2", "--ais-chains", "2",
        "--ais-batch-size", "8", "--data", str(data), "--verbose", "0",
        "--save-dir", str(tmp_path),
    ])
    with open(tmp_path / "results.json") as f:
        saved = json.load(f)
    assert saved["steps"] == 10
    assert results["steps"] == saved["steps_requested"] == 10
    assert saved["adversary_steps"] is None  # the flag's default 0: simultaneous
    # The saved model's optimizer made the 10 updates.
    loaded = keras.saving.load_model(tmp_path / f"{model}_2d_mlp.keras")
    assert int(keras.ops.convert_to_numpy(loaded.optimizer.iterations)) == 10
    out = capsys.readouterr().out
    assert printed_number(r"for (\d+) steps of batch", out) == 10
    assert printed_number(r"trained (\d+) steps \(the optimizer's step counter\)", out) == 10


@pytest.mark.parametrize("flag, expected", [("0", None), ("3", 3)])
def test_mnist_adversary_steps_flag_writes_simultaneous_updates_as_0(flag, expected):
    mnist = load_example("mnist")
    args = mnist.resolve(mnist.parse_args(["--adversary-steps", flag]))
    assert args.adversary_steps == expected
    with pytest.raises(ValueError, match="`adversary_steps` must be an integer >= 0"):
        mnist.resolve(mnist.parse_args(["--adversary-steps", "-1"]))


@needs_mnist
def test_tune(tmp_path, capsys):
    # Not --quick, which fixes 2 trials on 4000 images (about 40 s under JAX
    # on 2 CPU cores): one trial of the default search space on 2 batches
    # runs the same search, reload and evaluation.
    load_example("tune").main([
        "--max-trials", "1", "--epochs", "1", "--train-size", "256",
        "--val-size", "128", "--data", str(MNIST_DATA), "--directory", str(tmp_path),
    ])
    out = capsys.readouterr().out
    elbo = printed_number(r"Best model on the validation set: IW bound (\S+),", out)
    assert_finite(elbo, "validation ELBO")
    trials = sorted((tmp_path / "avb_mnist").glob("trial_*/trial.json"))
    assert len(trials) == 1
    for path in trials:
        with open(path) as f:
            trial = json.load(f)
        assert trial["status"] == "COMPLETED", trial["status"]
        assert_finite(trial["score"], f"{path.parent.name} score")
