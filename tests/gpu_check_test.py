"""`benchmarks/gpu_check.py`: its CPU rehearsal end to end, and its bookkeeping.

The rehearsal (`--cpu`: everything tiny, every backend on the CPU) runs
once per suite run, for the suite's own backend (jax or torch). The GPU
check covers JAX and PyTorch only, the backends the GPU machines have, so
under TensorFlow the rehearsal is skipped (the jax and torch runs of the
suite rehearse it).
"""

import importlib.util
import json
import math
import pathlib
import subprocess
import sys

import keras
import pytest

BACKEND = keras.backend.backend()
ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
DATA = ROOT.parent / "shared" / "data"


def _load_script():
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load_script()

_SKIPS = [
    pytest.mark.skipif(
        BACKEND not in gpu_check.BACKENDS,
        reason="gpu_check.py runs JAX and PyTorch only (the GPU machines have no "
        "TensorFlow); the jax and torch runs of the suite rehearse it",
    ),
    pytest.mark.skipif(
        not all((DATA / f).is_file() for f in ("mnist.npz", "binarized_mnist.npz")),
        reason=f"the rehearsal reads the local {DATA}/mnist.npz and binarized_mnist.npz "
        "(never downloaded), which are missing",
    ),
]


def needs_jax_or_torch(test):
    for mark in _SKIPS:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    # Generous limits: the test checks the figures, not the speed of a busy CI machine.
    command = [sys.executable, str(SCRIPT), "--cpu", "--out", str(out), "--data", str(DATA),
               "--backends", BACKEND, "--mnist-backend", BACKEND, "--budget", "900",
               "--limit", "throughput=300", "--limit", "ais=200", "--limit", "mnist=200",
               "--limit", "tests=200"]
    completed = subprocess.run(command, capture_output=True, text=True, cwd=ROOT,
                               timeout=1000)
    summary = json.loads((out / "summary.json").read_text())
    return completed, summary, (out / "summary.txt").read_text(), out


def _finite_positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@needs_jax_or_torch
def test_rehearsal_runs_every_part(rehearsal):
    completed, summary, _, out = rehearsal
    parts = summary["parts"]
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert list(parts) == list(gpu_check.PARTS)
    assert {name: part["status"] for name, part in parts.items()} == dict.fromkeys(
        gpu_check.PARTS, "ok"), json.dumps(parts, indent=1)[-4000:]
    assert summary["mode"] == "cpu" and summary["backends"] == [BACKEND]
    assert summary["tensorflow"] in (gpu_check.TENSORFLOW_MISSING, gpu_check.TENSORFLOW_PRESENT)
    logs = sorted(p.name for p in (out / "logs").iterdir())
    assert logs == sorted(["throughput.log", "ais.log", "mnist.log", f"tests_{BACKEND}.log"])


@needs_jax_or_torch
def test_rehearsal_throughput_compares_fit_with_every_reference(rehearsal):
    _, summary, text, _ = rehearsal
    part = summary["parts"]["throughput"]
    rows = {(r["backend"], r["policy"], r["reference"]): r for r in part["rows"]}
    expected = {(BACKEND, p, ref) for p in gpu_check.POLICIES
                for ref in gpu_check.variants_for(BACKEND, p) if ref != "fit"}
    assert set(rows) == expected
    for row in rows.values():
        for key in ("fit", "reference_speed", "ratio", "ratio_min", "ratio_max"):
            assert _finite_positive(row[key]), row
        assert row["ratio_min"] <= row["ratio"] <= row["ratio_max"]
    rounds = part["rounds"]
    assert all(len(times) == rounds for times in part["round_seconds"].values())
    assert part["settings"]["latent_dim"] == gpu_check.CPU["throughput"]["model"]["latent_dim"]
    assert part["warmup"][BACKEND]["device"] == ("cpu" if BACKEND == "torch" else "cpu:cpu")
    assert "mixed_bfloat16" in text and "fit/ref" in text


@needs_jax_or_torch
def test_rehearsal_ais_throughput(rehearsal):
    _, summary, _, _ = rehearsal
    found = summary["parts"]["ais"]["backends"][BACKEND]
    assert found["backend"] == BACKEND
    assert [row["chunk"] for row in found["rows"]] == [
        int(c) for c in gpu_check.CPU["ais"]["chunk_sizes"].split(",")
    ]
    assert _finite_positive(found["rows"][0]["throughput"])
    assert found["peak_host_rss_bytes"] > 0


@needs_jax_or_torch
def test_rehearsal_mnist_steps_come_from_the_optimizer(rehearsal):
    _, summary, text, _ = rehearsal
    part = summary["parts"]["mnist"]
    assert part["backend"] == BACKEND
    # Simultaneous updates: one step of each player per training step.
    assert part["steps"] == part["generator_steps"] == part["adversary_steps"] > 1
    assert _finite_positive(part["steps_per_second"])
    assert part["model"]["latent_dim"] == 32 and part["model"]["adversary_side_depth"] == 0
    assert part["eval_examples"] == gpu_check.CPU["mnist"]["eval_examples"]
    for key in ("adversarial_elbo", "iw_bound"):
        assert math.isfinite(part["evaluate"][key]) and part["evaluate"][key] < 0
    ais = part["ais"]
    assert math.isfinite(ais["mean"]) and ais["mean"] < 0 and ais["standard_error"] > 0
    low = gpu_check.CPU["mnist"]["ais_calibration_steps"][1]
    assert low <= ais["steps"] <= gpu_check.CPU["mnist"]["ais_steps"]
    assert f"{part['steps']} steps (optimizer.iterations)" in text


@needs_jax_or_torch
def test_rehearsal_tests_part_counts_pytest_outcomes(rehearsal):
    _, summary, text, _ = rehearsal
    counts = summary["parts"]["tests"]["backends"][BACKEND]
    assert counts["passed"] >= 1 and counts["failed"] == counts["errors"] == 0
    assert counts["status"] == "ok" and counts["returncode"] == 0
    assert f"passed {counts['passed']}" in text


def test_pytest_counts_reads_final_and_partial_output():
    final = ("a.py::t1 PASSED\nFAILED a.py::t2 - AssertionError\n"
             "==== 1 failed, 3 passed, 2 skipped, 4 deselected in 12.5s ====\n")
    counts = gpu_check.pytest_counts(final)
    assert (counts["passed"], counts["failed"], counts["skipped"], counts["deselected"]) == (
        3, 1, 2, 4)
    assert counts["failures"] == ["a.py::t2"]
    partial = "[gw0] [ 10%] PASSED a.py::t1\n[gw1] [ 20%] FAILED a.py::t2\n[gw0] PASSED a.py::t3\n"
    counts = gpu_check.pytest_counts(partial)
    assert (counts["passed"], counts["failed"]) == (2, 1)


@pytest.mark.parametrize("argv, message", [
    (["--backends", "tensorflow"], "TensorFlow is not part of this check"),
    (["--parts", "throughput,nothing"], "--parts"),
    (["--limit", "ais"], "PART=SECONDS"),
    (["--train-seconds", "0"], "--train-seconds"),
    (["--data", "/nonexistent"], "mnist.npz"),
])
def test_bad_arguments_raise_before_any_work(tmp_path, argv, message):
    with pytest.raises(ValueError, match=message):
        gpu_check.main(["--cpu", "--out", str(tmp_path / "out")] + argv)
    assert not (tmp_path / "out").exists()


@needs_jax_or_torch
def test_a_part_out_of_time_is_recorded(tmp_path):
    summary = gpu_check.main(["--cpu", "--out", str(tmp_path), "--data", str(DATA),
                              "--backends", BACKEND, "--parts", "ais", "--limit", "ais=0.5",
                              "--verbose", "0"])
    part = summary["parts"]["ais"]
    assert part["status"] == "timeout" and part["returncode"] is None
    assert json.loads((tmp_path / "summary.json").read_text())["parts"]["ais"]["status"] == (
        "timeout")
    assert "[ais] timeout" in (tmp_path / "summary.txt").read_text()
