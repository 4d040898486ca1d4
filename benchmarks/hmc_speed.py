"""Wall time of `keras_avb.vi.run_hmc` per implementation on eight schools.

Runs each implementation twice (the first call includes more compilation)
and prints one line per call: seconds, acceptance, the largest split
r-hat, the smallest effective sample size, P(tau > 0) and the standard
deviation of mu, so that speed and agreement are read together.

Usage (one core, as BENCHMARKS.md's rows):

    OMP_NUM_THREADS=1 KERAS_BACKEND=jax taskset -c 0 \\
        python benchmarks/hmc_speed.py --implementations keras tfp
"""

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--implementations", nargs="+", default=["keras", "tfp"])
    parser.add_argument("--chains", type=int, default=256)
    parser.add_argument("--burnin", type=int, default=1000)
    parser.add_argument("--results", type=int, default=2000)
    args = parser.parse_args(argv)
    import keras

    import eight_schools
    from keras_avb.vi import run_hmc

    for implementation in args.implementations:
        for call in range(2):
            start = time.perf_counter()
            samples, info = run_hmc(
                eight_schools.eight_schools_log_prob, eight_schools.EVENT_SIZE,
                num_results=args.results, num_chains=args.chains,
                num_burnin_steps=args.burnin, num_leapfrog_steps=10, step_size=0.1,
                seed=call, implementation=implementation,
            )
            seconds = time.perf_counter() - start
            print(
                f"{keras.backend.backend()} {implementation} call {call}: {seconds:.1f} s, "
                f"acceptance {info['acceptance_rate']:.2f}, max r-hat {info['max_rhat']:.3f}, "
                f"min ESS {info['min_ess']:.0f}, P(tau > 0) {np.mean(samples[:, 1] > 0):.2f}, "
                f"sd(mu) {samples[:, 0].std():.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
