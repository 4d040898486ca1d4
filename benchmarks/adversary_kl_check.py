"""How well does a trained AVB adversary estimate the KL term?

With Adaptive Contrast the encoder's KL splits into

    KL(q(z|x) || p(z)) = KL(q~(z~|x) || N(0, I)) + E_q[log r(z|x) - log p(z)],

where z~ = (z - mean) / std is the normalised code. The second part is
computed in closed form by the model; the first is what the adversary
estimates: E_q[T(x, z~)]. This script takes a saved AVB + AC model (for
example from `examples/mnist.py --model avb_ac`), draws `--samples` codes
from q(z|x) for each of the first `--images` test images and compares, per
image,

- the adversary's estimate E_q[T(x, z~)], with
- the k-nearest-neighbour estimate of KL(q~ || N(0, I))
  (`keras_avb.evaluation.kl_divergence_knn`, `--samples` draws of each), and
- a lower bound that needs no estimator: the KL of the Gaussian with q~'s
  mean and covariance to N(0, I), 0.5 (tr C + |m|^2 - d - log det C), since
  KL(q~ || N(0, I)) = KL(q~ || N(m, C)) + KL(N(m, C) || N(0, I)). Diagonal
  Adaptive Contrast makes q~'s variances 1 but leaves its correlations, so
  this bound is large when q(z|x) lies close to a subspace.

A calibration line first runs the kNN estimator on Gaussians of known KL
in the same dimension and with the same sample sizes, so that its own bias
can be read off. A negative "adversary - kNN" difference means the
adversary underestimates KL, which makes the model's reported ELBO
optimistic and weakens the KL's pull on the encoder.

The work is done by `keras_avb.evaluation.adversary_kl_check` (and
`keras_avb.evaluation.adversary_kl.knn_calibration`), which this script
calls; a model without Adaptive Contrast is checked too, its adversary's
E_q[T(x, z)] against the kNN estimate of KL(q(z|x) || p(z)) from prior
draws (the Gaussian part is then 0).

Usage (from the repository root):

    KERAS_BACKEND=jax python benchmarks/adversary_kl_check.py \\
        /path/to/avb_ac_8d_mlp.keras --data ../shared/data/mnist.npz
"""

import argparse
import os
import sys

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", help="a saved AVB model (.keras), with or without "
                        "Adaptive Contrast")
    parser.add_argument("--data", default=os.path.join(REPO_ROOT, "..", "shared", "data",
                                                       "mnist.npz"))
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--knn-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the noise (and of the test set's binarization)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras

    import keras_avb
    from keras_avb.datasets import load_binarized_mnist
    from keras_avb.datasets import load_mnist
    from keras_avb.evaluation import adversary_kl_check
    from keras_avb.evaluation.adversary_kl import knn_calibration

    model = keras.saving.load_model(args.model)
    if not isinstance(model, keras_avb.AVB):
        sys.exit(f"{args.model} is not an AVB model.")
    with np.load(args.data, allow_pickle=False) as archive:
        static = {"train", "test"} <= set(archive.files)
    if static:
        _, _, x_test = load_binarized_mnist(args.data)
    else:
        _, (x_test, _) = load_mnist(args.data, binarization="dynamic", seed=args.seed)
    x_test = np.asarray(x_test, "float32")[: args.images]
    dim = int(model.latent_dim)

    print(f"kNN calibration ({dim} dims, {args.samples} vs {args.samples} samples, "
          f"k = {args.knn_k}):")
    for rho, exact, estimate in knn_calibration(dim, args.samples, args.knn_k,
                                                seed=args.seed):
        print(f"  unit-variance Gaussian, correlation {rho}: KL exact {exact:.3f}, "
              f"kNN {estimate:.3f}")

    result = adversary_kl_check(model, x_test, num_samples=args.samples,
                                k=args.knn_k, seed=args.seed)
    # The Gaussian bound on the part the adversary estimates (q~ with AC).
    bound = result.gaussian_lower_bound - result.gaussian_part
    target = "KL(q~||N)" if result.adaptive_contrast else "KL(q||p)"
    for i in range(result.num_examples):
        print(f"image {i:3d}: adversary {result.adversary_part[i]:7.3f}  "
              f"kNN {result.knn_part[i]:7.3f}  Gaussian bound {bound[i]:7.3f}  "
              f"E_q[log r - log p] {result.gaussian_part[i]:7.3f}")
    print(
        f"\nmean over {result.num_examples} images: adversary {target} "
        f"{result.adversary_part.mean():.3f}, kNN {result.knn_part.mean():.3f}, "
        f"adversary - kNN {result.gap_mean:.3f} ± {result.gap_standard_error:.3f} "
        f"(standard error); Gaussian lower bound {bound.mean():.3f}; "
        f"E_q[log r - log p] {result.gaussian_part.mean():.3f}; total KL (adversary) "
        f"{result.kl_adversary.mean():.3f}, (kNN) {result.kl_independent.mean():.3f}"
    )
    return np.stack(
        [result.adversary_part, result.knn_part, result.gaussian_part, bound], axis=1
    )


if __name__ == "__main__":
    main()
