"""`benchmarks/eight_schools_ablation.py`: a tiny run end to end (every backend)."""

import importlib.util
import json
import pathlib

import keras

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "eight_schools_ablation.py"


def load_script():
    spec = importlib.util.spec_from_file_location("eight_schools_ablation", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_defaults_are_fit_posteriors():
    from keras_avb.vi import api

    args = load_script().parse_args([])
    assert args.steps == api.DEFAULT_STEPS["avb"]
    assert args.learning_rate == api.DEFAULT_LEARNING_RATES["avb"]
    assert args.schedule == api.DEFAULT_SCHEDULES["avb"]


def test_tiny_run_writes_its_line(tmp_path):
    output = tmp_path / "runs.jsonl"
    result = load_script().main([
        "--steps", "3", "--batch-size", "16", "--adversary-units", "8",
        "--adversary-blocks", "1", "--hidden-units", "8", "--repeats", "2",
        "--adversary-rate-factor", "3", "--tag", "tiny", "--output", str(output),
    ])
    assert result["steps"] == 3  # the optimizer's counter
    assert result["backend"] == keras.backend.backend()
    assert len(result["kl_q_truth_k1_repeats"]) == 2
    assert result["kl_q_truth_k1_mean"] > 0  # an untrained sampler is far off
    assert 0.0 <= result["p_tau_positive"] <= 1.0
    assert json.loads(output.read_text().splitlines()[-1]) == result
