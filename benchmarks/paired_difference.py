"""Paired comparison of two models' per-image log-likelihood estimates.

`examples/mnist.py` saves the AIS estimate of every evaluated test image as
`ais_log_px_<N>.npy`. Two runs with the same `--seed` evaluate the same
binarized test images, so their difference can be taken image by image:
its standard error is far smaller than that of either mean, because most
of the spread between images is shared.

Usage:

    python benchmarks/paired_difference.py runs/avb_ac/ais_log_px_1000.npy \\
        runs/vae/ais_log_px_1000.npy
"""

import argparse

import numpy as np


def paired_difference(a, b):
    """`(mean of a - b, its standard error, number of images)`.

    >>> paired_difference(np.array([1.0, 2.0, 3.0]), np.array([0.5, 1.5, 2.5]))[0]
    0.5
    """
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"Need two 1-d arrays of the same length; got {a.shape} and {b.shape}."
        )
    difference = a - b
    error = difference.std(ddof=1) / np.sqrt(len(difference))
    return float(difference.mean()), float(error), len(difference)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", help=".npy of per-image log p(x), model A")
    parser.add_argument("second", help=".npy of per-image log p(x), model B")
    args = parser.parse_args(argv)
    a, b = np.load(args.first), np.load(args.second)
    mean, error, n = paired_difference(a, b)
    print(f"A: {a.mean():.2f}, B: {b.mean():.2f}; A - B = {mean:.2f} ± {error:.2f} "
          f"(paired standard error over {n} images)")
    return mean, error


if __name__ == "__main__":
    main()
