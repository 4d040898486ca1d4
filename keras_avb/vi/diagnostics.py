"""Convergence diagnostics of Markov chains: split r-hat and effective sample size.

Both follow Vehtari, Gelman, Simpson, Carpenter and Bürkner (2021),
"Rank-normalization, folding, and localization: an improved R-hat for
assessing convergence of MCMC" (without the rank normalisation), as Stan
and ArviZ compute them: every chain is split in two halves, so that a chain
that drifts counts as two chains that disagree.

They are NumPy functions of stored samples, so they run the same on every
backend.
"""

import numpy as np


def _split_chains(chains):
    chains = np.asarray(chains, dtype="float64")
    if chains.ndim == 2:
        chains = chains[..., None]
    if chains.ndim != 3:
        raise ValueError(
            "`chains` must have shape (num_results, num_chains) or "
            f"(num_results, num_chains, event_size). Received: {chains.shape}"
        )
    num_results = chains.shape[0]
    if num_results < 4:
        raise ValueError(
            f"Need at least 4 results per chain to split them. Received: {num_results}"
        )
    half = num_results // 2
    return np.concatenate([chains[:half], chains[half: 2 * half]], axis=1)


def potential_scale_reduction(chains):
    """Split r-hat of each coordinate: near 1 when the chains agree.

    Args:
        chains: array `(num_results, num_chains)` or `(num_results,
            num_chains, event_size)`, result-major (as
            `run_hmc(...)[0].reshape(num_results, num_chains, -1)`).

    Returns:
        An array `(event_size,)` (or a float for 2-d input). Values above
        about 1.01 say the chains have not mixed.

    Example:

    >>> rng = np.random.default_rng(0)
    >>> mixed = rng.normal(size=(1000, 4))
    >>> round(float(potential_scale_reduction(mixed)), 2)
    1.0
    >>> stuck = mixed + np.arange(4)  # each chain around its own mean
    >>> bool(potential_scale_reduction(stuck) > 1.5)
    True
    """
    split = _split_chains(chains)
    n = split.shape[0]
    within = split.var(axis=0, ddof=1).mean(axis=0)
    between = n * split.mean(axis=0).var(axis=0, ddof=1)
    pooled = (n - 1) / n * within + between / n
    rhat = np.sqrt(pooled / within)
    return float(rhat[0]) if np.ndim(chains) == 2 else rhat


def effective_sample_size(chains):
    """Effective number of independent draws of each coordinate.

    The autocorrelations of the split chains are combined across chains and
    summed in pairs until a pair turns negative (Geyer's initial positive
    sequence).

    Args:
        chains: array as for `potential_scale_reduction`.

    Returns:
        An array `(event_size,)` (or a float for 2-d input).

    Example: an AR(1) chain with coefficient 0.5 carries
    (1 - 0.5) / (1 + 0.5) = 1/3 of its length in independent draws.

    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros((20000, 4))
    >>> for t in range(1, 20000):
    ...     x[t] = 0.5 * x[t - 1] + rng.normal(size=4)
    >>> round(float(effective_sample_size(x)) / x.size, 1)
    0.3
    """
    split = _split_chains(chains)
    n, m, _ = split.shape
    centred = split - split.mean(axis=0)
    # Autocovariance of every chain at every lag, through the FFT.
    size = 2 ** int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(centred, n=size, axis=0)
    autocov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=0)[:n] / n
    within = split.var(axis=0, ddof=1).mean(axis=0)
    between = n * split.mean(axis=0).var(axis=0, ddof=1)
    pooled = (n - 1) / n * within + between / n
    rho = 1.0 - (within - autocov.mean(axis=1)) / pooled
    rho[0] = 1.0
    ess = np.empty(rho.shape[1])
    for coordinate in range(rho.shape[1]):
        total, lag = 0.0, 1
        while lag + 1 < n:
            pair = rho[lag, coordinate] + rho[lag + 1, coordinate]
            if pair < 0:
                break
            total += pair
            lag += 2
        ess[coordinate] = n * m / (1.0 + 2.0 * total)
    return float(ess[0]) if np.ndim(chains) == 2 else ess
