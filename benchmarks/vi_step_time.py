"""Seconds per AVB sampler step on the eight-schools target, under the active backend.

One step is what `examples/eight_schools.py` runs 1500 times: two adversary
updates and one sampler update on 512 samples (the paper's sampler and its
5 x 256 residual adversary, Adaptive Contrast). Ten warm-up steps (tracing,
compilation) are left out of the timing.

Usage (from the repository root):

    KERAS_BACKEND=jax python benchmarks/vi_step_time.py --steps 100
    KERAS_BACKEND=torch python benchmarks/vi_step_time.py --steps 40 --torch-threads 1
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch.set_num_threads (PyTorch only)")
    args = parser.parse_args(argv)

    import keras
    from eight_schools import EVENT_SIZE
    from eight_schools import eight_schools_log_prob

    from keras_avb.vi import fit_posterior

    if keras.backend.backend() == "torch" and args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    fitted = fit_posterior(eight_schools_log_prob, EVENT_SIZE, method="avb", steps=10, seed=0,
                           verbose=0)
    start = time.perf_counter()
    fitted.train(args.steps, verbose=0)
    seconds = (time.perf_counter() - start) / args.steps
    made = int(keras.ops.convert_to_numpy(fitted.model.optimizer.iterations)) - 10
    if made != args.steps:
        raise RuntimeError(f"asked for {args.steps} timed steps; the optimizer made {made}")
    print(f"{keras.backend.backend()}: {seconds * 1000:.1f} ms per sampler step "
          f"({args.steps} steps)")
    return seconds


if __name__ == "__main__":
    main()
