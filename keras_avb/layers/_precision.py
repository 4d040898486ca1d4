"""Dtype helpers shared by the layers."""

HALF_PRECISION = ("float16", "bfloat16")


def precise_dtype(compute_dtype):
    """The dtype for numerically sensitive parts of a layer's computation.

    Batch moments, Cholesky factors and log-densities lose too much in half
    precision: under a float16 or bfloat16 policy they are computed in
    float32 (as `keras.layers.BatchNormalization` computes its moments) and
    cast back to the compute dtype; any other dtype is used as it is.

    >>> precise_dtype("float16"), precise_dtype("float64")
    ('float32', 'float64')
    """
    return "float32" if compute_dtype in HALF_PRECISION else compute_dtype
