"""How well does a trained AVB + AC adversary estimate the KL term?

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
    parser.add_argument("model", help="a saved AVB model (.keras) with Adaptive Contrast")
    parser.add_argument("--data", default=os.path.join(REPO_ROOT, "..", "shared", "data",
                                                       "mnist.npz"))
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--samples", type=int, default=4000)
    parser.add_argument("--knn-k", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the noise (and of the test set's binarization)")
    return parser.parse_args(argv)


def calibration(dim, samples, k, rng):
    """kNN estimates of KL(N(0, C) || N(0, I)) beside the exact value.

    C has unit variances and equal correlations rho, so p has the same
    per-dimension moments as N(0, I), as Adaptive Contrast's normalised
    codes do: KL = -0.5 log det C.
    """
    from keras_avb.evaluation import kl_divergence_knn

    rows = []
    for rho in (0.0, 0.3, 0.6):
        cov = (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))
        exact = -0.5 * np.linalg.slogdet(cov)[1]
        p = rng.multivariate_normal(np.zeros(dim), cov, size=samples)
        q = rng.normal(0.0, 1.0, (samples, dim))
        rows.append((rho, exact, kl_divergence_knn(p, q, k=k)))
    return rows


def gaussian_kl_bound(samples):
    """KL(N(m, C) || N(0, I)) for the sample mean m and covariance C: a lower
    bound on KL(q || N(0, I)) for the distribution q of `samples`.

    >>> rng = np.random.default_rng(0)
    >>> round(gaussian_kl_bound(rng.normal(size=(100000, 2)) * [1.0, 2.0]), 2)
    0.81
    """
    mean = samples.mean(axis=0)
    covariance = np.cov(samples, rowvar=False)
    dim = samples.shape[1]
    log_det = np.linalg.slogdet(covariance)[1]
    return float(0.5 * (np.trace(covariance) + mean @ mean - dim - log_det))


def main(argv=None):
    args = parse_args(argv)
    import keras
    from keras import ops

    import keras_avb  # noqa: F401 (registers the serializable classes)
    from keras_avb.datasets import load_binarized_mnist
    from keras_avb.datasets import load_mnist
    from keras_avb.evaluation import kl_divergence_knn

    model = keras.saving.load_model(args.model)
    if not getattr(model, "adaptive_contrast", False):
        sys.exit(f"{args.model} is not an AVB model with Adaptive Contrast.")
    with np.load(args.data, allow_pickle=False) as archive:
        static = {"train", "test"} <= set(archive.files)
    if static:
        _, _, x_test = load_binarized_mnist(args.data)
    else:
        _, (x_test, _) = load_mnist(args.data, binarization="dynamic", seed=args.seed)
    x_test = np.asarray(x_test, "float32")[: args.images]
    dim = int(model.latent_dim)
    rng = np.random.default_rng(args.seed)

    print(f"kNN calibration ({dim} dims, {args.samples} vs {args.samples} samples, "
          f"k = {args.knn_k}):")
    for rho, exact, estimate in calibration(dim, args.samples, args.knn_k, rng):
        print(f"  unit-variance Gaussian, correlation {rho}: KL exact {exact:.3f}, "
              f"kNN {estimate:.3f}")

    seed = keras.random.SeedGenerator(args.seed)
    rows = []
    for i, image in enumerate(x_test):
        x = ops.convert_to_tensor(np.repeat(image[None], args.samples, axis=0))
        eps = keras.random.normal((args.samples,) + tuple(model.noise_shape), seed=seed)
        z, mean, variance = model.encoder([x, eps])
        z_norm, log_r = model.contrast([z, mean, variance])
        t = ops.reshape(model.adversary([x, z_norm]), (-1,))
        log_p = model.prior.log_prob(ops.cast(z, "float32"))
        z_norm = np.asarray(ops.convert_to_numpy(z_norm), "float64")
        adversary_kl = float(np.mean(ops.convert_to_numpy(t)))
        reference = rng.normal(size=z_norm.shape)
        knn_kl = kl_divergence_knn(z_norm, reference, k=args.knn_k)
        gaussian_part = float(np.mean(ops.convert_to_numpy(log_r - log_p)))
        bound = gaussian_kl_bound(z_norm)
        rows.append((adversary_kl, knn_kl, gaussian_part, bound))
        print(f"image {i:3d}: adversary {adversary_kl:7.3f}  kNN {knn_kl:7.3f}  "
              f"Gaussian bound {bound:7.3f}  E_q[log r - log p] {gaussian_part:7.3f}",
              flush=True)

    rows = np.asarray(rows)
    difference = rows[:, 0] - rows[:, 1]
    print(
        f"\nmean over {len(rows)} images: adversary KL(q~||N) {rows[:, 0].mean():.3f}, "
        f"kNN {rows[:, 1].mean():.3f}, adversary - kNN {difference.mean():.3f} "
        f"± {difference.std(ddof=1) / np.sqrt(len(rows)):.3f} (standard error); "
        f"Gaussian lower bound {rows[:, 3].mean():.3f}; "
        f"E_q[log r - log p] {rows[:, 2].mean():.3f}; total KL (adversary) "
        f"{(rows[:, 0] + rows[:, 2]).mean():.3f}, (kNN) {(rows[:, 1] + rows[:, 2]).mean():.3f}"
    )
    return rows


if __name__ == "__main__":
    main()
