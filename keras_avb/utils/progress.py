"""Progress reporting of long-running work, following Keras' conventions.

The long-running functions of keras_avb (the log-likelihood estimators,
`fit_posterior`, the decoder export) take `verbose="auto"` by default, as
`keras.Model.fit` does, and resolve it the same way: `"auto"` becomes 1, a
progress bar (`keras.utils.Progbar`) or progress lines; 0 is silent; 2
prints one line when the work is done.

Like Keras' own progress bars, the output goes to stdout while Keras'
interactive logging is on (the default) and to absl's log (level INFO,
hidden by default) after `keras.config.disable_interactive_logging()`, the
switch Keras provides for servers and batch jobs.
"""

import numbers

import keras
from absl import logging

VERBOSE_VALUES = ("auto", 0, 1, 2)


def resolve_verbose(verbose, name="verbose"):
    """`verbose` as 0, 1 or 2, with `"auto"` resolved to 1 as Keras does.

    Raises:
        ValueError: when `verbose` is not `"auto"`, 0, 1, 2 or a bool.

    Example:

    >>> resolve_verbose("auto"), resolve_verbose(0), resolve_verbose(False)
    (1, 0, 0)
    """
    if isinstance(verbose, str):
        if verbose == "auto":
            return 1
    elif isinstance(verbose, bool):
        return int(verbose)
    elif isinstance(verbose, numbers.Integral) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ValueError(
        f"`{name}` must be 'auto', 0 (silent), 1 (progress bar) or 2 (one "
        f"line at the end). Received: {verbose!r}"
    )


def print_msg(message):
    """Prints a progress line where Keras prints its progress bars."""
    if keras.config.is_interactive_logging_enabled():
        print(message, flush=True)
    else:
        logging.info(message)
