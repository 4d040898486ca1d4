"""The estimators' memory is bounded by one chunk, not by the test set.

`ais_log_likelihood` and `importance_log_likelihood`
(through `evaluate_log_likelihood`, so the proposal's `posterior_moments`
are computed chunk by chunk too) run in a fresh subprocess with the same
Keras backend. For each estimator it evaluates N examples once to warm up
(compilation, thread pools, allocator caches), then N examples and then
10 N examples, and reports how far the peak resident set size rose above
the resident set size before each evaluation. The peak (`VmHWM`) covers
the native allocations of TensorFlow, XLA and PyTorch that `tracemalloc`
does not see; it is reset between evaluations by writing 5 to
`/proc/self/clear_refs`, and where that is not allowed each evaluation
runs in its own subprocess and the peak is `ru_maxrss`.

One chunk holds about ten MB of per-sample rows (`batch_size * samples *
data_dim` floats) and 10 N examples at once over a hundred. Measured on a
shared 2-core CPU, peak growth in MB for N = 60 / for 10 N = 600 examples:

    backend     estimator    chunks of 48   one chunk (batch_size=600)
    jax         importance   45 / 34        38 / 440
    jax         ais          26 / 35        32 / 404
    tensorflow  importance   29 / 29        36 / 354
    tensorflow  ais          81 / 86        99 / 551
    torch       importance   47 / 48        59 / 595
    torch       ais          31 / 31        38 / 395

so with `batch_size=10 * N`, as an unchunked implementation would run,
every case breaks the bound `3 * (growth for N) + 40 MB`.

The same run counts how often each function handed to
`keras_avb.backend.jit` is traced: once per evaluation, even
though the last chunk of each evaluation is padded (N and 10 N are not
multiples of the batch size).

Run one measurement by hand with

    KERAS_BACKEND=jax python -m keras_avb.evaluation.memory_test 48 importance,ais
"""

import gc
import json
import os
import re
import resource
import subprocess
import sys

import keras
import numpy as np
import pytest

from keras_avb import backend

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

NUM_EXAMPLES = 60  # N; the large evaluation has 10 N examples.
BATCH_SIZE = 48  # so that both evaluations end with a padded chunk
DATA_DIM = 256
LATENT_DIM = 4
IMPORTANCE_SAMPLES = 200
AIS_CHAINS = 64  # and as many pilot chains
MB = 2.0**20
# The peak growth for 10 N examples must stay below
# RATIO * (the peak growth for N) + SLACK_MB.
RATIO = 3.0
SLACK_MB = 40.0

METHODS = ["importance", "ais"]


def rows_per_example(method):
    """Decoder rows per example: samples, or estimating and pilot chains."""
    return IMPORTANCE_SAMPLES if method == "importance" else 2 * AIS_CHAINS


# -- the measurement, run in the subprocess ---------------------------------
def _status_bytes(field):
    with open("/proc/self/status") as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1)) * 1024


def _reset_peak():
    """Resets VmHWM to the current RSS; False where the kernel does not allow it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return _status_bytes("VmHWM") <= _status_bytes("VmRSS") + MB


def _peak_bytes(reset):
    if reset:
        return _status_bytes("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _count_traces():
    """Wraps `backend.jit`; returns the list of trace counts it fills.

    Each function handed to `backend.jit` gets an entry that grows each
    time JAX or TensorFlow traces it (on PyTorch: each time it runs).
    """
    traces = []
    jit = backend.jit

    def counting_jit(fn):
        index = len(traces)
        traces.append(0)

        def counted(*args, **kwargs):
            traces[index] += 1
            return fn(*args, **kwargs)

        return jit(counted)

    backend.jit = counting_jit
    return traces


def _evaluator(method, batch_size):
    """`num_examples -> None`, evaluating the first examples of a fixed set."""
    import keras_avb
    from keras_avb.evaluation import ais_log_likelihood
    from keras_avb.evaluation import evaluate_log_likelihood

    keras.utils.set_random_seed(0)
    x_in = keras.Input((DATA_DIM,))
    h = keras.layers.Dense(8, activation="tanh")(x_in)
    encoder = keras.Model(
        x_in, [keras.layers.Dense(LATENT_DIM)(h), keras.layers.Dense(LATENT_DIM)(h)]
    )
    decoder = keras.Sequential(
        [
            keras.Input((LATENT_DIM,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(DATA_DIM),
        ]
    )
    model = keras_avb.VAE(encoder, decoder, likelihood="bernoulli")
    rng = np.random.default_rng(0)
    # uint8 data: the evaluators cast it to float32 one chunk at a time.
    x = (rng.random((10 * NUM_EXAMPLES, DATA_DIM)) < 0.3).astype("uint8")
    mean = rng.normal(size=(len(x), LATENT_DIM)).astype("float32")
    variance = np.full((len(x), LATENT_DIM), 0.5, "float32")

    def run(num_examples):
        if method == "importance":
            # All samples of an example at once.
            evaluate_log_likelihood(
                model, x[:num_examples], method="importance",
                num_samples=IMPORTANCE_SAMPLES, samples_per_batch=IMPORTANCE_SAMPLES,
                batch_size=batch_size, seed=0,
            )
        else:
            ais_log_likelihood(
                decoder, "bernoulli", None, x[:num_examples],
                initial=(mean[:num_examples], variance[:num_examples]),
                num_steps=2, num_chains=AIS_CHAINS, num_leapfrog_steps=1,
                batch_size=batch_size, seed=0,
            )

    return run


def measure(methods, batch_size, sizes=None):
    """Peak growth and traces of each method, and whether the peak was reset.

    Returns `({method: [peak growth in MB per size]}, {method: [trace
    count of each compiled function]}, reset)`. Each method evaluates
    `NUM_EXAMPLES` examples once to warm up, then `sizes` examples in turn
    (by default N and 10 N).
    """
    if BACKEND == "torch":
        import torch

        torch.set_num_threads(1)
    sizes = sizes or [NUM_EXAMPLES, 10 * NUM_EXAMPLES]
    counts = _count_traces()
    growth, traces = {}, {}
    for method in methods:
        run = _evaluator(method, batch_size)
        run(NUM_EXAMPLES)
        growth[method] = []
        first = len(counts)
        for size in sizes:
            gc.collect()
            reset = _reset_peak()
            before = _status_bytes("VmRSS")
            run(size)
            growth[method].append((_peak_bytes(reset) - before) / MB)
        traces[method] = counts[first:]
        del run
        gc.collect()
    return growth, traces, reset


def _main(argv):
    batch_size, methods = int(argv[0]), argv[1].split(",")
    sizes = [int(s) for s in argv[2:]] or None
    growth, traces, reset = measure(methods, batch_size, sizes)
    print(json.dumps({"growth_mb": growth, "traces": traces, "reset": reset}))


# -- the tests ----------------------------------------------------------------
# Large blocks go straight to mmap and back to the system when freed, and
# there are few malloc arenas: the resident set then follows what is
# allocated rather than what glibc keeps cached per thread (which made the
# peak under TensorFlow's thread pools creep up chunk after chunk).
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_ARENA_MAX": "2"}


def measure_in_subprocess(methods, batch_size, sizes=(), cache_dir=None):
    """`measure` in a fresh Python with the same backend."""
    env = dict(os.environ, KERAS_BACKEND=BACKEND, **MALLOC_ENV)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")])
    if cache_dir is not None:
        # Each evaluation compiles its functions anew; JAX's persistent
        # cache makes the later compilations of the same programs cheap.
        env.update(
            JAX_COMPILATION_CACHE_DIR=str(cache_dir),
            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
            JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="-1",
        )
    command = [
        sys.executable, "-m", "keras_avb.evaluation.memory_test",
        str(batch_size), ",".join(methods), *[str(s) for s in sizes],
    ]
    result = subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stderr[-4000:]
    output = json.loads(result.stdout.strip().splitlines()[-1])
    return output["growth_mb"], output["traces"], output["reset"]


def peak_growth(batch_size=BATCH_SIZE, methods=METHODS, cache_dir=None):
    """`({method: (growth for N, growth for 10 N)}, traces)`, growth in MB."""
    growth, traces, reset = measure_in_subprocess(methods, batch_size, cache_dir=cache_dir)
    if not reset:
        # ru_maxrss cannot be reset: one subprocess per method and size.
        growth = {
            method: [
                measure_in_subprocess([method], batch_size, [size], cache_dir)[0][method][0]
                for size in (NUM_EXAMPLES, 10 * NUM_EXAMPLES)
            ]
            for method in methods
        }
    return {method: tuple(values) for method, values in growth.items()}, traces


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    if not os.path.exists("/proc/self/status"):
        pytest.skip("reads the resident set size from /proc/self/status (Linux)")
    return peak_growth(cache_dir=tmp_path_factory.mktemp("jax_cache"))


@pytest.mark.parametrize("method", METHODS)
def test_ten_times_more_examples_do_not_take_ten_times_the_memory(method, measured):
    # The decoder's output for 10 N examples at once would break the bound
    # even if the evaluation of N examples held just one chunk of it.
    chunk_mb = BATCH_SIZE * rows_per_example(method) * DATA_DIM * 4 / MB
    assert 10 * NUM_EXAMPLES / BATCH_SIZE * chunk_mb > RATIO * chunk_mb + SLACK_MB
    small, large = measured[0][method]
    print(f"{BACKEND} {method}: peak growth {small:.1f} MB for {NUM_EXAMPLES} "
          f"examples, {large:.1f} MB for {10 * NUM_EXAMPLES}")
    assert large < RATIO * max(small, 0.0) + SLACK_MB, (small, large)


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch runs eagerly, nothing is traced")
@pytest.mark.parametrize("method", METHODS)
def test_the_padded_last_chunk_reuses_the_compiled_function(method, measured):
    traces = measured[1][method]
    # One or two functions per evaluation, each traced once although the
    # last chunk of both evaluations is padded.
    assert NUM_EXAMPLES % BATCH_SIZE and 10 * NUM_EXAMPLES % BATCH_SIZE
    assert traces and all(count == 1 for count in traces), traces


def test_posterior_moments_in_chunks_match_one_chunk():
    import keras_avb
    from keras_avb.evaluation import posterior_moments

    x_in = keras.Input((4,))
    encoder = keras.Model(x_in, [keras.layers.Dense(2)(x_in), keras.layers.Dense(2)(x_in)])
    decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(4)])
    model = keras_avb.VAE(encoder, decoder, likelihood="gaussian")
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    whole = posterior_moments(model, x)
    chunked = posterior_moments(model, x, batch_size=3)
    for a, b in zip(whole, chunked):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    _main(sys.argv[1:])
